"""The loop end to end: real state roots, real actors, real child processes."""

from __future__ import annotations

import json
import os
import time

import msgspec

from conftest import (
    FAILING,
    PASSING,
    metric_lines,
    names,
    running,
    spec_sha256,
    submit,
    variant,
    wait_for,
)
from repairlab.messages.commands import FailureVerdict
from repairlab.messages.records import Challenger, FailureRecord, ReasonFile, rfc3339
from repairlab.state.failures import FailureStore, judge
from repairlab.state.layout import Layout


def test_passing_handoff_becomes_a_noop_challenger_with_every_spec_field(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    submit(layout, PASSING, "calc-1.json")
    with running(config):
        wait_for(lambda: names(layout.done) == ["calc-1.json"], what="handoff in done/")
        wait_for(lambda: any(m["event"] == "repaired" for m in metric_lines(layout)))
    [path] = names(layout.challengers)
    raw = json.loads((layout.challengers / path).read_text())
    challenger = msgspec.json.decode((layout.challengers / path).read_bytes(), type=Challenger)
    sha = spec_sha256(PASSING)
    assert path.startswith("challenger_") and path.endswith(f"_{sha[:12]}.json")
    assert raw["schema"] == "repairlab.challenger/1"
    assert raw["bundle_sha256"] == sha and raw["repaired_sha256"] == sha
    assert raw["repair_strategy"] == "noop"
    assert raw["repair_pattern_id"] is None
    assert raw["repair_attempts"] == 0
    assert raw["repair_details"] == {"note": "already passing"}
    assert raw["meta_repair"] is True
    assert raw["files"] == PASSING
    assert raw["diff"] == ""
    assert raw["tests"]["passed"] == 2 and raw["tests"]["failed"] == 0
    assert isinstance(raw["tests"]["duration_s"], float)
    assert raw["tool"] == "calc" and raw["lineage"] == "calc-line"
    assert raw["handoff_id"] is not None
    assert raw["instance"] == "test-a"
    assert raw["created_at"].endswith("Z")
    assert challenger.provenance is not None and challenger.provenance.bundle_sha256 == sha
    [line] = [m for m in metric_lines(layout) if m["event"] == "repaired"]
    assert line["meta_repair"] is True and line["bundle_sha256"] == sha
    assert line["repair_strategy"] == "noop" and line["repair_attempts"] == 0
    assert line["tool"] == "calc" and line["lineage"] == "calc-line"
    assert "repair_pattern_id" in line or line.get("repair_pattern_id") is None
    assert line["duration_s"] >= 0 and line["instance"] == "test-a"


def test_failing_handoff_backs_off_then_is_quarantined_after_exactly_max_failures(make_config):
    config = make_config(failure_window={"max_failures": 3},
                         backoff={"base_seconds": 0.2, "max_seconds": 1.0})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "broken.json")
    with running(config):
        wait_for(lambda: names(layout.hard_fail, ".reason.json") != [], timeout=60,
                 what="quarantine")
    assert names(layout.done) == [] and names(layout.queue) == []
    assert "broken.json" in names(layout.hard_fail)
    reason = msgspec.json.decode((layout.hard_fail / "broken.reason.json").read_bytes(),
                                 type=ReasonFile)
    sha = spec_sha256(FAILING)
    assert reason.bundle_sha256 == sha
    assert len(reason.failures) == 3
    assert "3 failures" in reason.rule and "600" in reason.rule
    assert reason.quarantined_at is not None
    assert all(f.instance == "test-a" and f.reason for f in reason.failures)
    # What the last attempt tried, for the operator: each strategy and why it stopped,
    # and the first failing test's error with its place.
    attempt = reason.last_attempt
    assert attempt is not None
    assert [(t.name, t.stopped) for t in attempt.strategies] == [("noop", "exhausted")]
    assert attempt.first_failure is not None
    assert "RuntimeError: no" in attempt.first_failure and "calc.py:2" in attempt.first_failure
    assert "tried noop (exhausted, 0 candidates)" in reason.failures[-1].reason
    events = [m["event"] for m in metric_lines(layout) if m.get("bundle_sha256") == sha]
    assert events.count("repair_failed") == 3 and events.count("quarantined") == 1
    # Backoff: the gaps between failures grow (0.2 s, then 0.4 s at least).
    stamps = [time.mktime(time.strptime(f.ts[:19], "%Y-%m-%dT%H:%M:%S")) +
              float("0." + f.ts[20:26]) for f in reason.failures]
    assert stamps[1] - stamps[0] >= 0.2
    assert stamps[2] - stamps[1] >= 0.4


def _old_failure(store: FailureStore, sha: str, age: float, key: str) -> None:
    store.record(sha, FailureRecord(ts=rfc3339(time.time() - age), instance="old", reason="x",
                                    key=key))


def test_failures_older_than_the_window_do_not_count(make_config):
    config = make_config(failure_window={"window_seconds": 60, "max_failures": 3})
    layout = Layout.from_config(config)
    layout.ensure()
    sha = spec_sha256(FAILING)
    store = FailureStore(layout.failures)
    for i in range(5):
        _old_failure(store, sha, age=120 + i, key=f"old{i}")
    _old_failure(store, sha, age=5, key="recent")
    submit(layout, FAILING, "broken.json")
    with running(config):
        wait_for(lambda: "broken.json" in names(layout.hard_fail), timeout=60, what="quarantine")
    reason = json.loads((layout.hard_fail / "broken.reason.json").read_text())
    # One recent old record plus two new failures fill the window of three.
    assert len(reason["failures"]) == 3
    assert sum(1 for f in reason["failures"] if f["instance"] == "old") == 1
    failed = [m for m in metric_lines(layout) if m["event"] == "repair_failed"]
    assert len(failed) == 2


