"""Every injection point switched on once, with the outcome checked: the daemon
retries, degrades or stops cleanly, and never drops a handoff or leaves a half file."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import FAILING, PASSING, metric_lines, names, running, spec_sha256, submit, wait_for
from repairlab import faults
from repairlab.state.failures import FailureStore
from repairlab.state.fsops import atomic_write
from repairlab.state.layout import Layout


def test_points_cost_nothing_when_off_and_fire_deterministically_under_a_seed(monkeypatch):
    faults.reset()
    faults.inject("anything")  # off: nothing happens
    monkeypatch.setenv("REPAIRLAB_FAULTS", "p=eio@0.5")
    runs = []
    for _ in range(2):
        faults.configure({}, seed=42)
        fired = []
        for _ in range(40):
            try:
                faults.inject("p")
                fired.append(0)
            except OSError:
                fired.append(1)
        runs.append(fired)
    assert runs[0] == runs[1] and 5 < sum(runs[0]) < 35
    faults.configure({"q": "crash#3"})
    faults.inject("q")
    faults.inject("q")
    with pytest.raises(faults.InjectedCrash):
        faults.inject("q")
    faults.inject("q")


def test_a_handoff_point_fires_only_for_names_matching_its_glob(monkeypatch):
    monkeypatch.setenv("REPAIRLAB_FAULTS", "repairer.handoff[poison-*.json]=crash")
    faults.configure({"repairer.handoff[other.json]": "eio#2"})
    faults.inject("repairer.handoff")  # no subject: no targeted point fires
    faults.inject("repairer.handoff", subject="fine.json")
    faults.inject("repairer.handoff", subject="poison-1.jsonx")
    with pytest.raises(faults.InjectedCrash, match=r"repairer\.handoff\[poison-\*\.json\]"):
        faults.inject("repairer.handoff", subject="poison-1.json")
    faults.inject("repairer.handoff", subject="other.json")  # #2: the second match fires
    with pytest.raises(OSError):
        faults.inject("repairer.handoff", subject="other.json")
    faults.inject("repairer.handoff", subject="other.json")
    assert faults.fired("repairer.handoff[poison-*.json]") == 1
    assert faults.fired("repairer.handoff[other.json]") == 1


def test_an_injected_write_error_leaves_no_half_file(tmp_path):
    faults.configure({"write": "enospc"})
    target = tmp_path / "f.json"
    target.write_text("old")
    with pytest.raises(OSError):
        atomic_write(target, b"new contents")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


@pytest.mark.parametrize("point", ["telemetry.challenger_write", "telemetry.challenger_publish",
                                   "telemetry.challenger_sync"])
def test_challenger_write_errors_are_retried_and_one_challenger_results(make_config, point):
    config = make_config(faults={"points": {point: "eio#1"}})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    with running(config):
        wait_for(lambda: "one.json" in names(layout.done), timeout=60, what="done")
    assert len(names(layout.challengers)) == 1
    assert not [p for p in layout.challengers.iterdir() if p.name.startswith(".tmp")]
    assert sum(m["event"] == "repaired" for m in metric_lines(layout)) == 1


def test_a_directory_fsync_that_keeps_failing_hands_the_handoffs_back(make_config):
    # Every directory fsync fails: each group commit gives up after its retries and
    # hands its handoffs back, their challengers public but not known durable. The
    # redo finds them and settles each handoff as a duplicate of its challenger.
    config = make_config(faults={"points": {"telemetry.challenger_sync": "eio"}},
                         repair={"workers": 2})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    submit(layout, dict(PASSING, **{"calc.py": PASSING["calc.py"] + "#2\n"}), "two.json")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 2, timeout=60, what="done")
    fired = faults.fired("telemetry.challenger_sync")
    assert fired in (5, 10)  # one or two group commits, each tried five times
    assert len(names(layout.challengers)) == 2
    repaired = [m for m in metric_lines(layout) if m["event"] == "repaired"]
    assert sorted(m["handoff"] for m in repaired) == ["one.json", "two.json"]
    assert all(m["duplicate"] for m in repaired)
    assert {m["challenger"] for m in repaired} == set(names(layout.challengers))


def test_failure_record_write_error_is_retried_and_counted_once(make_config):
    config = make_config(faults={"points": {"failures.write": "enospc#1"}},
                         failure_window={"max_failures": 2})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "bad.json")
    with running(config):
        wait_for(lambda: "bad.json" in names(layout.hard_fail), timeout=60)
    reason = json.loads((layout.hard_fail / "bad.reason.json").read_text())
    assert len(reason["failures"]) == 2
    assert len({f["key"] for f in reason["failures"]}) == 2


def test_reason_file_write_error_is_retried_and_the_quarantine_happens_once(make_config):
    config = make_config(faults={"points": {"quarantine.reason_write": "eio#1"}},
                         failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "bad.json")
    with running(config):
        wait_for(lambda: "bad.json" in names(layout.hard_fail), timeout=60)
    assert names(layout.hard_fail) == ["bad.json", "bad.reason.json"]
    assert len(FailureStore(layout.failures).list(spec_sha256(FAILING))) == 1
    assert sum(m["event"] == "quarantined" for m in metric_lines(layout)) == 1


def test_metrics_write_error_drops_one_line_and_nothing_else(make_config):
    config = make_config(faults={"points": {"telemetry.metrics_write": "enospc#1"}})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    submit(layout, dict(PASSING, **{"calc.py": PASSING["calc.py"] + "#2\n"}), "two.json")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 2, timeout=60)
        wait_for(lambda: sum(m["event"] == "repaired" for m in metric_lines(layout)) >= 1)
    assert len(names(layout.challengers)) == 2
    assert faults.fired("telemetry.metrics_write") == 1
    for line in layout.metrics.read_text().splitlines():
        json.loads(line)  # no half line


def test_heartbeat_write_errors_degrade_to_a_warning(make_config):
    config = make_config(faults={"points": {"claims.heartbeat": "eio@0.5"}, "seed": 3},
                         watch={"heartbeat_seconds": 0.1})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    with running(config):
        wait_for(lambda: "one.json" in names(layout.done), timeout=60)
        wait_for(lambda: faults.fired("claims.heartbeat") >= 2, timeout=20)
    assert not any(m["event"] == "actor_restarted" for m in metric_lines(layout))


def test_prune_mark_error_is_survived_and_pruning_retried(make_config):
    config = make_config(faults={"points": {"prune.mark": "eio#1"}})
    layout = Layout.from_config(config)
    layout.ensure()
    old = layout.done / "ancient.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 30 * 86400,) * 2)
    with running(config) as daemon:
        wait_for(lambda: not old.exists(), timeout=20, what="prune despite the error")
        # healthy once every repairer has warmed its runner (seconds on a loaded machine)
        wait_for(lambda: daemon.healthy(timeout=2), timeout=30, what="healthy")
    assert not any(m["event"] == "actor_restarted" for m in metric_lines(layout))


@pytest.mark.parametrize("kind", ["telemetry", "watcher", "repairer"])
def test_a_crash_while_starting_is_restarted_like_any_crash(make_config, kind):
    config = make_config(faults={"points": {f"actor.{kind}.start": "crash#1"}})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "one.json")
    with running(config):
        wait_for(lambda: "one.json" in names(layout.done), timeout=60)
    restarts = [m for m in metric_lines(layout) if m["event"] == "actor_restarted"]
    assert len(restarts) == 1 and restarts[0]["actor"].startswith(kind)


def test_slow_writes_only_slow_things_down(make_config):
    config = make_config(faults={"points": {"failures.write": "slow:0.3"}},
                         failure_window={"max_failures": 2})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "bad.json")
    with running(config):
        wait_for(lambda: "bad.json" in names(layout.hard_fail), timeout=60)
    assert faults.fired("failures.write") == 2
