"""What actors tell and ask each other: one frozen, tagged Struct per message.

Commands are verbs (`RepairBundle`), events past tense (`ActorRestarted`). Each
actor's inbox is one union, dispatched with `match`.
"""

from __future__ import annotations

import msgspec

from messages.records import Challenger, FailureRecord, MetricLine, RepairAttempt


class Msg(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Base of every actor message."""


# -- to anyone ------------------------------------------------------------------


class Ping(Msg, frozen=True):
    """Health check: answered with True by any actor that is not wedged."""


class Tick(Msg, frozen=True):
    """A timer went off."""


# -- watcher ----------------------------------------------------------------------


class QueueChanged(Msg, frozen=True):
    """A name appeared in `queue/` (from inotify)."""

    name: str


class Rescan(Msg, frozen=True):
    """inotify dropped events: scan the whole queue now."""


class WorkerFree(Msg, frozen=True):
    """A repairer is through the test runs of handoff `name` and takes the next one.

    Sent once per `RepairBundle`, as soon as the repair engine has returned (or
    when the handoff is settled, if it never ran): the next claim is made and
    dispatched while the repairer finishes this one's bookkeeping, which keeps the
    claim on the work board until it is done. A repairer that crashes sends
    nothing; the watcher hears of its restart instead.
    """

    worker: str
    name: str


class ActorRestarted(Msg, frozen=True):
    """The supervisor restarted `actor`; whatever it held must be picked up again."""

    actor: str
    attempt: int = 0


class StopClaiming(Msg, frozen=True):
    """Shutdown has begun: claim nothing new."""


class SetWorkers(Msg, frozen=True):
    """The repairer pool now consists of these actors (after a reload)."""

    workers: tuple[str, ...]


class GetStatus(Msg, frozen=True):
    """Ask the watcher for its counters."""


class WatcherStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The watcher's answer to GetStatus."""

    pending: int
    in_flight: int
    claiming: bool
    scans: int
    first_scan_done: bool


# -- repairer ---------------------------------------------------------------------


class RepairBundle(Msg, frozen=True):
    """Repair the handoff claimed at `claim` (originally `queue/<name>`)."""

    claim: str
    name: str


# -- failure window ---------------------------------------------------------------


class RecordFailure(Msg, frozen=True):
    """A repair of `bundle_sha256` failed; answered with a FailureVerdict."""

    bundle_sha256: str
    record: FailureRecord


class FailureVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """What the window says after a failure: quarantine now, or wait until
    `not_before` (POSIX time)."""

    quarantine: bool
    failures: list[FailureRecord]
    not_before: float
    rule: str


class ClearFailures(Msg, frozen=True):
    """Forget the failures of a bundle (an operator released it)."""

    bundle_sha256: str


# -- quarantine -------------------------------------------------------------------


class QuarantineBundle(Msg, frozen=True):
    """Move a claimed handoff to `processed/hard_fail/` with its reason file."""

    claim: str
    name: str
    bundle_sha256: str
    tool: str
    lineage: str | None
    failures: list[FailureRecord]
    rule: str
    last_test_output: str = ""
    last_attempt: RepairAttempt | None = None


class MarkCorrupt(Msg, frozen=True):
    """Move a claimed handoff that is not valid input to `processed/corrupt/`."""

    claim: str
    name: str
    reason: str
    message: str
    field: str | None = None


# -- telemetry --------------------------------------------------------------------


class FinishRepair(Msg, frozen=True):
    """A repair passed: write its challenger durably, then move the claimed
    handoff to done/ and append `line` (its `challenger` field filled in). Told,
    so that the repairer takes its next bundle while the fsyncs happen; telemetry
    gathers the finishes of a few milliseconds and makes them durable together."""

    claim: str
    name: str
    challenger: Challenger
    line: MetricLine


class FlushFinishes(Msg, frozen=True):
    """The finishes telemetry has gathered waited long enough: write them now."""


class RecordMetric(Msg, frozen=True):
    """Append one metrics line."""

    line: MetricLine


class PruneNow(Msg, frozen=True):
    """Prune now (an operator or the schedule); `now` overrides the clock."""

    now: float | None = None
    dry_run: bool = False


WatcherInbox = (QueueChanged | Rescan | WorkerFree | ActorRestarted | StopClaiming
                | SetWorkers | GetStatus | Tick | Ping)
RepairerInbox = RepairBundle | Ping
FailureWindowInbox = RecordFailure | ClearFailures | Tick | Ping
QuarantineInbox = QuarantineBundle | MarkCorrupt | Ping
TelemetryInbox = FinishRepair | RecordMetric | Ping
PrunerInbox = PruneNow | Tick | Ping
