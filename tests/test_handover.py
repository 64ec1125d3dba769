"""How one handoff hands over to the next: a repairer takes its next handoff while
the last one's bookkeeping finishes, and telemetry commits a lone finish at once and
the finishes that queue up meanwhile with one group commit. Real actors, real files, real renames;
where a repairer is stood in for, the test says so."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar, cast

import msgspec
import pykka
import pytest

from conftest import PASSING, metric_lines, names, running, spec_sha256, submit, variant, wait_for
from repairlab.actors.base import Runtime, SpareClaim, SupervisedActor
from repairlab.actors.repairer import Repairer
from repairlab.actors.telemetry import Telemetry
from repairlab.actors.watcher import Watcher
from repairlab.messages.commands import (
    Dispatched,
    FinishRepair,
    Ping,
    RepairBundle,
    Settled,
    WorkerFree,
)
from repairlab.messages.records import Challenger, MetricLine, TestCounts, rfc3339
from repairlab.state.backend import Claim
from repairlab.state.challengers import ChallengerStore
from repairlab.state.claims import Claims
from repairlab.state.fsops import move_unique
from repairlab.state.layout import Layout
from repairlab.state.liveness import PeerWatch
from repairlab.state.settle import SettleNotes
from repairlab.supervision.work_board import WorkBoard

pytestmark = pytest.mark.timeout(120)


def _runtime(make_config: Any, **sections: Any) -> Runtime:
    config = make_config(**sections)
    layout = Layout.from_config(config)
    layout.ensure()
    return Runtime(config=config, layout=layout, instance=config.instance.id)


def _claimed(runtime: Runtime, files: dict[str, str], name: str) -> Path:
    submit(runtime.layout, files, name)
    path = Claims(runtime.layout, runtime.instance).claim(name)
    assert path is not None
    return path


def _finish(runtime: Runtime, claim: Path, files: dict[str, str]) -> FinishRepair:
    sha = spec_sha256(files)
    challenger = Challenger(
        tool="calc", lineage=None, handoff_id=None, bundle_sha256=sha, repaired_sha256=sha,
        repair_strategy="noop", repair_pattern_id=None, repair_attempts=0,
        repair_details={"note": "already passing"}, files=files, diff="",
        tests=TestCounts(passed=2, failed=0, duration_s=0.01), instance=runtime.instance,
        created_at=rfc3339(time.time()), handoff_name=claim.name)
    line = MetricLine(ts=rfc3339(time.time()), event="repaired", instance=runtime.instance,
                      meta_repair=True, bundle_sha256=sha, handoff=claim.name,
                      repair_strategy="noop")
    return FinishRepair(claim=str(claim), name=claim.name, challenger=challenger, line=line)


def _counting_syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the directory fsyncs of the challenger store (the real ones still run)."""
    calls: list[int] = []
    real = ChallengerStore.sync

    def sync(self: ChallengerStore) -> None:
        calls.append(1)
        real(self)

    monkeypatch.setattr(ChallengerStore, "sync", sync)
    return calls


