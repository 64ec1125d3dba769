"""Pruning by TTL, with time passed in; the schedule; catching up a missed run."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from conftest import PASSING, metric_lines, running, submit, wait_for
from repairlab.state.layout import Layout
from repairlab.state.prune import PruneSchedule, last_boundary, next_boundary, prune

DAY = 86400.0
TTL = 7 * DAY


def _file(path: Path, age: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x" * 10)
    os.utime(path, (now - age, now - age))
    return path


def test_prune_removes_exactly_what_is_older_than_the_ttl(tmp_path):
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    now = 2_000_000_000.0
    old = [
        _file(layout.queue / "old.json", TTL + 1, now),
        _file(layout.done / "old.json", TTL + 60, now),
        _file(layout.hard_fail / "old.json", TTL + 1, now),
        _file(layout.hard_fail / "old.reason.json", TTL + 1, now),
        _file(layout.corrupt / "old.json", 30 * DAY, now),
        _file(layout.challengers / "challenger_20000101T000000000000Z_aaaaaaaaaaaa.json",
              TTL + 5, now),
        _file(layout.metrics.with_name("metrics.jsonl.1"), TTL + 5, now),
    ]
    young = [
        _file(layout.queue / "young.json", TTL - 1, now),
        _file(layout.done / "young.json", 1, now),
        _file(layout.challengers / "challenger_20990101T000000000000Z_bbbbbbbbbbbb.json",
              TTL - 60, now),
        _file(layout.metrics, TTL + 100, now),  # the live log is rotated, never pruned
    ]
    in_flight = [
        _file(layout.claims_of("peer") / "busy.json", 30 * DAY, now),
        _file(layout.deferred / "waiting.json", 30 * DAY, now),
    ]
    dry = prune(layout, TTL, now=now, dry_run=True)
    assert sorted(p for p, _ in dry.removed) == sorted(old)
    assert all(p.exists() for p in old)
    report = prune(layout, TTL, now=now)
    assert sorted(p for p, _ in report.removed) == sorted(old)
    assert report.bytes_freed == 10 * len(old)
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in young + in_flight)


def test_prune_drops_the_challenger_index_entries_of_pruned_challengers(tmp_path):
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    now = time.time()
    challenger = _file(layout.challengers / "challenger_x_aaaaaaaaaaaa.json", TTL + 1, now)
    os.link(challenger, layout.challenger_index / ("a" * 64))
    prune(layout, TTL, now=now)
    assert list(layout.challenger_index.iterdir()) == []


def test_prune_drops_both_index_links_of_a_pruned_challenger_and_keeps_live_ones(tmp_path):
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    now = time.time()
    index = layout.challenger_index
    old = _file(layout.challengers / "challenger_old_aaaaaaaaaaaa.json", TTL + 1, now)
    live = _file(layout.challengers / "challenger_new_bbbbbbbbbbbb.json", 60, now)
    for public, sha in ((old, "a" * 64), (live, "b" * 64)):  # as ChallengerStore.write links
        os.link(public, index / f"{sha}-{'c' * 64}")
        os.link(public, index / sha)
    prune(layout, TTL, now=now)
    assert sorted(p.name for p in index.iterdir()) == ["b" * 64, f"{'b' * 64}-{'c' * 64}"]


def test_weekly_boundary_is_monday_midnight_local_time():
    wednesday = datetime(2026, 11, 25, 15, 30).timestamp()
    monday = datetime.fromtimestamp(last_boundary("weekly", wednesday))
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 0, 0)
    assert monday.date().isoformat() == "2026-11-23"
    nxt = datetime.fromtimestamp(next_boundary("weekly", wednesday))
    assert nxt.date().isoformat() == "2026-11-30" and nxt.hour == 0
    assert datetime.fromtimestamp(last_boundary("daily", wednesday)).hour == 0
    assert datetime.fromtimestamp(last_boundary("hourly", wednesday)).minute == 0


def test_schedule_is_due_only_when_a_boundary_passed_since_the_last_run(tmp_path):
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    schedule = PruneSchedule(layout)
    wednesday = datetime(2026, 11, 25, 15, 30).timestamp()
    assert schedule.due("weekly", wednesday)  # never ran
    schedule.mark(datetime(2026, 11, 23, 0, 5).timestamp())  # Monday, after midnight
    assert not schedule.due("weekly", wednesday)
    assert schedule.due("weekly", datetime(2026, 11, 30, 0, 1).timestamp())


def test_a_run_missed_while_down_happens_at_start(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    now = time.time()
    PruneSchedule(layout).mark(last_boundary("weekly", now) - 3600)  # before the last Monday
    stale = _file(layout.done / "ancient.json", 30 * DAY, now)
    submit(layout, PASSING, "fresh.json")
    with running(config):
        wait_for(lambda: any(m["event"] == "pruned" for m in metric_lines(layout)),
                 what="prune at start")
        wait_for(lambda: (layout.done / "fresh.json").exists(), what="fresh handoff done")
    assert not stale.exists()
    assert (PruneSchedule(layout).last_run() or 0) >= now


def test_no_prune_at_start_when_the_last_run_is_current(make_config):
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    PruneSchedule(layout).mark(time.time())
    stale = _file(layout.done / "ancient.json", 30 * DAY, time.time())
    submit(layout, PASSING, "fresh.json")
    with running(config):
        wait_for(lambda: (layout.done / "fresh.json").exists())
    assert stale.exists()
    assert not any(m["event"] == "pruned" for m in metric_lines(layout))
