"""A handoff held by a worker that died: its death counts as a failure of that
bundle (SPEC §5), recorded before anything restarts.

The supervisor calls `settle_crashed` for each handoff a dead repairer had begun,
before it starts the next incarnation: the failure record (reason `crashed the
repairer: <exception>`) is written durably under `failures/<sha>/`, the window is
judged as for any failed repair, and the handoff goes to `deferred/` to wait out
its backoff, or to `processed/hard_fail/` with its reason file once the window is
full. A handoff that crashes the repairer every time therefore ends quarantined
after `max_failures` crashes, instead of crashing it forever.

All of it runs on the supervisor's thread, through the backend (`Backend.fail`,
the same transition the failure_window actor makes), with no actor in between:
the actor that would do it may be what is down, and the record must be stored
before the restart. Records are keyed by the attempt: a failure the repairer
had already recorded for this attempt before it died is not counted twice.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from repairlab.config.schema import Config
from repairlab.messages.commands import FailureVerdict
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.state.backend import Backend, Claim, Failure, Vanished
from repairlab.state.failures import new_record
from repairlab.supervision.work_board import Job

CRASH_REASON = "crashed the repairer: {}"


def settle_crashed(backend: Backend, instance: str, config: Config, claim: Claim, job: Job,
                   error: str) -> str | None:
    """Record the crash as a failure of the bundle held at `claim`, then defer
    or quarantine it, in one `Backend.fail`. Returns "deferred" or "hard_fail",
    or None when the claim is gone (it had reached its next place before the
    death, or is no longer this instance's).

    A handoff that died before it was decoded is identified by the SHA-256 of
    its file's bytes in place of its bundle_sha256. OSError propagates (the
    record could not be written: the caller hands the claim back instead).
    """
    try:
        opened = backend.open(claim, config.limits.max_handoff_bytes)
    except FileNotFoundError:  # Vanished
        return None
    sha = job.bundle_sha256 or hashlib.sha256(opened.data).hexdigest()
    reason = CRASH_REASON.format(error)
    fields: dict[str, Any] = dict(bundle_sha256=sha, tool=job.tool, lineage=job.lineage,
                                  handoff=job.name, reason=reason[:500])
    line = MetricLine(ts=rfc3339(time.time()), event="repair_failed", instance=instance,
                      meta_repair=False, **fields)
    try:
        verdict: FailureVerdict = backend.fail(Failure(
            claim=claim, bundle_sha256=sha, record=new_record(opened.key, instance, reason,
                                                              job.name),
            line=line, tool=job.tool, lineage=job.lineage))
    except Vanished:
        return None
    return "hard_fail" if verdict.quarantine else "deferred"