def test_failure_window_verdict_uses_the_sliding_window_and_backoff(make_config):
    config = make_config(failure_window={"window_seconds": 100, "max_failures": 3},
                         backoff={"base_seconds": 10, "max_seconds": 25})
    layout = Layout.from_config(config)
    layout.ensure()
    store = FailureStore(layout.failures)

    class _Window:  # the window's judgement alone, as `FilesystemBackend.fail` makes it
        @staticmethod
        def record(sha: str, record: FailureRecord, now: float) -> FailureVerdict:
            return judge(store, sha, record, config, now)

    actor = _Window()
    sha = "a" * 64
    now = 1_000_000.0
    v1 = actor.record(sha, FailureRecord(ts=rfc3339(now - 500), instance="x", reason="r",
                                         key="k1"), now=now)
    assert not v1.quarantine and v1.failures == []  # outside the window
    v2 = actor.record(sha, FailureRecord(ts=rfc3339(now), instance="x", reason="r", key="k2"),
                      now=now)
    assert not v2.quarantine and v2.not_before == now + 10
    v3 = actor.record(sha, FailureRecord(ts=rfc3339(now + 1), instance="x", reason="r",
                                         key="k3"), now=now + 1)
    assert not v3.quarantine and v3.not_before == now + 1 + 20
    again = actor.record(sha, FailureRecord(ts=rfc3339(now + 1), instance="x", reason="r",
                                            key="k3"), now=now + 1)
    assert len(again.failures) == 2  # the same attempt recorded twice counts once
    v4 = actor.record(sha, FailureRecord(ts=rfc3339(now + 2), instance="x", reason="r",
                                         key="k4"), now=now + 2)
    assert v4.quarantine and len(v4.failures) == 3


def test_failure_records_survive_a_restart_of_the_daemon(make_config):
    config = make_config(failure_window={"max_failures": 2},
                         backoff={"base_seconds": 30, "max_seconds": 30})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "broken.json")
    with running(config):
        wait_for(lambda: names(layout.deferred) == ["broken.json"], timeout=30,
                 what="first failure")
    assert len(FailureStore(layout.failures).list(spec_sha256(FAILING))) == 1
    # Make the deferred handoff due now, then start a fresh daemon.
    os.utime(layout.deferred / "broken.json", (time.time() - 1, time.time() - 1))
    with running(config):
        wait_for(lambda: "broken.json" in names(layout.hard_fail), timeout=30,
                 what="quarantine by the second daemon")
    reason = json.loads((layout.hard_fail / "broken.reason.json").read_text())
    assert len(reason["failures"]) == 2


def test_corrupt_handoff_goes_to_corrupt_with_a_reason_and_the_daemon_goes_on(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    (layout.queue / "bad.json").write_bytes(b'{"schema": "repairlab.handoff/1", "tool": ')
    with running(config):
        wait_for(lambda: "bad.json" in names(layout.corrupt), what="corrupt")
        submit(layout, PASSING, "good.json")
        wait_for(lambda: "good.json" in names(layout.done), what="good handoff after corrupt")
    reason = json.loads((layout.corrupt / "bad.reason.json").read_text())
    assert "not valid JSON" in reason["reason"]
    assert [m["event"] for m in metric_lines(layout) if m["event"] == "corrupt"] == ["corrupt"]


def test_second_handoff_with_same_files_points_at_the_existing_challenger(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    with running(config):
        wait_for(lambda: "one.json" in names(layout.done))
        submit(layout, PASSING, "two.json", lineage="other")
        wait_for(lambda: "two.json" in names(layout.done))
    assert len(names(layout.challengers)) == 1
    repaired = [m for m in metric_lines(layout) if m["event"] == "repaired"]
    assert [m.get("duplicate") for m in repaired] == [False, True]
    assert repaired[0]["challenger"] == repaired[1]["challenger"] == names(layout.challengers)[0]


def test_name_taken_in_done_gets_a_unique_suffix_and_nothing_is_overwritten(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    submit(layout, variant(PASSING, 1), "same.json")
    with running(config):
        wait_for(lambda: names(layout.done) == ["same.json"])
        submit(layout, variant(PASSING, 2), "same.json")
        wait_for(lambda: len(names(layout.done)) == 2)
    assert names(layout.done) == ["same.1.json", "same.json"]
    bodies = {json.loads((layout.done / n).read_text())["files"]["calc.py"]
              for n in names(layout.done)}
    assert len(bodies) == 2


def test_many_handoffs_all_reach_exactly_one_terminal_place(make_config):
    config = make_config(repair={"workers": 2})
    layout = Layout.from_config(config)
    for i in range(12):
        submit(layout, variant(PASSING, i), f"h{i:02d}.json")
    (layout.queue / "junk.json").write_text("[]")
    with running(config) as daemon:
        wait_for(daemon.idle, timeout=60, what="idle")
    done, corrupt = names(layout.done), names(layout.corrupt)
    assert done == [f"h{i:02d}.json" for i in range(12)]
    assert "junk.json" in corrupt
    assert len(names(layout.challengers)) == 12
    assert not layout.claims_of("test-a").exists()  # a clean exit leaves no claims dir
