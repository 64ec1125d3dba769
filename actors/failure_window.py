"""Failure-window bookkeeping: the sliding window per `bundle_sha256`."""

from __future__ import annotations

from typing import Any

from actors.base import SupervisedActor
from config.schema import Config
from messages.commands import ClearFailures, FailureVerdict, RecordFailure
from messages.records import FailureRecord
from state.clock import StateClock, fs_now
from state.failures import FailureStore


def judge(store: FailureStore, sha: str, record: FailureRecord, config: Config,
          now: float | None = None, clock: StateClock | None = None) -> FailureVerdict:
    """Store `record` durably, then judge the window of `sha` as it stands on
    disk: quarantine once `max_failures` fall within `window_seconds`, else wait
    out the backoff. OSError propagates (nothing was decided).

    `now` is on the state root's clock (`clock`, else `fs_now`; `state/clock.py`):
    records count from when they were written, whatever clock their instance had,
    and the not-before time is on the clock that `Claims.claim_due` reads it with."""
    if now is None:
        now = clock.now() if clock is not None else fs_now(store.directory)
    store.record(sha, record)
    window = config.failure_window
    recent = store.in_window(sha, window.window_seconds, now)
    count = len(recent)
    rule = (f"{window.max_failures} failures of the same bundle_sha256 within "
            f"{window.window_seconds:g} seconds")
    if count >= window.max_failures:
        return FailureVerdict(quarantine=True, failures=recent, not_before=now, rule=rule)
    delay = config.backoff.delay(count)
    return FailureVerdict(quarantine=False, failures=recent, not_before=now + delay, rule=rule)


class FailureWindow(SupervisedActor):
    """Records failures on disk (shared by all instances, kept across restarts)
    and decides: quarantine once `max_failures` fall within `window_seconds`,
    else wait out the backoff.

    The records on disk are the truth; this actor keeps no memory of its own, so
    a crash or a peer instance changes nothing about the decision. A record that
    cannot be written raises OSError to the asker, who keeps the handoff.
    """

    kind = "failure_window"

    def start_up(self) -> None:
        self.store = FailureStore(self.runtime.layout.failures)
        self.clock = StateClock(self.runtime.layout.instances)

    def handle(self, message: Any) -> Any:
        match message:
            case RecordFailure(bundle_sha256=sha, record=record):
                return self.record(sha, record)
            case ClearFailures(bundle_sha256=sha):
                return self.store.clear(sha)
        raise TypeError(f"failure window cannot handle {type(message).__name__}")

    def record(self, sha: str, record: Any, now: float | None = None) -> FailureVerdict:
        """Store the record, then judge the window as it stands on disk."""
        return judge(self.store, sha, record, self.config, now, self.clock)
