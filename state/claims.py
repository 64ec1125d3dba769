"""Claims, backoff waits and heartbeats: Maildir-style, by atomic renames only.

- A handoff is claimed by renaming `queue/NAME` into `claims/<instance>/`; of
  several instances racing for it, the kernel lets exactly one rename succeed.
- A handoff that failed waits in `deferred/` with its mtime set to the time it
  may be tried again; any instance claims it from there when that time has come.
- Each instance touches `instances/<id>.json` every few seconds. The claims of
  an instance silent for longer than the lease go back to `queue/`, by rename, so
  of several instances doing this at once, one succeeds for each handoff.

The attempt key of a claimed handoff is its inode and mtime: renames keep both,
so a redo of the same attempt (after a crash) has the same key, while deferring
sets a new mtime and so starts a new attempt.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from state.fsops import atomic_write, move_unique
from state.layout import Layout


def is_handoff_name(name: str) -> bool:
    """Queue entries are `*.json` not starting with `.` (SPEC §1)."""
    return name.endswith(".json") and not name.startswith(".")


def attempt_key(path: Path) -> str:
    """The identity of one attempt at one handoff file (see module doc)."""
    st = os.lstat(path)
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}"


class Claims:
    """One instance's view of claims, deferrals and heartbeats."""

    def __init__(self, layout: Layout, instance: str, *, isolation: str = "") -> None:
        self.layout = layout
        self.instance = instance
        # What the heartbeat says of the candidates' isolation (for `status`).
        self.isolation = isolation
        self.mine = layout.claims_of(instance)
        self.mine.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- claiming --------------------------------------------------------------

    def claim(self, name: str, *, source: Path | None = None) -> Path | None:
        """Claim `queue/NAME` (or `source/NAME`). Returns the claimed path, or
        None when another instance was first or the file is gone."""
        src = (source or self.layout.queue) / name
        try:
            return move_unique(src, self.mine, name)
        except FileNotFoundError:
            return None

    def claim_due(self, now: float | None = None, limit: int = 1000) -> Iterator[str]:
        """Names in `deferred/` whose wait is over, oldest due first."""
        now = time.time() if now is None else now
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
                    if mtime <= now:
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
        now = time.time() if now is None else now
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
        """At start: everything this instance id held goes back to the queue."""
        return sum(1 for path in self.held() if self.requeue(path) is not None)

    # -- liveness ----------------------------------------------------------------

    def heartbeat(self, now: float | None = None) -> None:
        """Prove this instance is alive (the file's mtime is the proof)."""
        now = time.time() if now is None else now
        beat: dict[str, object] = {"instance": self.instance, "pid": os.getpid(),
                                   "host": socket.gethostname(), "ts": now}
        if self.isolation:
            beat["isolation"] = self.isolation
        data = json.dumps(beat).encode()
        path = self.layout.instances / f"{self.instance}.json"
        atomic_write(path, data, durable=False, point="claims.heartbeat")

    def forget_heartbeat(self) -> None:
        """On a clean exit: this instance is gone and holds nothing."""
        try:
            os.unlink(self.layout.instances / f"{self.instance}.json")
        except FileNotFoundError:
            pass

    def recover_stale(self, lease_seconds: float, now: float | None = None) -> int:
        """Give back to the queue the claims of every other instance silent for
        longer than the lease. Returns how many handoffs came back."""
        now = time.time() if now is None else now
        recovered = 0
        try:
            owners = [e for e in os.scandir(self.layout.claims)
                      if e.is_dir(follow_symlinks=False) and e.name != self.instance]
        except FileNotFoundError:
            return 0
        for owner in owners:
            if self.last_seen(owner.name, now) > now - lease_seconds:
                continue
            for entry in list(os.scandir(owner.path)):
                if entry.name.startswith("."):
                    continue
                # requeue() is a rename: of several instances doing this at once,
                # one moves each handoff and the others find it gone.
                if self.requeue(Path(entry.path), now) is not None:
                    recovered += 1
        return recovered

    def last_seen(self, instance: str, now: float) -> float:
        """The heartbeat time of `instance`; its claims directory's mtime if it
        never wrote one (so a fresh peer is not robbed before its first beat)."""
        try:
            return os.stat(self.layout.instances / f"{instance}.json").st_mtime
        except FileNotFoundError:
            try:
                return os.stat(self.layout.claims_of(instance)).st_mtime
            except FileNotFoundError:
                return 0.0

    def alive(self, lease_seconds: float, now: float | None = None) -> list[tuple[str, float]]:
        """Instances whose heartbeat is within the lease, with its time."""
        now = time.time() if now is None else now
        found = []
        try:
            entries = list(os.scandir(self.layout.instances))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            if mtime > now - lease_seconds:
                found.append((entry.name[:-5], mtime))
        return sorted(found)

