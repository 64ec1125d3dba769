"""Failure records: one file per failed attempt, shared by every instance.

`failures/<bundle_sha256>/<key>.json`. One file per record needs no lock: each
instance writes its own files, and a record's key identifies the attempt, so
writing it twice (a redo after a crash) counts once.
"""

from __future__ import annotations

import builtins
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from repairlab.messages.commands import FailureVerdict
from repairlab.messages.records import FailureRecord, parse_rfc3339, rfc3339
from repairlab.state.clock import StateClock, fs_now
from repairlab.state.fsops import atomic_write, remove_path

if TYPE_CHECKING:
    from repairlab.config.schema import Config

_decoder = msgspec.json.Decoder(FailureRecord)
_encoder = msgspec.json.Encoder()


class FailureStore:
    """The failure records under one state root."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _dir(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a bundle_sha256: {sha!r}")
        return self.directory / sha

    def record(self, sha: str, record: FailureRecord) -> None:
        """Store `record` durably under its key; an existing record with the
        same key is left as it is. OSError propagates (the caller retries)."""
        directory = self._dir(sha)
        directory.mkdir(mode=0o700, exist_ok=True)
        target = directory / f"{record.key}.json"
        if target.exists():
            return
        atomic_write(target, _encoder.encode(record), point="failures.write")

    def list(self, sha: str) -> list[FailureRecord]:
        """Every record of `sha`, oldest first. Unreadable records are skipped."""
        return [record for _, record in self.timed(sha)]

    def timed(self, sha: str) -> builtins.list[tuple[float, FailureRecord]]:
        """Every record of `sha` with its time, oldest first: the older of its
        `ts` (the writer's clock) and its file's mtime (the state root's clock).
        So a record from an instance whose clock runs ahead counts from when it
        was written, and never lingers in a window longer than the window."""
        directory = self._dir(sha)
        records = []
        try:
            entries = builtins.list(os.scandir(directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            try:
                with open(entry.path, "rb") as fh:
                    record = _decoder.decode(fh.read())
                    mtime = os.fstat(fh.fileno()).st_mtime
                when = min(parse_rfc3339(record.ts), mtime)
            except (OSError, ValueError, msgspec.DecodeError):
                continue
            records.append((when, record))
        records.sort(key=lambda item: (item[0], item[1].key))
        return records

    def in_window(self, sha: str, window_seconds: float, now: float | None = None
                  ) -> builtins.list[FailureRecord]:
        """The records of `sha` no older than `window_seconds` before `now`
        (default: the state root's clock, `state/clock.py`), by `timed`."""
        now = fs_now(self.directory) if now is None else now
        cutoff = now - window_seconds
        return [r for when, r in self.timed(sha) if when >= cutoff]

    def clear(self, sha: str) -> int:
        """Forget every record of `sha` (an operator's release). Returns how many."""
        count = len(self.list(sha))
        remove_path(self._dir(sha))
        return count

    def prune(self, older_than: float) -> int:
        """Remove records older than the timestamp `older_than`, and emptied
        directories. Returns the number of files removed."""
        removed = 0
        try:
            shas = list(os.scandir(self.directory))
        except FileNotFoundError:
            return 0
        for sha_dir in shas:
            if not sha_dir.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(sha_dir.path):
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < older_than:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
            try:
                os.rmdir(sha_dir.path)
            except OSError:
                pass  # not empty: still has live records
        return removed


def new_record(key: str, instance: str, reason: str, handoff: str | None,
               now: float | None = None) -> FailureRecord:
    """A record stamped `now` (default: the current time)."""
    return FailureRecord(ts=rfc3339(time.time() if now is None else now), instance=instance,
                         reason=reason[:2000], key=key, handoff=handoff)


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
