"""Claims, backoff waits and heartbeats: Maildir-style, by atomic renames only.

- A handoff is claimed by renaming `queue/NAME` into `claims/<instance>/`; of
  several instances racing for it, the kernel lets exactly one rename succeed.
- A handoff that failed waits in `deferred/` with its mtime set to the time it
  may be tried again; any instance claims it from there when that time has come.
- Each instance rewrites `instances/<id>.json` every few seconds. The claims of
  an instance whose heartbeat has not changed for the lease, by this instance's
  own monotonic clock (`state/liveness.py`), go back to `queue/`, by rename, so
  of several instances doing this at once, one succeeds for each handoff. Then its
  empty claims directory and its heartbeat go too.
- Times of files (not-before, age) are read against the state root's clock
  (`state/clock.py`), never against this process's wall clock.

The attempt key of a claimed handoff is its inode and mtime: renames keep both,
so a redo of the same attempt (after a crash) has the same key, while deferring
sets a new mtime and so starts a new attempt.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from repairlab.messages.records import MetricLine
from repairlab.state.clock import StateClock
from repairlab.state.fsops import atomic_write, move_unique
from repairlab.state.layout import Layout
from repairlab.state.liveness import PeerWatch
from repairlab.state.settle import NOTES, SettleNotes, finish_settling


def is_handoff_name(name: str) -> bool:
    """Queue entries are `*.json` not starting with `.` (SPEC §1)."""
    return name.endswith(".json") and not name.startswith(".")


def attempt_key(path: Path) -> str:
    """The identity of one attempt at one handoff file (see module doc)."""
    st = os.lstat(path)
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}"


class Claims:
    """One instance's view of claims, deferrals and heartbeats."""

    def __init__(self, layout: Layout, instance: str, *, isolation: str = "",
                 clock: StateClock | None = None) -> None:
        self.layout = layout
        self.instance = instance
        # What the heartbeat says of the candidates' isolation (for `status`).
        self.isolation = isolation
        self.mine = layout.claims_of(instance)
        self.mine.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.clock = clock or StateClock(layout.instances)
        self.peers = PeerWatch(layout, instance)

    # -- claiming --------------------------------------------------------------

    def claim(self, name: str, *, source: Path | None = None) -> Path | None:
        """Claim `queue/NAME` (or `source/NAME`). Returns the claimed path, or
        None when another instance was first or the file is gone.

        If this instance's claims directory is gone (a peer took it for dead
        while it was paused, and cleaned up), it is made again."""
        src = (source or self.layout.queue) / name
        try:
            return move_unique(src, self.mine, name)
        except FileNotFoundError:
            if os.path.isdir(self.mine):
                return None
        self.mine.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            return move_unique(src, self.mine, name)
        except FileNotFoundError:
            return None

    def claim_due(self, now: float | None = None, limit: int = 1000,
                  horizon: float | None = None) -> Iterator[str]:
        """Names in `deferred/` whose wait is over, oldest due first, by the state
        root's clock (`now`, default `self.clock`).

        With `horizon` (the longest wait any deferral sets: `[backoff]
        max_seconds`), a not-before further ahead than that is due too: it was set
        before the clock stepped back, and waiting for it would stall the handoff
        for as long as the step."""
        if now is None:
            now = self.clock.now()
            raw = self.clock.last_raw
        else:
            raw = now
        far = None if horizon is None else raw + horizon + 1.0
        due = []
        try:
            with os.scandir(self.layout.deferred) as it:
                for entry in it:
                    if not is_handoff_name(entry.name):
                        continue
                    try:
                        mtime = entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:
                        continue
                    if mtime <= now or (far is not None and mtime > far):
                        due.append((mtime, entry.name))
        except FileNotFoundError:
            return iter(())
        due.sort()
        return iter([name for _, name in due[:limit]])

    def held(self) -> list[Path]:
        """Every handoff this instance holds now."""
        try:
            return sorted(Path(e.path) for e in os.scandir(self.mine)
                          if not e.name.startswith("."))
        except FileNotFoundError:
            return []

    # -- giving back -------------------------------------------------------------

    def requeue(self, claimed: Path, now: float | None = None) -> Path | None:
        """Give a claimed handoff back, untouched (same attempt key).

        It goes to `queue/`, unless its mtime lies in the future: then a deferral
        was cut short between setting the not-before time and the move, and it
        goes to `deferred/` to finish waiting (so the failure it recorded is not
        followed by an early retry counted as a new attempt).
        """
        now = self.clock.now() if now is None else now
        try:
            mtime = os.lstat(claimed).st_mtime
            target = self.layout.deferred if mtime > now + 0.001 else self.layout.queue
            return move_unique(claimed, target, claimed.name)
        except FileNotFoundError:
            return None

    def defer(self, claimed: Path, not_before: float) -> Path | None:
        """Park a claimed handoff in `deferred/` until `not_before` (its mtime)."""
        try:
            os.utime(claimed, (not_before, not_before), follow_symlinks=False)
            return move_unique(claimed, self.layout.deferred, claimed.name)
        except FileNotFoundError:
            return None

    def recover_own(self) -> int:
        """At start: everything this instance id held goes back to the queue.
        (Telemetry, started first, has finished the settling of what was cut
        short: see `state/settle.py`.)"""
        return sum(1 for path in self.held() if self.requeue(path) is not None)

    def settling(self, path: Path) -> bool:
        """Whether telemetry is settling the claim `path` (it has a settle note)."""
        return SettleNotes(self.layout, self.instance).has(path.name)

    # -- liveness ----------------------------------------------------------------

    def heartbeat(self, now: float | None = None) -> None:
        """Prove this instance is alive (the file's mtime is the proof).

        On a full disk (ENOSPC, EDQUOT), where no new file can be written, the
        existing heartbeat's mtime is set instead (a metadata change that needs no
        data block), so peers do not take this instance for dead. If that fails too,
        or the root is read-only, the original error propagates."""
        now = time.time() if now is None else now
        beat: dict[str, object] = {"instance": self.instance, "pid": os.getpid(),
                                   "host": socket.gethostname(), "ts": now}
        if self.isolation:
            beat["isolation"] = self.isolation
        data = json.dumps(beat).encode()
        path = self.layout.instances / f"{self.instance}.json"
        try:
            atomic_write(path, data, durable=False, point="claims.heartbeat")
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            try:
                os.utime(path, (now, now), follow_symlinks=False)
            except OSError:
                raise exc from None

    def forget_heartbeat(self) -> None:
        """On a clean exit: this instance is gone and holds nothing. Its heartbeat
        goes, and its claims directory if it is empty (with the default instance
        id every process has its own: left behind, they would pile up)."""
        try:
            os.unlink(self.layout.instances / f"{self.instance}.json")
        except FileNotFoundError:
            pass
        _remove_if_empty(self.mine)

    def recover_stale(self, lease_seconds: float,
                      append: Callable[[MetricLine], None] | None = None) -> int:
        """Take over from every peer that is dead by `PeerWatch` (its heartbeat
        unchanged for `lease_seconds` of this instance's monotonic clock): finish
        the settling it was cut short in (lines through `append`, when given),
        give its claims back to the queue, then remove its claims directory if it
        is empty and its heartbeat if it is still the one judged. Returns how many
        handoffs came back. Never called before a peer has been watched for a
        whole lease, so a live peer (whatever its clock says) is never robbed."""
        recovered = 0
        for peer in self.peers.observe(lease_seconds):
            owner = self.layout.claims_of(peer)
            if append is not None:
                finish_settling(self.layout, peer, append)
            try:
                entries = list(os.scandir(owner))
            except FileNotFoundError:
                entries = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                # requeue() is a rename: of several instances doing this at once,
                # one moves each handoff and the others find it gone.
                if self.requeue(Path(entry.path)) is not None:
                    recovered += 1
            self._clean_up(peer)
        return recovered

    def _clean_up(self, peer: str) -> None:
        """A dead peer's leftovers, once empty: its claims directory (and its
        settle notes' directory), and its heartbeat unless it changed meanwhile."""
        heartbeat = self.layout.instances / f"{peer}.json"
        judged = self.peers.seen.get(peer)
        owner = self.layout.claims_of(peer)
        _remove_if_empty(owner)
        if judged is not None and not os.path.lexists(owner):
            try:
                st = os.stat(heartbeat, follow_symlinks=False)
                if (st.st_ino, st.st_mtime_ns, st.st_ctime_ns) == judged.signature[0]:
                    os.unlink(heartbeat)
            except FileNotFoundError:
                pass
        self.peers.forget(peer)


def _remove_if_empty(directory: Path) -> None:
    """rmdir a claims directory (and its empty settle notes' directory): only
    an empty one goes, so a claim arriving meanwhile keeps it."""
    for path in (directory / NOTES, directory):
        try:
            os.rmdir(path)
        except OSError:  # not empty, gone, or busy: it stays
            pass
