"""The `llm` strategy's circuit breaker, on disk so that every instance and
`status` see it.

After `[llm] circuit_failures` failed requests in a row (timeouts, connection
errors, 5xx, refusals other than 429, replies that are not chat-completions), the
circuit *opens*: nobody on this state root asks the model for
`circuit_open_seconds`. Then one request may go (half-open); a success closes it,
a failure opens it again for another period.

The state is one small JSON file, `llm/circuit.json`, replaced atomically. Two
instances failing at the same moment may lose one count of the other's (a
read-modify-write without a lock): the circuit then opens one failure later. It
is a guard against hammering a dead endpoint, not a budget; the budgets are the
ledger's (`state.llm_ledger`).
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from repairlab.messages.records import rfc3339
from repairlab.state.fsops import atomic_write


class CircuitState(msgspec.Struct, kw_only=True):
    """`llm/circuit.json`. `open_until` is a POSIX time, 0 when closed."""

    failures: int = 0
    open_until: float = 0.0
    opened_at: float = 0.0
    reason: str = ""

    def is_open(self, now: float) -> bool:
        """Open and not yet past its period."""
        return self.open_until > now

    def describe(self, now: float) -> str:
        """One line for `status`."""
        if self.is_open(now):
            return (f"open until {rfc3339(self.open_until)} after {self.failures} failures "
                    f"in a row (last: {self.reason})")
        if self.open_until:
            return f"half-open: the next request decides (last: {self.reason})"
        if self.failures:
            return f"closed ({self.failures} failures in a row; last: {self.reason})"
        return "closed"


_decoder = msgspec.json.Decoder(CircuitState)


class Circuit:
    """Reads and updates `llm/circuit.json` under the state root.

    A file that is missing or does not decode reads as closed (the circuit only
    protects the endpoint; it must never wedge the strategy). OSError on writing
    propagates.
    """

    def __init__(self, root: Path, *, failures_to_open: int, open_seconds: float) -> None:
        self.path = Path(root) / "llm" / "circuit.json"
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds

    def state(self) -> CircuitState:
        """The state as stored (closed when there is none)."""
        try:
            return _decoder.decode(self.path.read_bytes())
        except (OSError, msgspec.DecodeError):
            return CircuitState()

    def allows(self, now: float | None = None) -> bool:
        """True unless the circuit is open."""
        return not self.state().is_open(time.time() if now is None else now)

    def failure(self, reason: str, now: float | None = None) -> bool:
        """Count one failed request; returns True exactly when this failure opened
        the circuit (so that the caller says so once)."""
        now = time.time() if now is None else now
        state = self.state()
        state.failures += 1
        state.reason = reason[:300]
        opened = False
        if state.failures >= self.failures_to_open and not state.is_open(now):
            state.open_until = now + self.open_seconds
            state.opened_at = now
            opened = True
        self._write(state)
        return opened

    def success(self) -> bool:
        """A request got a good reply: close the circuit. Returns True when it had
        been open or half-open (so that the caller says it closed)."""
        state = self.state()
        if state.failures == 0 and not state.open_until:
            return False
        self._write(CircuitState())
        return bool(state.open_until)

    def _write(self, state: CircuitState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, msgspec.json.encode(state), durable=False)


__all__ = ["Circuit", "CircuitState"]
