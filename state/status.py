"""`run.py status`: a census of the state root, read without a daemon.

Everything comes from directory listings (`os.scandir`, names only) and the few
stats that carry meaning: the mtimes of `queue/` entries (the oldest waiting
handoff), of `deferred/` entries (their not-before), and of heartbeats. No
handoff is opened, so a root of 100,000 files is counted in a fraction of a
second. Nothing is created or changed: status is safe to run beside live
daemons and on a root that another user owns.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from repairlab.config.schema import Config
from repairlab.errors import UsageError
from repairlab.messages.records import rfc3339
from repairlab.messages.reports import InstanceStatus, LlmStatus, StatusReport
from repairlab.state.census import in_flight_by_instance
from repairlab.state.claims import is_handoff_name
from repairlab.state.clock import fs_now
from repairlab.state.disk import disk_status
from repairlab.state.layout import Layout
from repairlab.state.llm_circuit import Circuit
from repairlab.state.llm_ledger import FsBudgetLedger
from repairlab.state.metrics import metrics_files
from repairlab.state.prune import PruneSchedule, next_boundary


def _handoffs(directory: Path) -> int:
    """Handoff files in `directory` (reason files and dot-names excluded)."""
    return _listed_count(directory, "handoffs", _is_settled_handoff)


def _is_settled_handoff(name: str) -> bool:
    return is_handoff_name(name) and not name.endswith(".reason.json")


# (directory, what) -> (the directory's mtime_ns when counted, the count)
_COUNTS: dict[tuple[str, str], tuple[int, int]] = {}


def _listed_count(directory: Path, what: str, wanted: Callable[[str], bool]) -> int:
    """How many names in `directory` are `wanted`; 0 when it does not exist.

    A reader that lives on (`run.py web`, asked every few seconds) does not list
    100,000 finished handoffs again while the directory is unchanged: the count
    is kept with the directory's mtime, which every entry added or removed
    changes. A directory changed within the last second is always listed again,
    since a change in the same coarse timestamp tick as the listing would keep
    its mtime (a state root whose clock runs behind ours by more than that can
    show a count one change late, until its next change).
    """
    try:
        stamp = os.stat(directory).st_mtime_ns
    except FileNotFoundError:
        return 0
    key = (str(directory), what)
    cached = _COUNTS.get(key)
    if cached is not None and cached[0] == stamp and time.time_ns() - stamp > 1_000_000_000:
        return cached[1]
    try:
        count = sum(1 for name in os.listdir(directory) if wanted(name))
    except FileNotFoundError:
        return 0
    _COUNTS[key] = (stamp, count)
    return count


def _mtimes(directory: Path, *, all_names: bool = False) -> tuple[int, float | None]:
    """How many handoffs `directory` holds and the smallest mtime among them.
    Entries that vanish while being looked at are skipped."""
    count, lowest = 0, None
    try:
        with os.scandir(directory) as it:
            for entry in it:
                name = entry.name
                if name.startswith(".") or not (all_names or is_handoff_name(name)):
                    continue
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                count += 1
                if lowest is None or mtime < lowest:
                    lowest = mtime
    except FileNotFoundError:
        pass
    return count, lowest


def _heartbeats(layout: Layout) -> dict[str, tuple[float, dict[str, object]]]:
    """instance id -> (heartbeat mtime, the heartbeat's JSON, {} if unreadable)."""
    found: dict[str, tuple[float, dict[str, object]]] = {}
    try:
        with os.scandir(layout.instances) as it:
            entries = [e for e in it if e.name.endswith(".json") and not e.name.startswith(".")]
    except FileNotFoundError:
        return found
    for entry in entries:
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        data: dict[str, object] = {}
        try:  # a few small files, one per instance: worth opening for pid and host
            with open(entry.path, "rb") as fh:
                loaded = json.loads(fh.read(4096))
            if isinstance(loaded, dict):
                data = loaded
        except (OSError, ValueError):
            pass
        found[entry.name[:-5]] = (mtime, data)
    return found


def take_status(layout: Layout, config: Config, now: float | None = None) -> StatusReport:
    """The status of the root under `layout` at `now` (default: the clock).

    Raises UsageError when the root does not exist (most likely the wrong
    `--config`); places under it that do not exist count zero. A file that
    vanishes while being counted (a daemon moved it) is simply not counted.
    """
    if not layout.root.is_dir():
        raise UsageError(f"state root {layout.root} does not exist (wrong --config?)")
    # Ages and liveness are mtimes against the state root's clock, not ours.
    now = fs_now(layout.instances) if now is None else now
    queue, oldest = _mtimes(layout.queue)
    waiting, first_due = _mtimes(layout.deferred, all_names=True)
    held = in_flight_by_instance(layout)
    beats = _heartbeats(layout)
    lease = config.instance.lease_seconds
    instances = []
    # An instance that stopped cleanly removed its heartbeat and holds nothing:
    # it is gone, not dead, and is not listed.
    for name in sorted(set(beats) | {n for n, count in held.items() if count}):
        mtime, data = beats.get(name, (None, {}))
        pid, host = data.get("pid"), data.get("host")
        instances.append(InstanceStatus(
            instance=name, alive=mtime is not None and mtime > now - lease,
            in_flight=held.get(name, 0),
            last_heartbeat=rfc3339(mtime) if mtime is not None else None,
            heartbeat_age_s=round(now - mtime, 3) if mtime is not None else None,
            pid=pid if isinstance(pid, int) else None,
            host=host if isinstance(host, str) else None,
            isolation=isolation if isinstance(isolation := data.get("isolation"), str) else None,
        ))
    schedule = PruneSchedule(layout)
    last = schedule.last_run()
    due = schedule.due(config.prune.schedule, now)
    files = metrics_files(layout.metrics)
    live_bytes = 0
    try:
        live_bytes = os.stat(layout.metrics).st_size
    except FileNotFoundError:
        pass
    return StatusReport(
        root=str(layout.root), generated_at=rfc3339(now),
        queue=queue, in_flight=sum(held.values()), waiting=waiting,
        done=_handoffs(layout.done), quarantined=_handoffs(layout.hard_fail),
        corrupt=_handoffs(layout.corrupt), challengers=_challengers(layout.challengers),
        instances=instances,
        oldest_queued_age_s=round(now - oldest, 3) if oldest is not None else None,
        next_retry_in_s=round(first_due - now, 3) if first_due is not None else None,
        prune_schedule=config.prune.schedule,
        last_prune=rfc3339(last) if last is not None else None,
        next_prune=None if due else rfc3339(next_boundary(config.prune.schedule, now)),
        prune_due=due, metrics_bytes=live_bytes,
        rotated_metrics=sum(1 for f in files if f != layout.metrics),
        disk=disk_status(layout.root),
        llm=_llm_status(layout, config, now),
    )


def _llm_status(layout: Layout, config: Config, now: float) -> LlmStatus | None:
    """The `llm` strategy's endpoint, circuit and budgets; None when it is off and
    has left nothing on disk. Reads only (the ledger's `usage` creates nothing)."""
    llm = config.llm
    if not llm.enabled and not (layout.root / "llm").is_dir():
        return None
    circuit = Circuit(layout.root, failures_to_open=llm.circuit_failures,
                      open_seconds=llm.circuit_open_seconds).state()
    usage = FsBudgetLedger(layout.root, max_requests_per_hour=llm.max_requests_per_hour,
                           max_tokens_per_day=llm.max_tokens_per_day).usage(now)
    return LlmStatus(
        enabled=llm.enabled, model=llm.model, endpoint=urlsplit(llm.base_url).netloc
        .rpartition("@")[2], circuit=circuit.describe(now), circuit_open=circuit.is_open(now),
        requests_this_hour=usage.requests_this_hour,
        max_requests_per_hour=usage.max_requests_per_hour, tokens_today=usage.tokens_today,
        max_tokens_per_day=usage.max_tokens_per_day,
    )


def _challengers(directory: Path) -> int:
    return _listed_count(directory, "challengers",
                         lambda n: n.startswith("challenger_") and n.endswith(".json"))
