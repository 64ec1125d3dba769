"""The contract of the seam (`state/backend.py`), the same for every backend.

One suite, parametrized over the `make_backend` fixture: each test gets a fresh
store (a state root under tmp_path; for PostgreSQL a fresh database on the
throwaway server of `tests/pg_server.py`, skipped naming the binary where
PostgreSQL is not installed) and makes one or more instances on it. Only the
backend's methods are used, never a file or a table, so what passes here holds
for every implementation. To add a backend: one entry in `STORES` (how to make
a fresh store and its config sections).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import PASSING, spec_sha256, variant
from repairlab.cli.submit import build_handoff
from repairlab.errors import UsageError
from repairlab.messages.records import Challenger, MetricLine, TestCounts, rfc3339
from repairlab.state.backend import (
    Backend,
    Claim,
    Corrupt,
    Failure,
    Finish,
    Vanished,
    open_backend,
)
from repairlab.state.failures import new_record
from repairlab.state.layout import Layout

pytestmark = pytest.mark.timeout(120)

MakeBackend = Callable[..., Backend]


def _filesystem_store(request: pytest.FixtureRequest, tmp_path: Path,
                      make_config: Callable[..., Any]) -> dict[str, Any]:
    """A fresh state root (the daemon makes its directories at start)."""
    Layout.from_config(make_config()).ensure()
    return {}


def _postgres_store(request: pytest.FixtureRequest, tmp_path: Path,
                    make_config: Callable[..., Any]) -> dict[str, Any]:
    """A fresh migrated database (conftest's `pg_database`), and the local root
    each instance keeps its `queue/` and `metrics.jsonl` in."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    dsn = request.getfixturevalue("pg_database")()
    Layout.from_config(make_config()).ensure()
    return {"backend": {"dsn": dsn}}


# kind -> a function that makes a fresh store and returns its config sections
STORES: dict[str, Callable[[pytest.FixtureRequest, Path, Callable[..., Any]], dict[str, Any]]] = {
    "filesystem": _filesystem_store,
    "postgres": _postgres_store,
}


@pytest.fixture(params=list(STORES))
def make_backend(request: pytest.FixtureRequest, tmp_path: Path,
                 make_config: Callable[..., Any]) -> Iterator[MakeBackend]:
    """`make_backend(instance_id, **sections)`: an instance on one fresh store
    of the parametrized kind (several calls: several instances, one store)."""
    store = STORES[request.param](request, tmp_path, make_config)
    made: list[Backend] = []

    def make(instance_id: str = "inst-a", /, **sections: dict[str, Any]) -> Backend:
        merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in store.items()}
        merged.setdefault("backend", {})["kind"] = request.param
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        merged.setdefault("instance", {})["id"] = instance_id
        backend = open_backend(make_config(**merged), instance_id)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: MakeBackend) -> Backend:
    return make_backend("inst-a")


# -- helpers: producers and actors, as the daemon's actors would call ------------------


def _handoff(n: int = 0) -> tuple[bytes, str]:
    """A valid handoff of bundle variant `n`, and its bundle_sha256."""
    files = variant(PASSING, n)
    return build_handoff(files, "calc", "calc.py", "calc-line"), spec_sha256(files)


def _claim(backend: Backend) -> Claim:
    backend.rescan()
    claim = backend.claim_next()
    assert claim is not None, "nothing claimable"
    return claim


def _failure(backend: Backend, claim: Claim, sha: str, key: str | None = None) -> Failure:
    if key is None:
        key = backend.open(claim, 1 << 20).key
    line = MetricLine(ts=rfc3339(time.time()), event="repair_failed", instance=backend.instance,
                      meta_repair=False, bundle_sha256=sha, handoff=claim.name,
                      reason="tests failed")
    return Failure(claim=claim, bundle_sha256=sha,
                   record=new_record(key, backend.instance, "tests failed", claim.name),
                   line=line, tool="calc", lineage="calc-line", last_test_output="F")


def _finish(backend: Backend, claim: Claim, n: int = 0) -> Finish:
    files = variant(PASSING, n)
    sha = spec_sha256(files)
    challenger = Challenger(
        tool="calc", lineage="calc-line", handoff_id=None, bundle_sha256=sha,
        repaired_sha256=sha, repair_strategy="noop", repair_pattern_id=None, repair_attempts=0,
        repair_details={}, files=files, diff="",
        tests=TestCounts(passed=2, failed=0, duration_s=0.01), instance=backend.instance,
        created_at=rfc3339(time.time()), handoff_name=claim.name)
    line = MetricLine(ts=rfc3339(time.time()), event="repaired", instance=backend.instance,
                      meta_repair=True, bundle_sha256=sha, handoff=claim.name,
                      repair_strategy="noop", duplicate=False)
    return Finish(claim=claim, line=line, challenger=challenger)


