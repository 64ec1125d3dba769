"""What actors tell and ask each other: one frozen, tagged Struct per message.

Commands are verbs (`RepairBundle`), events past tense (`ActorRestarted`). Each
actor's inbox is one union, dispatched with `match`.
"""

from __future__ import annotations

import msgspec

from repairlab.config.schema import Config
from repairlab.messages.records import Challenger, FailureRecord, MetricLine
from repairlab.state.backend import Failure


class Msg(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Base of every actor message."""


# -- to anyone ------------------------------------------------------------------


class Ping(Msg, frozen=True):
    """Health check: answered with True by any actor that is not wedged."""


class Tick(Msg, frozen=True):
    """A timer went off."""


class Reconfigure(Msg, frozen=True):
    """A reload: from now on this actor works with `config` (frozen) and stamps
    its challengers with `digest`. Sent by the daemon to every actor; an actor
    started later gets the same through its constructor."""

    config: Config
    digest: str = ""


# -- to the supervisor (the work board) ------------------------------------------------
# The daemon's work board is written by the supervisor's thread alone, from these
# messages; the watcher and the repairers post them (`SupervisedActor.report`).


class Dispatched(Msg, frozen=True):
    """The watcher gave the claim at `claim` (queue name `name`) to `worker`."""

    worker: str
    claim: str
    name: str


class WorkBegun(Msg, frozen=True):
    """`worker` has begun on the claim at `claim`; once the handoff is decoded,
    `bundle_sha256`, `tool` and `lineage` say which bundle it is. Should the
    worker die before it settles the claim, that is a failure of this bundle."""

    worker: str
    claim: str
    name: str
    bundle_sha256: str | None = None
    tool: str | None = None
    lineage: str | None = None


class Settled(Msg, frozen=True):
    """The claim at `claim` that `worker` held has reached its next place (or was
    handed back): it is off the work board. Forwarded to the watcher, which then
    counts the worker free if it had missed its `WorkerFree`."""

    worker: str
    claim: str


# -- watcher ----------------------------------------------------------------------


class QueueChanged(Msg, frozen=True):
    """A name appeared in `queue/` (from inotify)."""

    name: str


class Rescan(Msg, frozen=True):
    """inotify dropped events: scan the whole queue now."""


class StoreChanged(Msg, frozen=True):
    """The store says something may have become claimable (PostgreSQL's NOTIFY:
    a handoff ingested, handed back or released by any instance): try to claim.
    The local queue/ is not rescanned for it (inotify and the timer do that)."""


class WorkerFree(Msg, frozen=True):
    """A repairer is through the test runs of handoff `name` and takes the next one.

    Sent once per `RepairBundle`, as soon as the repair engine has returned (or
    when the handoff is settled, if it never ran): the next claim is made and
    dispatched while the repairer finishes this one's bookkeeping, which keeps the
    claim on the work board until it is done. A repairer that crashes sends
    nothing; the watcher hears of its restart instead.

    `took` and `took_name`: the spare claim the repairer took at that moment
    (`Runtime.spare`), already dispatched to itself and on the work board; the
    watcher counts the repairer busy with it.
    """

    worker: str
    name: str
    took: str | None = None
    took_name: str | None = None


class ActorRestarted(Msg, frozen=True):
    """The supervisor restarted `actor`; whatever it held must be picked up again.

    `released`: the claims the dead repairer held that the supervisor took off the
    work board without settling them (it settles those it can blame for the crash
    itself: a failure record, then deferred/ or hard_fail/); they go back to the
    queue."""

    actor: str
    attempt: int = 0
    released: tuple[str, ...] = ()


class StopClaiming(Msg, frozen=True):
    """Shutdown has begun: claim nothing new."""


class StateRootUnwritable(Msg, frozen=True):
    """A write under the state root failed for the root's sake (full, over quota,
    read-only): `problem` names which, `error` is the error seen. The watcher
    pauses claiming until a probe write succeeds; the sender has handed back what
    it held."""

    problem: str
    error: str
    actor: str = ""


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
    disk_problem: str | None = None  # claiming is paused while the root cannot be written


# -- repairer ---------------------------------------------------------------------


class RepairBundle(Msg, frozen=True):
    """Repair the handoff claimed at `claim` (originally `queue/<name>`)."""

    claim: str
    name: str


# -- failure window ---------------------------------------------------------------


class RecordFailure(Msg, frozen=True):
    """A repair failed: record it, judge the window, and defer or quarantine the
    handoff in one step (`Backend.fail`); answered with a FailureVerdict."""

    failure: Failure


class FailureVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """What the window says after a failure: quarantine now, or wait until
    `not_before` (POSIX time)."""

    quarantine: bool
    failures: list[FailureRecord]
    not_before: float
    rule: str


# -- quarantine -------------------------------------------------------------------


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
    handoff to done/ and append `line` (its `challenger` field filled in). With
    `challenger` None the bundle was repaired before: `line` names the existing
    challenger and says `duplicate`; nothing is written but the move and the
    line. Told,
    so that the repairer takes its next bundle while the fsyncs happen; telemetry
    gathers the finishes of a few milliseconds and makes them durable together."""

    claim: str
    name: str
    line: MetricLine
    challenger: Challenger | None = None


class FlushFinishes(Msg, frozen=True):
    """The finishes telemetry has gathered waited long enough: write them now."""


class RecordMetric(Msg, frozen=True):
    """Append one metrics line."""

    line: MetricLine


class PruneNow(Msg, frozen=True):
    """Prune now (an operator or the schedule); `now` overrides the clock."""

    now: float | None = None
    dry_run: bool = False


WatcherInbox = (QueueChanged | Rescan | WorkerFree | Settled | ActorRestarted | StopClaiming
                | SetWorkers | GetStatus | Tick | Reconfigure | Ping)
RepairerInbox = RepairBundle | Reconfigure | Ping
FailureWindowInbox = RecordFailure | Tick | Reconfigure | Ping
QuarantineInbox = MarkCorrupt | Reconfigure | Ping
TelemetryInbox = FinishRepair | RecordMetric | Reconfigure | Ping
PrunerInbox = PruneNow | Tick | Reconfigure | Ping
BoardEvent = Dispatched | WorkBegun | Settled
