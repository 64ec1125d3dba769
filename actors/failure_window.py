"""Failure-window bookkeeping: the sliding window per `bundle_sha256`."""

from __future__ import annotations

from typing import Any

from repairlab.actors.base import SupervisedActor
from repairlab.messages.commands import FailureVerdict, RecordFailure


class FailureWindow(SupervisedActor):
    """Owns the failure of an attempt: asked with `RecordFailure`, it has the
    backend record it, judge the window (quarantine once `max_failures` fall
    within `window_seconds`, else wait out the backoff) and defer or quarantine
    the handoff, with its events, in one step (`Backend.fail`).

    The store is the truth; this actor keeps no memory of its own, so a crash or
    a peer instance changes nothing about the decision. A record that cannot be
    written raises OSError to the asker, who keeps the handoff; `Vanished` (a
    FileNotFoundError) says the claim is no longer ours and nothing was recorded.
    """

    kind = "failure_window"

    def handle(self, message: Any) -> Any:
        match message:
            case RecordFailure(failure=failure):
                return self.record(failure)
        raise TypeError(f"failure window cannot handle {type(message).__name__}")

    def record(self, failure: Any) -> FailureVerdict:
        """`Backend.fail`, logged when it quarantines."""
        verdict = self.runtime.backend.fail(failure)
        if verdict.quarantine:
            self.log.bind(bundle=failure.bundle_sha256[:12]).info(
                "quarantined {!r} after {} failures", failure.claim.name, len(verdict.failures))
        return verdict
