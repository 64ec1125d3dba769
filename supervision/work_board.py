"""The work board: which claimed handoffs the repairers hold, and since when.

The watcher and the repairers write it (`Dispatched`, `WorkBegun`, `Settled`)
through `Runtime.report`, each message applied at once, under the board's lock,
in the writer's own thread: a handoff's path to its next place wakes no other
thread for its bookkeeping, and what a worker wrote before it died is on the
board before its death is reported. It is a cache of the backend's claims: when a
repairer dies, the supervisor takes what it held off the board (`take`) to
settle it before the restart (the old incarnation has ended by then: nothing
it wrote comes after); the watcher reads a copy (`snapshot`) to rebuild its
in-flight table after a restart of its own and to tell which claims no repairer
holds.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

from repairlab.messages.commands import Dispatched, Msg, Settled, WorkBegun


class Job(NamedTuple):
    """A claimed handoff given to a repairer. `begun`: the repairer has started on
    it (`WorkBegun`); `bundle_sha256`, `tool`, `lineage` once it decoded it."""

    worker: str
    name: str
    since: float  # time.monotonic() of the dispatch
    begun: bool = False
    bundle_sha256: str | None = None
    tool: str | None = None
    lineage: str | None = None


class WorkBoard:
    """The claims the repairers hold, by claim path. A repairer holds at most two:
    the one whose bookkeeping it is finishing and the next one, given to it
    meanwhile (see `WorkerFree`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def apply(self, message: Msg) -> bool:
        """Apply one board message; False if it is not one (nothing changes)."""
        with self._lock:
            match message:
                case Dispatched(worker=worker, claim=claim, name=name):
                    self._jobs[claim] = Job(worker, name, time.monotonic())
                case WorkBegun(worker=worker, claim=claim) as held:
                    job = self._jobs.get(claim)
                    since = job.since if job is not None and job.worker == worker \
                        else time.monotonic()
                    self._jobs[claim] = Job(worker, held.name, since, True, held.bundle_sha256,
                                            held.tool, held.lineage)
                case Settled(worker=worker, claim=claim):
                    job = self._jobs.get(claim)
                    if job is not None and job.worker == worker:
                        del self._jobs[claim]
                case _:
                    return False
        return True

    def take(self, worker: str) -> dict[str, Job]:
        """Remove and return everything `worker` holds (it died)."""
        with self._lock:
            taken = {claim: job for claim, job in self._jobs.items() if job.worker == worker}
            for claim in taken:
                del self._jobs[claim]
            return taken

    def snapshot(self) -> dict[str, Job]:
        """Every held claim (its path) and its job."""
        with self._lock:
            return dict(self._jobs)

    def busy(self) -> set[str]:
        """The workers that hold a claim."""
        with self._lock:
            return {job.worker for job in self._jobs.values()}
