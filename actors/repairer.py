"""The repairer: one per worker, repairs one claimed handoff at a time.

It owns a handoff from claim to its next place: decode (or corrupt/), duplicate
check, the repair engine, then challenger + done/, or failure record + deferred/
or hard_fail/. Every step that needs another actor asks it with a bound; if that
fails, the handoff is handed back (deferred briefly) rather than lost.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pykka

from repairlab.actors.base import SupervisedActor
from repairlab.errors import HandoffInvalid
from repairlab.faults import inject
from repairlab.messages.commands import (
    Dispatched,
    FinishRepair,
    MarkCorrupt,
    RecordFailure,
    RecordMetric,
    RepairBundle,
    WorkBegun,
    WorkerFree,
)
from repairlab.messages.handoff import Handoff, decode_handoff
from repairlab.messages.records import Challenger, MetricLine, Provenance, TestCounts, rfc3339
from repairlab.repair.bundle import bundle_sha256
from repairlab.repair.engine import Engine, RepairOutcome, RepairSettings, unified_diff
from repairlab.repair.runner import make_runner
from repairlab.repair.strategies.llm import with_llm
from repairlab.state.backend import ChallengerRef, Claim, Failure
from repairlab.state.failures import new_record
from repairlab.state.fsops import FileChanged, NotARegularFile

ASK_TIMEOUT = 30.0


def make_patterns(directory: Path) -> Any:
    """The pattern library under the state root, if the engine has one."""
    try:
        from repairlab.repair.patterns import PatternLibrary
    except ImportError:
        return None
    return PatternLibrary(directory)


def engine_settings(config: Any) -> RepairSettings:
    """The engine's view of `[repair]`."""
    r = config.repair
    llm = config.llm
    return RepairSettings(
        strategies=with_llm(r.strategies, llm.enabled),
        test_timeout_seconds=r.test_timeout_seconds,
        bundle_timeout_seconds=r.bundle_timeout_seconds, max_candidates=r.max_candidates,
        max_patterns=r.max_patterns, external_agent=tuple(r.external_agent),
        llm=llm if llm.enabled else None, state_root=config.paths.root,
        instance=config.instance.id,
    )