def _events(backend: Backend) -> list[str]:
    return [line.event for batch in backend.event_batches() for line in batch]


def _wait_claimable(backend: Backend, timeout: float = 10.0) -> Claim:
    deadline = time.monotonic() + timeout
    while True:
        backend.rescan()
        claim = backend.claim_next()
        if claim is not None:
            return claim
        assert time.monotonic() < deadline, "the deferred handoff never became claimable"
        time.sleep(0.05)


def _lapse(owner: Backend, taker: Backend, timeout: float = 20.0) -> int:
    """`owner` stops renewing; `taker` keeps looking until it takes back what
    `owner` held (the lease is judged by the store: a whole lease must pass)."""
    deadline = time.monotonic() + timeout
    while True:
        taker.renew()
        recovered = taker.recover_stale(lambda line: None)
        if recovered:
            return recovered
        assert time.monotonic() < deadline, "the lapsed lease was never taken back"
        time.sleep(0.1)


# -- claims ------------------------------------------------------------------------------


def test_two_instances_racing_claim_each_handoff_exactly_once(make_backend: MakeBackend) -> None:
    a, b = make_backend("inst-a"), make_backend("inst-b")
    submitted = {a.submit(f"h{i:02d}.json", _handoff(i)[0]) for i in range(30)}
    got: dict[str, list[str]] = {"inst-a": [], "inst-b": []}
    start = threading.Barrier(2)

    def drain(backend: Backend) -> None:
        start.wait()
        backend.rescan()
        while (claim := backend.claim_next()) is not None:
            got[backend.instance].append(claim.name)
            backend.rescan()

    threads = [threading.Thread(target=drain, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    both = got["inst-a"] + got["inst-b"]
    assert sorted(both) == sorted(submitted)  # every one claimed, none twice
    assert {c.name for c in a.held()} == set(got["inst-a"])
    assert {c.name for c in b.held()} == set(got["inst-b"])
    assert a.claim_next() is None and b.claim_next() is None


def test_a_hand_back_keeps_the_attempt_key(backend: Backend) -> None:
    backend.submit("h.json", _handoff()[0])
    claim = _claim(backend)
    key = backend.open(claim, 1 << 20).key
    assert backend.hand_back(claim) is True
    assert backend.held() == []
    again = _claim(backend)
    assert again.name == "h.json"
    assert backend.open(again, 1 << 20).key == key
    assert backend.hand_back(again) is True
    assert backend.hand_back(again) is False  # no longer ours: nothing to give back


def test_a_handoff_given_back_is_claimed_by_another_instance_and_the_old_claim_settles_nothing(
        make_backend: MakeBackend) -> None:
    a, b = make_backend("inst-a"), make_backend("inst-b")
    a.submit("h.json", _handoff()[0])
    held = _claim(a)
    key = a.open(held, 1 << 20).key
    assert a.hand_back(held)
    again = _claim(b)
    assert again.name == "h.json" and b.open(again, 1 << 20).key == key
    [settled] = a.settle([_finish(a, held)])
    assert settled.vanished and settled.line is None  # the old claim settles nothing
    assert a.status().done == 0 and [c.name for c in b.held()] == ["h.json"]


def test_a_restarted_instance_holds_what_it_held_before_and_a_clean_stop_gives_it_back(
        make_backend: MakeBackend) -> None:
    first = make_backend("inst-a")
    for i in range(3):
        first.submit(f"h{i}.json", _handoff(i)[0])
    held = sorted([_claim(first).name, _claim(first).name])
    first.close()
    again = make_backend("inst-a")  # the same instance id after a restart
    assert sorted(c.name for c in again.held()) == held
    assert not again.idle()
    assert again.hand_back_all() == 2
    assert again.held() == []
    other = make_backend("inst-b")
    names = sorted(_claim(other).name for _ in range(3))
    assert names == ["h0.json", "h1.json", "h2.json"]


# -- failures ------------------------------------------------------------------------------


def test_a_failure_defers_with_backoff_then_quarantines_at_max_failures_with_a_reason(
        make_backend: MakeBackend) -> None:
    backend = make_backend(failure_window={"max_failures": 3, "window_seconds": 600},
                           backoff={"base_seconds": 0.4, "max_seconds": 1.0})
    data, sha = _handoff()
    backend.submit("h.json", data)
    keys = []
    for attempt in (1, 2):
        claim = _wait_claimable(backend)
        keys.append(backend.open(claim, 1 << 20).key)
        verdict = backend.fail(_failure(backend, claim, sha))
        assert not verdict.quarantine
        assert len(verdict.failures) == attempt
        assert backend.held() == []
        backend.rescan()
        assert backend.claim_next() is None, "claimable before its backoff passed"
        assert not backend.idle()
        assert backend.status().waiting == 1
    assert keys[0] != keys[1], "a deferral starts a new attempt"
    claim = _wait_claimable(backend)
    last = _failure(backend, claim, sha)
    verdict = backend.fail(last)
    assert verdict.quarantine and len(verdict.failures) == 3
    with pytest.raises(Vanished):
        backend.fail(last)  # no longer held: nothing is recorded twice
    assert backend.held() == [] and backend.idle()
    [entry] = backend.quarantined()
    assert entry.bundle_sha256 == sha and entry.failures == 3
    detail = backend.quarantine_detail(entry.name)
    assert detail.reason is not None and "3 failures" in detail.reason.rule
    assert detail.reason.last_test_output == "F"
    events = _events(backend)
    assert events.count("repair_failed") == 3 and events.count("quarantined") == 1


def test_a_redo_of_the_same_attempt_is_not_counted_twice(make_backend: MakeBackend) -> None:
    backend = make_backend(failure_window={"max_failures": 2, "window_seconds": 600})
    data, sha = _handoff()
    backend.submit("h1.json", data)
    backend.submit("h2.json", data)
    first = _claim(backend)
    key = backend.open(first, 1 << 20).key
    assert len(backend.fail(_failure(backend, first, sha, key)).failures) == 1
    # The same attempt recorded again (a redo after a crash): still one failure,
    # so the window (two) is not full.
    second = _claim(backend)
    verdict = backend.fail(_failure(backend, second, sha, key))
    assert not verdict.quarantine and len(verdict.failures) == 1


def test_racing_instances_make_the_same_quarantine_decision_once_each(
        make_backend: MakeBackend) -> None:
    window = {"failure_window": {"max_failures": 2, "window_seconds": 600},
              "backoff": {"base_seconds": 60, "max_seconds": 120}}  # first.json stays deferred
    a, b = make_backend("inst-a", **window), make_backend("inst-b", **window)
    data, sha = _handoff()
    a.submit("first.json", data)
    claim = _claim(a)
    assert not a.fail(_failure(a, claim, sha)).quarantine  # one in the window
    a.submit("x.json", data)
    a.submit("y.json", data)
    held = {a.instance: _claim(a), b.instance: _claim(b)}
    verdicts: dict[str, Any] = {}
    start = threading.Barrier(2)

    def fail(backend: Backend) -> None:
        start.wait()
        verdicts[backend.instance] = backend.fail(
            _failure(backend, held[backend.instance], sha))

    threads = [threading.Thread(target=fail, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(v.quarantine for v in verdicts.values()), verdicts
    entries = a.quarantined()
    assert sorted(e.name for e in entries) == ["x.json", "y.json"]  # each moved once
    assert a.held() == [] and b.held() == []


# -- settling -------------------------------------------------------------------------------


def test_settle_writes_one_challenger_and_a_duplicate_points_at_it(backend: Backend) -> None:
    data, sha = _handoff()
    for name in ("h1.json", "h2.json", "h3.json"):
        backend.submit(name, data)
    assert backend.repaired_before(sha) is None
    first = _claim(backend)
    assert backend.held() == [first]  # the very ref claim_next gave
    assert msgspec.json.decode(backend.open(first, 1 << 20).data)["files"] == variant(PASSING, 0)
    [settled] = backend.settle([_finish(backend, first)])
    assert settled.line is not None and not settled.vanished and settled.error is None
    assert not settled.line.duplicate and settled.line.challenger
    ref = backend.repaired_before(sha)
    assert ref is not None and ref.name == settled.line.challenger and ref.strategy == "noop"
    # The same result once more: no second challenger, the event points at the first.
    second = _claim(backend)
    [again] = backend.settle([_finish(backend, second)])
    assert again.line is not None and again.line.duplicate
    assert again.line.challenger == ref.name
    # Repaired before: settled with no challenger at all, the line as given.
    third = _claim(backend)
    line = _finish(backend, third).line
    dup = msgspec.structs.replace(line, challenger=ref.name, duplicate=True)
    [done] = backend.settle([Finish(claim=third, line=dup)])
    assert done.line is not None and done.line.challenger == ref.name
    assert backend.held() == [] and backend.idle()
    status = backend.status()
    assert (status.queue, status.in_flight, status.done, status.challengers) == (0, 0, 3, 1)
    [(name, body)] = list(backend.challengers())
    assert name == ref.name
    assert msgspec.json.decode(body, type=Challenger).bundle_sha256 == sha
    assert _events(backend) == ["repaired"] * 3


def test_settling_a_batch_settles_each_finish(backend: Backend) -> None:
    for i in range(4):
        backend.submit(f"h{i}.json", _handoff(i)[0])
    claims = [_claim(backend) for _ in range(4)]
    results = backend.settle([_finish(backend, c, i) for i, c in enumerate(claims)])
    assert [r.claim for r in results] == claims
    assert all(r.line is not None and not r.line.duplicate for r in results)
    assert len({r.line.challenger for r in results if r.line}) == 4
    assert backend.held() == []


def test_mark_corrupt_moves_the_handoff_out_with_its_reason_and_its_event(
        backend: Backend) -> None:
    backend.submit("bad.json", _handoff()[0])  # the repairer finds it invalid (a limit)
    claim = _claim(backend)
    placed = backend.mark_corrupt(Corrupt(claim=claim, reason="field",
                                          message="files: too many", field="files"))
    assert placed.endswith(".json")
    assert backend.held() == [] and backend.idle()
    assert backend.status().corrupt == 1
    assert _events(backend) == ["corrupt"]
    with pytest.raises(Vanished):
        backend.mark_corrupt(Corrupt(claim=claim, reason="json", message="again"))


# -- leases ---------------------------------------------------------------------------------


def test_a_lapsed_lease_is_taken_back_and_its_late_settle_or_failure_changes_nothing(
        make_backend: MakeBackend) -> None:
    lease = {"instance": {"lease_seconds": 0.5}}
    a, b = make_backend("inst-a", **lease), make_backend("inst-b", **lease)
    data, sha = _handoff()
    a.submit("h.json", data)
    a.renew()
    claim = _claim(a)
    key = a.open(claim, 1 << 20).key
    assert _lapse(a, b) == 1
    # A wakes up late: its settle is fenced off, as is its failure.
    [late] = a.settle([_finish(a, claim)])
    assert late.vanished and late.line is None
    assert a.repaired_before(sha) is None, "a fenced settle wrote a challenger"
    with pytest.raises(Vanished):
        a.fail(_failure(a, claim, sha, key))
    with pytest.raises(Vanished):
        a.open(claim, 1 << 20)
    # B has it now, as the same attempt; nothing was recorded against it.
    taken = _claim(b)
    assert taken.name == "h.json"
    assert b.open(taken, 1 << 20).key == key
    verdict = b.fail(_failure(b, taken, sha))
    assert len(verdict.failures) == 1


# -- the operator's --------------------------------------------------------------------------


def test_release_brings_a_quarantined_handoff_back_with_a_fresh_window(
        make_backend: MakeBackend) -> None:
    backend = make_backend(failure_window={"max_failures": 2, "window_seconds": 600},
                           backoff={"base_seconds": 0.05, "max_seconds": 0.1})
    data, sha = _handoff()
    backend.submit("h.json", data)
    for _ in range(2):
        verdict = backend.fail(_failure(backend, _wait_claimable(backend), sha))
    assert verdict.quarantine
    [entry] = backend.quarantined()
    released = backend.release(entry.name)
    assert released.failures_cleared == 2 and released.bundle_sha256 == sha
    assert backend.quarantined() == []
    with pytest.raises(UsageError):
        backend.release(entry.name)  # not quarantined any more
    assert "released" in _events(backend)
    claim = _wait_claimable(backend)
    verdict = backend.fail(_failure(backend, claim, sha))
    assert not verdict.quarantine and len(verdict.failures) == 1


def test_prune_removes_what_is_past_the_ttl_and_nothing_younger(backend: Backend) -> None:
    backend.submit("h.json", _handoff()[0])
    backend.settle([_finish(backend, _claim(backend))])
    kept = backend.prune(3600.0)
    assert kept.removed == []
    assert backend.status().done == 1
    time.sleep(1.2)  # older than a TTL of one second by the store's clock (no `now`:
    # PostgreSQL judges by the database's)
    dry = backend.prune(1.0, dry_run=True)
    assert dry.removed and backend.status().done == 1
    gone = backend.prune(1.0)
    assert gone.removed and backend.status().done == 0


def test_an_event_reader_reads_on_from_its_cursor(backend: Backend) -> None:
    backend.record_event(MetricLine(ts=rfc3339(time.time()), event="actor_restarted",
                                    instance=backend.instance, meta_repair=False,
                                    actor="watcher"))
    lines, cursor = backend.events(None)
    assert [x.event for x in lines] == ["actor_restarted"]
    assert backend.events(cursor)[0] == []
    backend.record_event(MetricLine(ts=rfc3339(time.time()), event="pruned",
                                    instance=backend.instance, meta_repair=False))
    assert [x.event for x in backend.events(cursor)[0]] == ["pruned"]


def test_lineage_lists_a_repaired_bundle_of_the_tool(backend: Backend) -> None:
    data, sha = _handoff()
    backend.submit("h.json", data)
    [settled] = backend.settle([_finish(backend, _claim(backend))])
    [entry] = backend.lineage("calc")
    assert (entry.status, entry.bundle_sha256) == ("repaired", sha)
    assert settled.line is not None and entry.challenger == settled.line.challenger
    with pytest.raises(UsageError):
        backend.lineage("nope")
