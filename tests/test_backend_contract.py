"""The contract of `state/backend.py`, one suite run against both backends: the
filesystem (`state/fs_backend.py`, one host) and PostgreSQL (`state/pg/`, a real
server started by the tests). Each test speaks only the interface, so a
transition means the same on either."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from cli.submit import build_handoff
from config import Config
from conftest import FAILING, PASSING, spec_sha256, variant
from errors import UsageError
from messages.records import Challenger, FailureRecord, MetricLine, TestCounts, rfc3339
from state.backend import Backend, Claim, Corrupt, Failure, Finish, Vanished

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["filesystem", "postgres"])
def backend_for(request: pytest.FixtureRequest, make_config: Callable[..., Config]
                ) -> Iterator[Callable[..., Backend]]:
    """`backend_for("a", **config sections)`: instance a's backend of this test's
    store (one state root, or one database), closed after the test."""
    kind = request.param
    dsn = ""
    if kind == "postgres":
        pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
        dsn = request.getfixturevalue("pg_database")()
    made: list[Backend] = []

    def make(who: str, /, **sections: dict[str, Any]) -> Backend:
        sections.setdefault("backend", {}).update(kind=kind, dsn=dsn)
        config = make_config(**sections)
        if kind == "postgres":
            from state.pg.backend import PostgresBackend
            backend: Backend = PostgresBackend(config, who)
        else:
            fs = pytest.importorskip("state.fs_backend",
                                     reason="the filesystem backend (state/fs_backend.py) is "
                                            "not on this branch yet")
            config.root.mkdir(parents=True, exist_ok=True)
            backend = fs.FilesystemBackend(config, who)
        made.append(backend)
        return backend
    yield make
    for backend in made:
        backend.close()


def handoff(files: dict[str, str] = PASSING) -> bytes:
    return build_handoff(files, "calc", "calc.py", "calc-line")


def claim(backend: Backend) -> Claim:
    got = backend.claim_next()
    assert got is not None
    return got


def finish(backend: Backend, held: Claim, files: dict[str, str] = PASSING) -> Finish:
    sha = spec_sha256(files)
    line = MetricLine(ts=rfc3339(time.time()), event="repaired", instance=backend.instance,
                      meta_repair=True, bundle_sha256=sha, tool="calc", lineage="calc-line",
                      repair_strategy="noop", repair_attempts=0, duration_s=0.1,
                      handoff=held.name)
    challenger = Challenger(
        tool="calc", lineage="calc-line", handoff_id=None, bundle_sha256=sha,
        repaired_sha256=sha, repair_strategy="noop", repair_pattern_id=None, repair_attempts=0,
        repair_details={"note": "already passing"}, files=files, diff="",
        tests=TestCounts(passed=2, failed=0, duration_s=0.1), instance=backend.instance,
        created_at=rfc3339(time.time()), handoff_name=held.name)
    return Finish(claim=held, line=line, challenger=challenger)


def failure(backend: Backend, held: Claim, files: dict[str, str] = FAILING) -> Failure:
    sha = spec_sha256(files)
    key = backend.open(held, 1 << 20).key
    record = FailureRecord(ts=rfc3339(time.time()), instance=backend.instance,
                           reason="tests failed", key=key, handoff=held.name)
    line = MetricLine(ts=rfc3339(time.time()), event="repair_failed",
                      instance=backend.instance, meta_repair=False, bundle_sha256=sha,
                      tool="calc", lineage="calc-line", handoff=held.name)
    return Failure(claim=held, bundle_sha256=sha, record=record, line=line, tool="calc",
                   lineage="calc-line", last_test_output="1 failed")


def all_events(backend: Backend) -> list[MetricLine]:
    return [line for batch in backend.event_batches() for line in batch]


def test_a_submitted_handoff_is_claimed_once_and_settles_with_one_challenger_and_event(
        backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a")
    a.submit("h.json", handoff())
    held = claim(a)
    assert held.name == "h.json" and a.claim_next() is None
    assert a.held() == [held]  # the very ref claim_next gave
    opened = a.open(held, 1 << 20)
    assert msgspec.json.decode(opened.data)["files"] == PASSING
    [settled] = a.settle([finish(a, held)])
    assert not settled.vanished and settled.line is not None
    assert settled.line.duplicate is False and settled.line.challenger
    [(name, body)] = list(a.challengers())
    assert name == settled.line.challenger
    assert msgspec.json.decode(body, type=Challenger).bundle_sha256 == spec_sha256(PASSING)
    assert [x.event for x in all_events(a)] == ["repaired"]
    status = a.status()
    assert (status.queue, status.in_flight, status.done, status.challengers) == (0, 0, 1, 1)
    assert a.idle()


def test_the_same_bundle_again_is_done_pointing_at_the_existing_challenger(
        backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a")
    a.submit("one.json", handoff())
    [first] = a.settle([finish(a, claim(a))])
    a.submit("two.json", handoff())
    held = claim(a)
    before = a.repaired_before(spec_sha256(PASSING))
    assert before is not None and first.line is not None
    assert (before.name, before.strategy) == (first.line.challenger, "noop")
    line = msgspec.structs.replace(finish(a, held).line, challenger=before.name, duplicate=True)
    [second] = a.settle([Finish(claim=held, line=line)])
    assert second.line is not None and second.line.challenger == before.name
    assert len(list(a.challengers())) == 1
    assert a.status().done == 2


def test_two_instances_claiming_at_once_never_take_the_same_handoff(
        backend_for: Callable[..., Backend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    for n in range(30):
        a.submit(f"h{n}.json", handoff(variant(PASSING, n)))
    taken: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def drain(backend: Backend) -> None:
        start.wait()
        while (got := backend.claim_next()) is not None:
            taken[backend.instance].append(got.name)
    threads = [threading.Thread(target=drain, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    names = taken["a"] + taken["b"]
    assert sorted(names) == sorted(f"h{n}.json" for n in range(30))


def test_failures_back_off_then_quarantine_and_a_release_forgets_them(
        backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a", failure_window={"max_failures": 2, "window_seconds": 600},
                    backoff={"base_seconds": 0.2, "max_seconds": 0.2})
    a.submit("bad.json", handoff(FAILING))
    first = a.fail(failure(a, claim(a)))
    assert not first.quarantine and len(first.failures) == 1
    assert a.claim_next() is None  # backing off
    assert a.status().waiting == 1
    time.sleep(0.3)
    held = claim(a)
    failed = failure(a, held)
    second = a.fail(failed)
    assert second.quarantine and len(second.failures) == 2
    with pytest.raises(Vanished):
        a.fail(failed)  # no longer held: nothing is recorded twice
    [entry] = a.quarantined()
    assert (entry.name, entry.failures, entry.bundle_sha256) == ("bad.json", 2,
                                                                 spec_sha256(FAILING))
    assert a.quarantine_detail("bad.json").last_test_output == "1 failed"
    released = a.release("bad.json")
    assert released.failures_cleared == 2
    with pytest.raises(UsageError):
        a.release("bad.json")
    again = a.fail(failure(a, claim(a)))
    assert not again.quarantine and len(again.failures) == 1
    events = [x.event for x in all_events(a)]
    assert events.count("repair_failed") == 3 and events.count("quarantined") == 1
    assert "released" in events


def test_a_handoff_given_back_is_claimable_again_untouched(
        backend_for: Callable[..., Backend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    a.submit("h.json", handoff())
    held = claim(a)
    key = a.open(held, 1 << 20).key
    assert a.hand_back(held)
    assert a.held() == []
    again = claim(b)
    assert again.name == "h.json" and b.open(again, 1 << 20).key == key
    [settled] = a.settle([finish(a, held)])
    assert settled.vanished  # the old claim settles nothing
    assert a.status().done == 0


def test_a_lapsed_claim_is_taken_back_and_its_late_settle_changes_nothing(
        backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a", instance={"lease_seconds": 0.5})
    b = backend_for("b", instance={"lease_seconds": 0.5})
    a.submit("h.json", handoff())
    a.renew()
    held = claim(a)
    deadline = time.monotonic() + 20
    while b.recover_stale(lambda line: None) == 0:
        assert time.monotonic() < deadline, "the lapsed claim was never taken back"
        b.renew()
        time.sleep(0.2)
    again = claim(b)
    [late] = a.settle([finish(a, held)])
    assert late.vanished and late.line is None
    with pytest.raises(Vanished):
        a.fail(failure(a, held))
    [settled] = b.settle([finish(b, again)])
    assert not settled.vanished
    assert len(list(b.challengers())) == 1
    assert [(x.event, x.instance) for x in all_events(b) if x.event == "repaired"] \
        == [("repaired", "b")]


def test_an_invalid_handoff_held_is_marked_corrupt_with_its_event(
        backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a")
    a.submit("h.json", handoff())
    held = claim(a)
    a.mark_corrupt(Corrupt(claim=held, reason="field", message="files: not an object",
                           field="files"))
    assert a.status().corrupt == 1 and a.held() == []
    assert [x.event for x in all_events(a)] == ["corrupt"]


def test_an_event_reader_reads_on_from_its_cursor(backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a")
    a.record_event(MetricLine(ts=rfc3339(time.time()), event="actor_restarted", instance="a",
                              meta_repair=False, actor="watcher"))
    lines, cursor = a.events(None)
    assert [x.event for x in lines] == ["actor_restarted"]
    assert a.events(cursor)[0] == []
    a.record_event(MetricLine(ts=rfc3339(time.time()), event="pruned", instance="a",
                              meta_repair=False))
    assert [x.event for x in a.events(cursor)[0]] == ["pruned"]


def test_lineage_lists_a_repaired_bundle_of_the_tool(backend_for: Callable[..., Backend]) -> None:
    a = backend_for("a")
    a.submit("h.json", handoff())
    [settled] = a.settle([finish(a, claim(a))])
    [entry] = a.lineage("calc")
    assert (entry.status, entry.bundle_sha256) == ("repaired", spec_sha256(PASSING))
    assert settled.line is not None and entry.challenger == settled.line.challenger
    with pytest.raises(UsageError):
        a.lineage("nope")