class Repairer(SupervisedActor):
    """Repairs the handoffs the watcher dispatches to it, one at a time.

    A failing bundle is data: it is recorded, backed off or quarantined. Only a
    bug (an unexpected exception, a RecursionError, a MemoryError) crashes this
    actor. It tells the supervisor which handoff it holds (`WorkBegun`) before it
    works on it, so a crash while it holds one counts as a failure of that bundle,
    recorded by the supervisor before the restart (`supervision/poison.py`); a
    claim it had not begun goes back to the queue through the watcher.

    While it holds a handoff, the fault point `repairer.handoff[GLOB]` fires for a
    handoff whose file name matches GLOB (before the repair engine runs).
    """

    kind = "repairer"
    _patterns_loaded = True  # a subclass that opens its own library in start_up has it

    def start_up(self) -> None:
        runtime = self.runtime
        self.backend = runtime.backend
        # No fallback below the isolation the daemon started with when it is required:
        # a runner that cannot give it raises, and this actor does not start.
        self.runner = make_runner(require=runtime.require_isolation, guards=runtime.guards)
        self.patterns: Any = None
        self._patterns_loaded = False
        self._load_patterns()
        self._free_sent = False

    def _load_patterns(self) -> None:
        """Open the pattern library (`Backend.pattern_library`). On a full or
        read-only root that cannot create it, repair goes on without it and it is
        tried again for the next handoff (a crash here would only restart into the
        same error)."""
        try:
            self.patterns = self.backend.pattern_library()
            self._patterns_loaded = True
        except OSError as exc:
            if not self.report_disk(exc):
                raise

    def shut_down(self) -> None:
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()

    def handle(self, message: Any) -> Any:
        match message:
            case RepairBundle(claim=ref, name=name):
                self._free_sent = False
                claim = Claim(ref=ref, name=name)
                if self.runtime.stopping.is_set():
                    # Given just before shutdown began and not begun: back as it is.
                    outcome = self.give_back(claim)
                else:
                    # On a crash the claim stays on the work board and no WorkerFree
                    # goes out: the supervisor settles it before the restart.
                    outcome = self.process(claim)
                self.settled(ref)
                self.free(name)
                return outcome
        raise TypeError(f"repairer cannot handle {type(message).__name__}")

    def free(self, name: str) -> None:
        """Tell the watcher, once per handoff, that this worker takes the next one:
        the spare claim if there is one (`take_spare`), else what the watcher gives."""
        if not self._free_sent:
            self._free_sent = True
            took = self.take_spare()
            self.runtime.peers.tell("watcher", WorkerFree(
                worker=self.name, name=name, took=took.ref if took else None,
                took_name=took.name if took else None))

    def take_spare(self) -> Claim | None:
        """The watcher's spare claim (`Runtime.spare`), taken as this worker's next
        handoff: on the work board and in this actor's own mailbox at once, so that
        it starts the moment this one's bookkeeping is done, with no round trip
        through the watcher (a few per cent of a short repair). None while
        stopping, when there is no spare, or when it is not offered to this worker
        (a reload retired it)."""
        if self.runtime.stopping.is_set():
            return None
        claim = self.runtime.spare.take(by=self.name, then=lambda claim: self.report(
            Dispatched(worker=self.name, claim=claim.ref, name=claim.name)))
        if claim is not None:
            self.actor_ref.tell(RepairBundle(claim=claim.ref, name=claim.name))
        return claim

    # -- one handoff -------------------------------------------------------------

    def process(self, claim: Claim) -> str:
        """Take one claimed handoff to its next place; returns which place."""
        config = self.config
        name = claim.name
        if not _is_utf8(name):
            # Such a name cannot appear in a metrics line, a reason file or a challenger
            # (all UTF-8 JSON): the file goes to corrupt/ under a readable name.
            shown = os.fsencode(name).decode("utf-8", "backslashreplace")
            return self.corrupt(Claim(ref=claim.ref, name=shown), "name",
                                f"the file name {json.dumps(shown)} is not UTF-8", None)
        log = self.log.bind(handoff=name)
        self.report(WorkBegun(worker=self.name, claim=claim.ref, name=name))
        try:
            opened = self.backend.open(claim, config.limits.max_handoff_bytes)
            handoff = decode_handoff(opened.data, max_bytes=config.limits.max_handoff_bytes,
                                     max_files=config.limits.max_files)
        except FileNotFoundError:  # Vanished
            log.info("claim vanished before it was read")
            return "vanished"
        except NotARegularFile as exc:
            return self.corrupt(claim, "file_type", f"the handoff is {exc}", None)
        except FileChanged as exc:
            # Written in place rather than renamed into the queue: what was read is not
            # one version of the file, and a writer that never stops must not loop us.
            return self.corrupt(claim, "changed", str(exc), None)
        except HandoffInvalid as exc:
            return self.corrupt(claim, exc.reason, str(exc), exc.field)
        except OSError as exc:
            return self.hand_back(claim, f"cannot read the claimed handoff: {exc}", exc)
        sha = handoff.sha256
        log = log.bind(bundle=sha[:12])
        self.report(WorkBegun(worker=self.name, claim=claim.ref, name=name,
                              bundle_sha256=sha, tool=handoff.tool, lineage=handoff.lineage))
        inject("repairer.handoff", subject=name)
        existing = self.backend.repaired_before(sha)
        if existing is not None:
            return self.done_duplicate(claim, handoff, sha, existing)
        started = time.monotonic()
        if not self._patterns_loaded:
            self._load_patterns()
        engine = Engine(engine_settings(config), self.runner, patterns=self.patterns)
        outcome = engine.repair(handoff.bundle())
        self.free(name)  # the next handoff is claimed while this one is written up
        if outcome.repaired:
            return self.succeed(claim, handoff, sha, outcome, started)
        return self.fail(claim, handoff, sha, opened.key, outcome)

    def succeed(self, claim: Claim, handoff: Handoff, sha: str,
                outcome: RepairOutcome, started: float) -> str:
        """Hand the challenger to telemetry, which settles it (`Backend.settle`)."""
        assert outcome.files is not None and outcome.strategy is not None
        name = claim.name
        repaired_sha = bundle_sha256(outcome.files)
        runtime = self.runtime
        details = dict(outcome.details)
        challenger = Challenger(
            tool=handoff.tool, lineage=handoff.lineage, handoff_id=handoff.id,
            bundle_sha256=sha, repaired_sha256=repaired_sha,
            repair_strategy=outcome.strategy, repair_pattern_id=outcome.pattern_id,
            repair_attempts=outcome.attempts, repair_details=details,
            files=outcome.files,
            diff="" if outcome.strategy == "noop" else unified_diff(handoff.files, outcome.files),
            tests=TestCounts(passed=outcome.report.passed, failed=outcome.report.failed,
                             duration_s=round(outcome.report.duration_s, 6)),
            instance=runtime.instance, created_at=rfc3339(time.time()), handoff_name=name,
            provenance=Provenance(
                bundle_sha256=sha, parent_sha256=handoff.parent_sha256,
                repaired_sha256=repaired_sha,
                pattern_source_sha256=_str_or_none(details.get("pattern_source_sha256")
                                                   or details.get("source_sha256")),
                repairlab_version=runtime.version, config_digest=self.config_digest,
            ),
        )
        line = MetricLine(
            ts=rfc3339(time.time()), event="repaired", instance=runtime.instance,
            meta_repair=True, bundle_sha256=sha, tool=handoff.tool, lineage=handoff.lineage,
            repair_strategy=outcome.strategy, repair_pattern_id=outcome.pattern_id,
            repair_attempts=outcome.attempts, duration_s=round(time.monotonic() - started, 6),
            handoff=name, duplicate=False, candidates=outcome.candidates,
            llm_tokens=outcome.llm_tokens or None,
        )
        # Told, not asked: telemetry makes it durable and moves the handoff while
        # this worker starts its next test run (the fsyncs overlap the CPU work).
        if not runtime.peers.tell("telemetry", FinishRepair(
                claim=claim.ref, name=name, challenger=challenger, line=line)):
            return self.hand_back(claim, "telemetry is restarting")
        return "finishing"

    def done_duplicate(self, claim: Claim, handoff: Handoff, sha: str,
                       existing: ChallengerRef) -> str:
        """The same files were repaired before: telemetry settles the handoff to
        done/ with a line pointing at the existing challenger (nothing written)."""
        line = MetricLine(
            ts=rfc3339(time.time()), event="repaired", instance=self.runtime.instance,
            meta_repair=True, bundle_sha256=sha, tool=handoff.tool, lineage=handoff.lineage,
            repair_strategy=existing.strategy, repair_pattern_id=None, repair_attempts=0,
            duration_s=0.0, handoff=claim.name, challenger=existing.name, duplicate=True,
            candidates=0,
        )
        if not self.runtime.peers.tell("telemetry", FinishRepair(
                claim=claim.ref, name=claim.name, line=line)):
            return self.hand_back(claim, "telemetry is restarting")
        return "finishing"

    def fail(self, claim: Claim, handoff: Handoff, sha: str, key: str,
             outcome: RepairOutcome) -> str:
        """The failure_window records it and, in the same step, defers the handoff
        or quarantines it once the window is full (`Backend.fail`)."""
        runtime = self.runtime
        name = claim.name
        line = MetricLine(
            ts=rfc3339(time.time()), event="repair_failed", instance=runtime.instance,
            meta_repair=False, bundle_sha256=sha, tool=handoff.tool, lineage=handoff.lineage,
            repair_strategy=None, repair_pattern_id=None, repair_attempts=outcome.attempts,
            duration_s=round(outcome.duration_s, 6), handoff=name,
            reason=outcome.reason[:500], candidates=outcome.candidates,
            llm_tokens=outcome.llm_tokens or None,
        )
        failure = Failure(
            claim=claim, bundle_sha256=sha,
            record=new_record(key, runtime.instance, outcome.reason, name), line=line,
            tool=handoff.tool, lineage=handoff.lineage,
            last_test_output=outcome.first_run.output, last_attempt=outcome.attempt,
        )
        try:
            verdict = self.ask("failure_window", RecordFailure(failure=failure))
        except FileNotFoundError:  # Vanished: no longer ours, nothing recorded
            return "vanished"
        except Exception as exc:
            return self.hand_back(claim, f"failure not recorded: {exc}", exc)
        if verdict.quarantine:
            return "hard_fail"
        self.log.bind(bundle=sha[:12]).info(
            "repair failed ({} in window): {}; retry after {:.1f}s", len(verdict.failures),
            outcome.reason, max(0.0, verdict.not_before - time.time()))
        return "deferred"

    def corrupt(self, claim: Claim, reason: str, message: str, field: str | None) -> str:
        """Send an invalid handoff to corrupt/ with its reason."""
        try:
            self.ask("quarantine", MarkCorrupt(
                claim=claim.ref, name=claim.name, reason=reason, message=message, field=field,
            ))
        except FileNotFoundError:
            return "vanished"
        except Exception as exc:
            return self.hand_back(claim, f"cannot move the corrupt handoff: {exc}", exc)
        return "corrupt"

    def ask(self, actor: str, message: Any) -> Any:
        """Ask a peer, retrying a few times over a couple of seconds when a write
        fails (OSError: ENOSPC, EIO) or the peer is restarting. The last error
        propagates."""
        return self.retrying(lambda: self.runtime.peers.ask(actor, message, ASK_TIMEOUT), actor,
                             retry_on=(OSError, TimeoutError, pykka.ActorDeadError),
                             give_up_on=(FileNotFoundError,))

    def hand_back(self, claim: Claim, why: str, exc: BaseException | None = None) -> str:
        """Bookkeeping failed even after retries: give the claim back as it is
        (same attempt key, so nothing is counted twice). The watcher finds it
        again and the handoff is redone; nothing is lost.

        When `exc` says the state root is full or read-only, that is the root's
        condition, not this handoff's: the watcher is told (it pauses claiming and
        says so once), and this hand-back is logged at debug only."""
        if exc is not None and self.report_disk(exc):
            self.log.debug("{}; handing {!r} back to be redone", why, claim.name)
        else:
            self.log.warning("{}; handing {!r} back to be redone", why, claim.name)
        return self.give_back(claim)

    def give_back(self, claim: Claim) -> str:
        """Back to the queue untouched. On a read-only root it cannot move: it
        stays claimed (off the work board), and the watcher hands it back once
        the root can be written again."""
        try:
            return "requeued" if self.backend.hand_back(claim) else "vanished"
        except OSError as exc:
            if not self.report_disk(exc):
                raise
            self.log.debug("{!r} stays claimed until the state root can be written",
                           claim.name)
            return "held"

    def metric(self, event: str, *, meta_repair: bool = False, **fields: Any) -> None:
        """Tell telemetry one metrics line; `meta_repair` is true exactly when a
        repair strategy produced the result."""
        line = MetricLine(ts=rfc3339(time.time()), event=event, instance=self.runtime.instance,
                          meta_repair=meta_repair, **fields)
        self.runtime.peers.tell("telemetry", RecordMetric(line=line))


def _is_utf8(name: str) -> bool:
    """True when a file name (decoded with surrogateescape) is UTF-8 text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