def test_a_lone_finish_on_an_idle_telemetry_is_committed_at_once(
    make_config: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing else is pending, so nothing is waited for: by the time telemetry has
    # answered the next message, the challenger is durable and the handoff done.
    runtime = _runtime(make_config)
    syncs = _counting_syncs(monkeypatch)
    files = variant(PASSING, 11)
    finish = _finish(runtime, _claimed(runtime, files, "alone.json"), files)
    ref = Telemetry.start(runtime, "telemetry")
    try:
        ref.tell(finish)
        assert ref.ask(Ping(), timeout=30) is True
        assert names(runtime.layout.done) == ["alone.json"]
        assert len(names(runtime.layout.challengers)) == 1
        assert len(syncs) == 1
    finally:
        ref.stop()


def test_finishes_that_queue_up_during_a_commit_share_the_next_one(
    make_config: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under load: while one commit's fsyncs run, four more finishes arrive; they
    # are committed together by one more commit, not one each.
    runtime = _runtime(make_config)
    calls: list[int] = []
    release = threading.Event()
    real = ChallengerStore.sync

    def slow_sync(self: ChallengerStore) -> None:
        calls.append(1)
        if len(calls) == 1:
            release.wait(30)
        real(self)

    monkeypatch.setattr(ChallengerStore, "sync", slow_sync)
    bundles = [variant(PASSING, i) for i in range(5)]
    finishes = [_finish(runtime, _claimed(runtime, files, f"h{i}.json"), files)
                for i, files in enumerate(bundles)]
    ref = Telemetry.start(runtime, "telemetry")
    try:
        ref.tell(finishes[0])
        wait_for(lambda: len(calls) == 1, timeout=30, what="the first commit")
        for finish in finishes[1:]:
            ref.tell(finish)
        release.set()
        wait_for(lambda: len(names(runtime.layout.done)) == 5, timeout=30, what="done/")
    finally:
        release.set()
        ref.stop()
    assert len(calls) == 2
    challengers = names(runtime.layout.challengers)
    assert len(challengers) == 5
    lines = [m for m in metric_lines(runtime.layout) if m["event"] == "repaired"]
    assert sorted(m["handoff"] for m in lines) == [f"h{i}.json" for i in range(5)]
    assert sorted(m["challenger"] for m in lines) == challengers
    assert not any(m["duplicate"] for m in lines)
    assert Claims(runtime.layout, runtime.instance).held() == []


def test_a_clean_stop_finishes_what_telemetry_has_gathered(make_config):
    runtime = _runtime(make_config)
    files = variant(PASSING, 7)
    finish = _finish(runtime, _claimed(runtime, files, "last.json"), files)
    ref = Telemetry.start(runtime, "telemetry")
    ref.tell(finish)
    ref.stop()
    assert names(runtime.layout.done) == ["last.json"]
    assert len(names(runtime.layout.challengers)) == 1
    assert [m["handoff"] for m in metric_lines(runtime.layout)] == ["last.json"]


def test_a_handoff_given_after_shutdown_began_goes_back_untouched(make_config):
    runtime = _runtime(make_config)
    board = WorkBoard()
    runtime.report = board.apply
    claim = _claimed(runtime, PASSING, "late.json")
    before = claim.stat()
    board.apply(Dispatched(worker="repairer-0", claim=str(claim), name="late.json"))
    runtime.stopping.set()
    ref = Repairer.start(runtime, "repairer-0")
    try:
        outcome = ref.ask(RepairBundle(claim=str(claim), name="late.json"), timeout=60)
    finally:
        ref.stop()
    assert outcome == "requeued"
    back = runtime.layout.queue / "late.json"
    assert (back.stat().st_ino, back.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert board.snapshot() == {}
    assert metric_lines(runtime.layout) == []


class _Recorder(pykka.ThreadingActor):
    """Stands in for another actor and does nothing but record each message of
    `kind` it is told (a watcher that dispatches nothing, a repairer that repairs
    nothing); asked anything, it answers with what it recorded."""

    def __init__(self, kind: type) -> None:
        super().__init__()
        self.kind = kind
        self.heard: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, self.kind):
            self.heard.append(message)
        return list(self.heard)


def _asked(recorder: pykka.ActorRef[Any]) -> list[Any]:
    """What a `_Recorder` has recorded so far."""
    return cast("list[Any]", recorder.ask("heard?", timeout=10))


def test_a_repairer_that_comes_free_takes_the_spare_itself_without_the_watcher(
        make_config: Any) -> None:
    # Real repairer, engine, runner and telemetry; the watcher is a listener that
    # never dispatches. The spare still runs: the repairer took it from the slot
    # when its first repair's test runs were over, and said so in its WorkerFree.
    runtime = _runtime(make_config)
    board = WorkBoard()
    runtime.report = board.apply
    runtime.board = board.snapshot
    first = _claimed(runtime, variant(PASSING, 21), "first.json")
    spare = _claimed(runtime, variant(PASSING, 22), "spare.json")
    runtime.spare.offer(Claim(ref=str(spare), name="spare.json"), ["repairer-0"])
    listener = _Recorder.start(WorkerFree)
    runtime.peers.set("watcher", listener)
    telemetry = Telemetry.start(runtime, "telemetry")
    runtime.peers.set("telemetry", telemetry)
    board.apply(Dispatched(worker="repairer-0", claim=str(first), name="first.json"))
    repairer = Repairer.start(runtime, "repairer-0")
    runtime.peers.set("repairer-0", repairer)
    try:
        repairer.tell(RepairBundle(claim=str(first), name="first.json"))
        wait_for(lambda: names(runtime.layout.done) == ["first.json", "spare.json"], timeout=60,
                 what="both handoffs done")
        wait_for(lambda: len(_asked(listener)) == 2, timeout=10, what="two WorkerFree")
        heard: list[WorkerFree] = _asked(listener)
    finally:
        repairer.stop()
        telemetry.stop()
        listener.stop()
    assert [(m.name, m.took, m.took_name) for m in heard] == [
        ("first.json", str(spare), "spare.json"), ("spare.json", None, None)]
    assert runtime.spare.take() is None
    assert board.snapshot() == {}


def test_a_repairer_takes_no_spare_not_offered_to_it_nor_once_shutdown_began(
        make_config: Any) -> None:
    runtime = _runtime(make_config)
    spare = Claim(ref="a", name="a.json")
    runtime.spare.offer(spare, ["repairer-1"])  # repairer-0 retired by a reload
    repairer = Repairer.start(runtime, "repairer-0")
    try:
        assert repairer.proxy().take_spare().get(timeout=30) is None
        assert runtime.spare.take() == spare  # still there; the watcher takes any
        runtime.spare.offer(spare, ["repairer-0"])
        runtime.stopping.set()
        assert repairer.proxy().take_spare().get(timeout=30) is None
        assert runtime.spare.since() is not None
    finally:
        repairer.stop()


def test_the_spare_slot_is_taken_whole() -> None:
    # Taking is atomic with what the taker does in `then`: a second taker waits.
    slot = SpareClaim()
    slot.offer(Claim(ref="a", name="a.json"), ["repairer-0"])
    others: list[Claim | None] = []

    def then(claim: Claim) -> None:
        other = threading.Thread(target=lambda: others.append(slot.take()))
        other.start()
        other.join(0.3)
        assert other.is_alive()  # blocked on the slot while this taker writes its board
        others.append(claim)

    assert slot.take(by="repairer-0", then=then) == Claim(ref="a", name="a.json")
    wait_for(lambda: len(others) == 2, timeout=5, what="the second taker")
    assert others == [Claim(ref="a", name="a.json"), None]


def test_a_restarted_watcher_frees_a_worker_whose_word_it_missed(make_config):
    # The worker said WorkerFree to the watcher that crashed; the new watcher
    # rebuilds "busy" from the work board and frees the worker once its claim
    # leaves the board (no message tells it so: it reads the board on its tick).
    runtime = _runtime(make_config, repair={"workers": 1})
    board = WorkBoard()
    runtime.report = board.apply
    runtime.board = board.snapshot
    bookkeeping = _claimed(runtime, variant(PASSING, 1), "first.json")
    board.apply(Dispatched(worker="repairer-0", claim=str(bookkeeping), name="first.json"))
    submit(runtime.layout, variant(PASSING, 2), "second.json")
    recorder = _Recorder.start(RepairBundle)
    runtime.peers.set("repairer-0", recorder)
    watcher = Watcher.start(runtime, "watcher", workers=("repairer-0",), fresh=False)
    try:
        time.sleep(1.2)  # two ticks and more dispatch chances: the worker is busy
        assert _asked(recorder) == []
        assert bookkeeping.exists()  # on the board: not handed back either
        move_unique(bookkeeping, runtime.layout.done, "first.json")
        # what the repairer writes on the board once the handoff is settled
        runtime.report(Settled(worker="repairer-0", claim=str(bookkeeping)))
        wait_for(lambda: [m.name for m in _asked(recorder)] == ["second.json"], timeout=10,
                 what="the next handoff given to the freed worker")
    finally:
        watcher.stop()
        recorder.stop()


class _CrashesInBookkeeping(SupervisedActor):
    """Stands in for a repairer (no repair engine): its first incarnation says
    WorkerFree, waits until the watcher has given it the next handoff, then
    crashes in the first one's bookkeeping; later ones move claims to done/."""

    kind = "repairer"
    crashed = threading.Event()
    board: WorkBoard | None = None  # the daemon's, set by the test

    def handle(self, message: Any) -> Any:
        match message:
            case RepairBundle(claim=claim, name=name):
                if not type(self).crashed.is_set():
                    self.runtime.peers.tell("watcher", WorkerFree(worker=self.name, name=name))
                    # The test sets the board once `running` hands it the daemon,
                    # which may be after this first handoff arrives.
                    wait_for(lambda: type(self).board is not None, timeout=10,
                             what="the daemon's work board, set by the test")
                    board = type(self).board
                    assert board is not None
                    wait_for(lambda: len(board.snapshot()) == 2, timeout=10,
                             what="the next handoff given during bookkeeping")
                    type(self).crashed.set()
                    raise RuntimeError("injected: crash while writing up a repair")
                move_unique(Path(claim), self.runtime.layout.done, name)
                self.settled(claim)
                self.runtime.peers.tell("watcher", WorkerFree(worker=self.name, name=name))
        return None


def test_a_worker_crashing_in_bookkeeping_gives_back_both_handoffs_it_held(make_config):
    config = make_config(repair={"workers": 1})
    layout = Layout.from_config(config)
    _CrashesInBookkeeping.crashed.clear()
    _CrashesInBookkeeping.board = None
    submit(layout, variant(PASSING, 1), "a.json")
    submit(layout, variant(PASSING, 2), "b.json")
    with running(config, extra_actors={"repairer-0": _CrashesInBookkeeping}) as daemon:
        _CrashesInBookkeeping.board = daemon.board
        wait_for(lambda: names(layout.done) == ["a.json", "b.json"], timeout=60, what="done/")
        assert _CrashesInBookkeeping.crashed.is_set()
        wait_for(lambda: daemon.board.snapshot() == {}, timeout=10, what="empty board")
    assert names(layout.queue) == []
    assert Claims(layout, config.instance.id).held() == []
    restarted = [m for m in metric_lines(layout) if m["event"] == "actor_restarted"]
    assert [m["actor"] for m in restarted] == ["repairer-0"]


def _repaired(layout: Layout) -> list[dict[str, Any]]:
    return [m for m in metric_lines(layout) if m["event"] == "repaired"]


def _settles_once_then_as_a_duplicate(config: Any, layout: Layout) -> None:
    """The first handoff ends with one line, duplicate=false; a later copy of its
    files is settled as a duplicate of the same challenger, not repaired again."""
    with running(config):
        submit(layout, PASSING, "first.json")
        wait_for(lambda: names(layout.done) == ["first.json"] and bool(_repaired(layout)),
                 timeout=60, what="first.json done with its line")
        submit(layout, PASSING, "again.json")
        wait_for(lambda: len(_repaired(layout)) >= 2, timeout=60, what="the duplicate's line")
        time.sleep(0.3)  # a second line for first.json would come now
    lines = _repaired(layout)
    first = [m for m in lines if m["handoff"] == "first.json"]
    again = [m for m in lines if m["handoff"] == "again.json"]
    assert len(first) == 1, first
    assert first[0]["duplicate"] is False
    assert len(again) == 1 and again[0]["duplicate"] is True
    assert again[0]["candidates"] == 0, "the duplicate was repaired again"
    challengers = names(layout.challengers)
    assert len(challengers) == 1
    assert first[0]["challenger"] == again[0]["challenger"] == challengers[0]
    assert sorted(names(layout.done)) == ["again.json", "first.json"]
    assert Claims(layout, config.instance.id).held() == []


def test_a_crash_between_the_move_to_done_and_the_metrics_line_loses_no_line(
        make_config: Any) -> None:
    config = make_config(faults={"points": {"telemetry.settle": "crash#1"}})
    layout = Layout.from_config(config)
    _settles_once_then_as_a_duplicate(config, layout)
    restarted = [m for m in metric_lines(layout) if m["event"] == "actor_restarted"]
    assert [m["actor"] for m in restarted] == ["telemetry"]  # the crash did happen


def test_a_challenger_adopted_after_its_writer_crashed_is_the_first_repair_not_a_duplicate(
        make_config: Any) -> None:
    config = make_config(faults={"points": {"telemetry.challenger_publish": "crash#1"}})
    layout = Layout.from_config(config)
    _settles_once_then_as_a_duplicate(config, layout)
    restarted = [m for m in metric_lines(layout) if m["event"] == "actor_restarted"]
    assert [m["actor"] for m in restarted] == ["telemetry"]


def test_a_peer_finishes_the_settling_of_an_instance_that_died_between_done_and_its_line(
        make_config: Any) -> None:
    runtime = _runtime(make_config)
    layout = runtime.layout
    dead = Runtime(config=runtime.config, layout=layout, instance="dead")
    moved = _finish(dead, _claimed(dead, variant(PASSING, 1), "moved.json"), variant(PASSING, 1))
    kept = _finish(dead, _claimed(dead, variant(PASSING, 2), "kept.json"), variant(PASSING, 2))
    lost = _finish(dead, _claimed(dead, variant(PASSING, 3), "lost.json"), variant(PASSING, 3))
    notes = SettleNotes(layout, "dead")
    for finish in (moved, kept, lost):  # as telemetry notes them, after publishing
        public = f"challenger_{finish.name}"
        if finish is not lost:  # its challenger did not survive (a power loss)
            (layout.challengers / public).write_text("{}")
        notes.write(Path(finish.claim), msgspec.structs.replace(finish.line, challenger=public))
    move_unique(Path(moved.claim), layout.done, "moved.json")  # then the process died
    clock = [0.0]
    survivor = Claims(layout, runtime.instance)
    survivor.peers = PeerWatch(layout, runtime.instance, monotonic=lambda: clock[0])
    appended: list[MetricLine] = []
    assert survivor.recover_stale(2, appended.append) == 0  # first look: not dead yet
    assert appended == [] and notes.has("moved.json")
    clock[0] += 2
    survivor.recover_stale(2, appended.append)
    assert sorted(line.handoff or "" for line in appended) == ["kept.json", "moved.json"]
    assert names(layout.done) == ["kept.json", "moved.json"]  # rolled forward, not redone
    assert names(layout.queue) == ["lost.json"]  # no challenger to point at: redone
    assert not layout.claims_of("dead").exists()


class _GatedRepairer(SupervisedActor):
    """Stands in for a repairer (no repair engine, said so here): moves each claim
    straight to done/, except that a handoff named in `gates` first waits for its
    event, keeping the worker busy for as long as the test wants."""

    kind = "repairer"
    gates: ClassVar[dict[str, threading.Event]] = {}

    def handle(self, message: Any) -> Any:
        match message:
            case RepairBundle(claim=claim, name=name):
                gate = type(self).gates.get(name)
                if gate is not None:
                    assert gate.wait(60), f"the test never opened {name}'s gate"
                move_unique(Path(claim), self.runtime.layout.done, name)
                self.settled(claim)
                self.runtime.peers.tell("watcher", WorkerFree(worker=self.name, name=name))
        return None


def _held_steadily(held: Any, count: int, seconds: float) -> bool:
    """`held()` has `count` claims all through `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(held()) != count:
            return False
        time.sleep(0.05)
    return True


def test_while_repairs_are_short_the_watcher_holds_one_spare_claim_and_gives_back_one_left_waiting(
        make_config):
    from repairlab.actors.watcher import AHEAD_SAMPLE, SPARE_WAIT_SECONDS

    config = make_config(repair={"workers": 1})
    layout = Layout.from_config(config)
    count = AHEAD_SAMPLE + 4
    first, busy = "h00.json", f"h{AHEAD_SAMPLE:02d}.json"  # both gated
    spare = f"h{AHEAD_SAMPLE + 1:02d}.json"  # claimed ahead while `busy` is worked on
    _GatedRepairer.gates = {first: threading.Event(), busy: threading.Event()}
    for i in range(count):
        submit(layout, variant(PASSING, i), f"h{i:02d}.json")
    with running(config, extra_actors={"repairer-0": _GatedRepairer}) as daemon:
        held = Claims(layout, config.instance.id).held
        # No repair has been timed yet: one claim for the one worker, no spare.
        wait_for(lambda: len(held()) == 1, timeout=10, what="the first claim")
        assert _held_steadily(held, 1, SPARE_WAIT_SECONDS + 0.5)
        _GatedRepairer.gates[first].set()
        # After short repairs, while the worker is busy, one claim more is held...
        wait_for(lambda: len(held()) == 2, timeout=20, what="a spare claim beside the busy one")
        assert names(layout.queue) == [f"h{i:02d}.json" for i in range(AHEAD_SAMPLE + 2, count)]
        # ...until it has waited too long: back to the queue, and not claimed again
        # while that worker stays busy.
        wait_for(lambda: spare in names(layout.queue), timeout=SPARE_WAIT_SECONDS + 5,
                 what="the unused spare back in queue/")
        assert _held_steadily(held, 1, SPARE_WAIT_SECONDS + 0.5)
        _GatedRepairer.gates[busy].set()
        wait_for(lambda: len(names(layout.done)) == count, timeout=30, what="all done")
        wait_for(lambda: daemon.board.snapshot() == {}, timeout=10, what="empty board")
    assert held() == [] and names(layout.queue) == []
