"""Pruning: everything older than the TTL goes, in-flight work never does.

`prune(layout, ttl_seconds, now=...)` is the one rule, used by the timed pruner
actor and by `run.py prune`. It looks at `queue/`, `processed/*/`,
`challengers/`, rotated metrics files, failure records, heartbeats of long
gone instances and the `llm` strategy's cached replies (`llm/cache/`); never at
`claims/` or `deferred/`, which hold work in flight.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from repairlab.state.challengers import ChallengerStore
from repairlab.state.clock import fs_now
from repairlab.state.failures import FailureStore
from repairlab.state.fsops import atomic_write, remove_path
from repairlab.state.layout import Layout
from repairlab.state.llm_cache import ResponseCache


@dataclass
class PruneReport:
    """What went (or, in a dry run, would go) and how many bytes that frees."""

    removed: list[tuple[Path, int]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(size for _, size in self.removed)


def _old_entries(directory: Path, cutoff: float) -> list[tuple[Path, int]]:
    """(path, size) of the entries of `directory` older than `cutoff`. The
    directory is read as a stream: only the old entries are kept in memory, not
    every entry of a directory that may hold a week of handoffs."""
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if st.st_mtime < cutoff:
                    found.append((Path(entry.path), st.st_size))
    except FileNotFoundError:
        return []
    return found


def prune(layout: Layout, ttl_seconds: float, *, now: float | None = None,
          dry_run: bool = False) -> PruneReport:
    """Remove what is older than `ttl_seconds` before `now` (by mtime; `now`
    defaults to the state root's clock, `state/clock.py`, never this process's
    wall clock, so a clock set ahead prunes nothing early).

    A file that vanishes meanwhile (another instance pruned it) is skipped.
    OSError on removal propagates; what was removed before it stays removed.
    """
    now = fs_now(layout.instances) if now is None else now
    cutoff = now - ttl_seconds
    report = PruneReport(dry_run=dry_run)
    candidates: list[tuple[Path, int]] = []
    candidates += _old_entries(layout.queue, cutoff)
    for place in (layout.done, layout.hard_fail, layout.corrupt):
        candidates += _old_entries(place, cutoff)
    candidates += [(p, s) for p, s in _old_entries(layout.challengers, cutoff)
                   if p.name != ".index"]
    metrics_dir = layout.metrics.parent
    rotated_prefix = layout.metrics.name + "."
    candidates += [(p, s) for p, s in _old_entries(metrics_dir, cutoff)
                   if p.name.startswith(rotated_prefix)]
    candidates += [(p, s) for p, s in _old_entries(layout.instances, cutoff)
                   if p.name.endswith(".json")]
    candidates += ResponseCache(layout.root).old_entries(cutoff)  # the llm's replies
    for path, size in sorted(candidates):
        if dry_run:
            report.removed.append((path, size))
            continue
        freed = remove_path(path)
        report.removed.append((path, freed or size))
    if not dry_run:
        FailureStore(layout.failures).prune(cutoff)
        ChallengerStore(layout.challengers).prune_index()
    return report


# -- the schedule -----------------------------------------------------------------


def last_boundary(schedule: str, now: float) -> float:
    """The most recent scheduled time at or before `now`, in local time:
    hourly (:00), daily (00:00) or weekly (Monday 00:00)."""
    local = datetime.fromtimestamp(now)
    if schedule == "hourly":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif schedule == "daily":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif schedule == "weekly":
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())
    else:
        raise ValueError(f"unknown prune schedule {schedule!r}")
    return start.timestamp()


def next_boundary(schedule: str, now: float) -> float:
    """The first scheduled time strictly after `now`."""
    last = datetime.fromtimestamp(last_boundary(schedule, now))
    step = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
            "weekly": timedelta(days=7)}[schedule]
    nxt = last + step
    # A DST change can make local arithmetic land on the wrong hour; re-anchor.
    return last_boundary(schedule, nxt.timestamp() + 1)


class PruneSchedule:
    """The last prune run, kept in `schedule/prune.json`, shared by instances."""

    def __init__(self, layout: Layout) -> None:
        self.path = layout.schedule / "prune.json"

    def last_run(self) -> float | None:
        """When pruning last ran, or None if never (or unreadable)."""
        try:
            return float(json.loads(self.path.read_text())["last_run"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def mark(self, when: float) -> None:
        """Record a run at `when`."""
        atomic_write(self.path, json.dumps({"last_run": when}).encode(), point="prune.mark")

    def due(self, schedule: str, now: float) -> bool:
        """A run is due when the last one predates the latest boundary."""
        last = self.last_run()
        return last is None or last < last_boundary(schedule, now)
