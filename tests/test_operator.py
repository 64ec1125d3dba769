"""The operator's commands on state roots made by real daemon runs.

Every command runs as an operator runs it (`python run.py ...` in a child
process) at least once; JSON outputs are decoded with the Structs of
`messages.reports`, so a renamed field fails here. Expected numbers are
recomputed in the tests from the files themselves (metrics lines read as plain
JSON, reason files, directory listings), never from the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

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
from repairlab.cli.submit import build_handoff, enqueue
from repairlab.config import config_digest
from repairlab.config.schema import Config
from repairlab.messages.commands import PruneNow
from repairlab.messages.records import Challenger, MetricLine, ReasonFile, parse_rfc3339, rfc3339
from repairlab.messages.reports import (
    LineageReport,
    PruneResult,
    QuarantineDetail,
    QuarantineList,
    StatsReport,
    StatusReport,
)
from repairlab.state import quarantine_ops, stats
from repairlab.state.failures import FailureStore
from repairlab.state.layout import Layout
from repairlab.state.metrics import metrics_files, rotate_metrics
from repairlab.state.status import take_status

REPO = Path(__file__).resolve().parent.parent
MakeConfig = Callable[..., Config]

# A bundle that passes, but only given more than half a second per test run.
SLOW = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": ("import time\nfrom calc import add\n\n\ndef test_add() -> None:\n"
                     "    time.sleep(1.5)\n    assert add(2, 3) == 5\n"),
}
SEED = {
    "slug.py": "def slugify(text):\n    return '-'.join(text.lower().split())\n",
    "test_slug.py": ("from slug import slugify\n\n\ndef test_s() -> None:\n"
                     "    assert slugify('A b') == 'a-b'\n"),
}
BROKEN_SLUG = {"slug.py": "def slugify(text):\n    return text\n",
               "test_slug.py": SEED["test_slug.py"]}


def _toml(config: Config, path: Path) -> Path:
    """The test's config as a file, for the command line (the same root and instance)."""
    path.write_text(
        f'[paths]\nroot = "{config.paths.root}"\n[instance]\nid = "{config.instance.id}"\n'
        f"[prune]\nttl_seconds = {config.prune.ttl_seconds}\n"
        f"metrics_max_bytes = {config.prune.metrics_max_bytes}\n")
    return path


def run_cli(config: Config, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python run.py ARGS --config FILE` in a child process, as an operator runs it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}
    return subprocess.run(
        [sys.executable, str(REPO / "run.py"), *args, "--config",
         str(_toml(config, tmp_path / "operator.toml"))],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _events(layout: Layout, event: str) -> list[dict[str, Any]]:
    return [m for m in metric_lines(layout) if m["event"] == event]


def _submit_with_parent(layout: Layout, files: dict[str, str], name: str, parent: str | None,
                        tool: str = "calc", entrypoint: str = "calc.py") -> None:
    layout.ensure()
    enqueue(layout, build_handoff(files, tool, entrypoint, "calc-line", parent), tool, name)


# -- status -------------------------------------------------------------------------------


def test_status_counts_every_place_and_shows_the_live_instance(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    for i in range(3):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    submit(layout, FAILING, "bad.json")
    (layout.queue / "junk.json").write_text("not json")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 3 and "bad.json" in names(layout.hard_fail)
                 and "junk.json" in names(layout.corrupt), what="all settled")
        wait_for(lambda: take_status(layout, config).instances != [], what="a heartbeat")
        live = take_status(layout, config)
        [me] = live.instances
        assert me.instance == "test-a" and me.alive and me.pid == os.getpid()
        assert me.heartbeat_age_s is not None and me.heartbeat_age_s < config.instance.lease_seconds
    # Stopped: nothing alive is listed; a waiting handoff and a dead peer's claim appear.
    submit(layout, PASSING, "late.json")
    os.utime(layout.queue / "late.json", (time.time() - 90, time.time() - 90))
    (layout.claims_of("gone-peer")).mkdir(parents=True)
    (layout.claims_of("gone-peer") / "held.json").write_text("{}")
    beat = layout.instances / "gone-peer.json"
    beat.write_text(json.dumps({"instance": "gone-peer", "pid": 1, "host": "h"}))
    os.utime(beat, (time.time() - 600, time.time() - 600))

    report = msgspec.json.decode(_ok(run_cli(config, tmp_path, "status", "--json")),
                                 type=StatusReport)
    assert (report.queue, report.in_flight, report.waiting) == (1, 1, 0)
    assert (report.done, report.quarantined, report.corrupt) == (3, 1, 1)
    assert report.challengers == len(names(layout.challengers)) == 3
    assert report.oldest_queued_age_s is not None and 89 < report.oldest_queued_age_s < 200
    [peer] = report.instances
    assert peer.instance == "gone-peer" and not peer.alive and peer.in_flight == 1
    assert peer.heartbeat_age_s is not None and peer.heartbeat_age_s >= 599
    assert report.last_prune is not None  # the daemon caught up the never-run prune at start
    assert report.next_prune is not None and parse_rfc3339(report.next_prune) > time.time()
    assert report.metrics_bytes == layout.metrics.stat().st_size

    text = _ok(run_cli(config, tmp_path, "status"))
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert lines["queue"].split()[1] == "1" and "oldest waiting 1 min" in lines["queue"]
    assert lines["done"].split()[1] == "3" and lines["quarantined"].split()[1] == "1"
    assert "0 alive of 1" in text and "gone-peer" in text and " NO " in text


def test_status_of_a_root_that_does_not_exist_is_a_usage_error(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(paths={"root": str(tmp_path / "nowhere")})
    proc = run_cli(config, tmp_path, "status")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    assert not (tmp_path / "nowhere").exists()  # status created nothing


# -- quarantine ---------------------------------------------------------------------------


def test_quarantine_list_show_and_release_give_a_fresh_window_across_restarts(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(failure_window={"max_failures": 2})
    layout = Layout.from_config(config)
    sha = spec_sha256(FAILING)
    submit(layout, FAILING, "bad.json", lineage="L-bad")
    with running(config):
        wait_for(lambda: "bad.reason.json" in names(layout.hard_fail, ".reason.json"),
                 what="quarantine")
    with running(config):  # a restart: the quarantine is on disk, nothing is retried
        time.sleep(1.0)
        listed = msgspec.json.decode(_ok(run_cli(config, tmp_path, "quarantine", "list",
                                                 "--json")), type=QuarantineList)
    assert names(layout.hard_fail) == ["bad.json", "bad.reason.json"]
    [entry] = listed.entries
    assert (entry.name, entry.tool, entry.lineage, entry.bundle_sha256) == (
        "bad.json", "calc", "L-bad", sha)
    assert entry.failures == 2 and entry.last_reason and "tests fail" in entry.last_reason
    text = _ok(run_cli(config, tmp_path, "quarantine", "list"))
    assert "bad.json" in text and "L-bad" in text and "1 quarantined" in text

    detail = msgspec.json.decode(_ok(run_cli(config, tmp_path, "quarantine", "show", "bad",
                                             "--json")), type=QuarantineDetail)
    on_disk = msgspec.json.decode((layout.hard_fail / "bad.reason.json").read_bytes(),
                                  type=ReasonFile)
    assert detail.reason == on_disk and len(on_disk.failures) == 2
    assert "RuntimeError: no" in detail.last_test_output
    shown = _ok(run_cli(config, tmp_path, "quarantine", "show", "bad.json"))
    assert "failures (2)" in shown and "RuntimeError: no" in shown and sha in shown
    # What the last attempt tried, with the first failure's own words and place.
    assert "last attempt (" in shown and "noop" in shown and "exhausted" in shown
    assert "first failure\n  RuntimeError: no" in shown

    released_at = time.time()
    out = _ok(run_cli(config, tmp_path, "quarantine", "release", "bad"))
    assert out.strip() == "released bad.json -> queue/bad.json (2 failure records cleared)"
    assert names(layout.queue) == ["bad.json"] and names(layout.hard_fail, "") == []
    assert FailureStore(layout.failures).list(sha) == []
    assert (layout.queue / "bad.json").stat().st_mtime >= released_at - 1  # a new attempt
    [line] = _events(layout, "released")
    assert line["meta_repair"] is False  # SPEC §4: on every line
    assert {k: v for k, v in line.items() if k not in ("ts", "meta_repair")} == {
        "event": "released", "instance": "test-a", "bundle_sha256": sha, "tool": "calc",
        "lineage": "L-bad", "handoff": "bad.json", "failures": 2}

    with running(config):  # fails again: quarantined after a whole fresh window, not at once
        wait_for(lambda: "bad.reason.json" in names(layout.hard_fail, ".reason.json"),
                 what="second quarantine")
    again = msgspec.json.decode((layout.hard_fail / "bad.reason.json").read_bytes(),
                                type=ReasonFile)
    assert len(again.failures) == 2
    assert all(parse_rfc3339(f.ts) > released_at for f in again.failures)
    assert len(_events(layout, "repair_failed")) == 4 and len(_events(layout, "quarantined")) == 2


def test_release_after_the_cause_is_fixed_ends_in_a_successful_repair(
        make_config: MakeConfig, tmp_path: Path) -> None:
    # An honest, deterministic "fixed condition": the bundle is fine, but its test
    # takes 1.5 s and the daemon allowed 0.5 s. The operator raises the limit and
    # releases it; the next attempt repairs it (noop: it passes as it is).
    tight = make_config(repair={"test_timeout_seconds": 0.5},
                        failure_window={"max_failures": 1})
    layout = Layout.from_config(tight)
    submit(layout, SLOW, "slow.json")
    with running(tight):
        wait_for(lambda: "slow.reason.json" in names(layout.hard_fail, ".reason.json"),
                 what="quarantine")
    reason = quarantine_ops.show_quarantined(layout, "slow").reason
    assert reason is not None and reason.reason is not None and "timed out" in reason.reason

    result = quarantine_ops.release(layout, "slow.json", "operator")
    assert result.failures_cleared == 1 and Path(result.queued_as) == layout.queue / "slow.json"
    fixed = msgspec.structs.replace(
        tight, repair=msgspec.structs.replace(tight.repair, test_timeout_seconds=20))
    with running(fixed):
        wait_for(lambda: names(layout.done) == ["slow.json"], what="repaired after release")
    [challenger] = names(layout.challengers)
    assert challenger.endswith(f"_{spec_sha256(SLOW)[:12]}.json")
    events = [m["event"] for m in metric_lines(layout)]
    assert events.index("quarantined") < events.index("released") < events.index("repaired")
    assert quarantine_ops.list_quarantined(layout) == []


def test_releasing_what_is_not_quarantined_is_one_line_and_exit_2(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config()
    Layout.from_config(config).ensure()
    for args in (("quarantine", "release", "nope"), ("quarantine", "release"),
                 ("quarantine", "show", "nope"), ("quarantine", "release", "../queue/x")):
        proc = run_cli(config, tmp_path, *args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == "", args
    assert "nope" in run_cli(config, tmp_path, "quarantine", "release", "nope").stderr
    out = _ok(run_cli(config, tmp_path, "quarantine", "release", "--all"))
    assert "nothing to release" in out
    assert "no quarantined handoffs" in _ok(run_cli(config, tmp_path, "quarantine", "list"))


def test_release_all_releases_every_quarantined_handoff(make_config: MakeConfig) -> None:
    config = make_config(failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "a.json")
    submit(layout, variant(FAILING, 1), "b.json")
    with running(config):
        wait_for(lambda: len(names(layout.hard_fail, ".reason.json")) == 2, what="quarantine")
    released, errors = quarantine_ops.release_all(layout, "op")
    assert errors == [] and sorted(r.name for r in released) == ["a.json", "b.json"]
    assert names(layout.queue) == ["a.json", "b.json"] and names(layout.hard_fail, "") == []
    assert len(_events(layout, "released")) == 2


# -- stats --------------------------------------------------------------------------------


def _recompute(lines: list[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    """Per-group numbers from plain JSON lines, written out independently."""
    out: dict[str, dict[str, Any]] = {}
    for m in lines:
        if m["event"] not in ("repaired", "quarantined", "corrupt"):
            continue
        g = out.setdefault(m.get(field) or "(none)",
                           {"repaired": 0, "quarantined": 0, "corrupt": 0, "times": [],
                            "strategies": Counter()})
        g[m["event"]] += 1
        if m["event"] == "repaired" and not m.get("duplicate"):
            g["times"].append(m["duration_s"])
            g["strategies"][m["repair_strategy"]] += 1
    for g in out.values():
        times = sorted(g["times"])
        g["median"] = statistics.median(times) if times else None
        g["p95"] = times[math.ceil(0.95 * len(times)) - 1] if times else None
        decided = g["repaired"] + g["quarantined"]
        g["rate"] = g["repaired"] / decided if decided else None
    return out


def test_stats_equal_counts_recomputed_from_the_metrics_lines(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    for i in range(3):
        submit(layout, variant(PASSING, i), f"a{i}.json", lineage="alpha")
    submit(layout, variant(PASSING, 10), "b0.json", lineage="beta")
    submit(layout, FAILING, "b-bad.json", lineage="beta")
    (layout.queue / "junk.json").write_text("{")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 4 and len(names(layout.hard_fail)) == 2
                 and len(names(layout.corrupt)) == 2, what="first batch settled")
    # Rotate, then a second run writes a fresh metrics.jsonl: stats read both.
    rotated = rotate_metrics(layout.metrics, 0)
    assert rotated is not None and not layout.metrics.exists()
    submit(layout, variant(PASSING, 0), "a-dup.json", lineage="alpha")  # a duplicate of a0
    submit(layout, variant(PASSING, 20), "c0.json", lineage="gamma")
    submit(layout, variant(FAILING, 21), "c-bad.json", lineage="gamma")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 6 and len(names(layout.hard_fail)) == 4,
                 what="second batch settled")
        wait_for(lambda: len(_events(layout, "quarantined")) == 1
                 and len(_events(layout, "repaired")) == 2, what="metrics written")
    # An old line from two days ago, to be cut by --since.
    old = MetricLine(ts=rfc3339(time.time() - 2 * 86400), event="repaired", instance="x",
                     meta_repair=True, bundle_sha256="0" * 64, tool="calc", lineage="ancient",
                     repair_strategy="noop", repair_attempts=0, duration_s=9.0)
    with layout.metrics.open("ab") as fh:
        fh.write(msgspec.json.encode(old) + b"\n" + b'{"torn": \n')
    lines = [json.loads(raw) for path in metrics_files(layout.metrics)
             for raw in path.read_text().splitlines() if raw.strip() != '{"torn":']
    assert len(metrics_files(layout.metrics)) == 2

    report = msgspec.json.decode(_ok(run_cli(config, tmp_path, "stats", "--by", "lineage",
                                             "--json")), type=StatsReport)
    expected = _recompute(lines, "lineage")
    assert report.skipped == 1 and report.lines == len(lines)
    assert {r.group for r in report.rows} == set(expected) == {
        "alpha", "beta", "gamma", "ancient", "(none)"}
    for row in report.rows:
        want = expected[row.group]
        assert (row.repaired, row.quarantined, row.corrupt) == (
            want["repaired"], want["quarantined"], want["corrupt"]), row.group
        assert row.handoffs == want["repaired"] + want["quarantined"] + want["corrupt"]
        assert row.success_rate == want["rate"]
        assert row.median_s == want["median"] and row.p95_s == want["p95"]
    alpha = next(r for r in report.rows if r.group == "alpha")
    assert alpha.repaired == 4 and alpha.duplicates == 1 and alpha.timed == 3
    assert alpha.strategies == {"noop": 1.0}
    # The leaderboard: 100 % before 50 %, and among equals the most repairs first.
    assert [r.group for r in report.rows][:2] == ["alpha", "ancient"]
    assert [r.group for r in report.rows][2:4] == ["beta", "gamma"] or \
        [r.group for r in report.rows][2:4] == ["gamma", "beta"]
    assert report.total.repaired == len([m for m in lines if m["event"] == "repaired"]) == 7
    assert report.total.quarantined == 2 and report.total.corrupt == 1
    assert report.total.repair_failed == len([m for m in lines if m["event"] == "repair_failed"])

    recent = msgspec.json.decode(_ok(run_cli(config, tmp_path, "stats", "--by", "tool",
                                             "--since", "1d", "--json")), type=StatsReport)
    assert recent.total.repaired == 6 and "ancient" not in {r.group for r in recent.rows}
    [calc, none] = recent.rows
    assert (calc.group, calc.repaired, calc.quarantined, none.group, none.corrupt) == (
        "calc", 6, 2, "(none)", 1)

    by_strategy = msgspec.json.decode(_ok(run_cli(config, tmp_path, "stats", "--json")),
                                      type=StatsReport)
    assert by_strategy.by == "strategy"
    assert {r.group: r.repaired for r in by_strategy.rows} == {"noop": 7, "(none)": 0}

    text = _ok(run_cli(config, tmp_path, "stats", "--by", "lineage"))
    ranks = [line.split()[:2] for line in text.splitlines() if line[:1].isdigit()]
    assert [r[1] for r in ranks] == [r.group for r in report.rows]
    assert "(all)" in text and "%" in text and "ms" in text

    bad = run_cli(config, tmp_path, "stats", "--since", "5 fortnights")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_parse_duration_accepts_units_and_refuses_anything_else() -> None:
    assert [stats.parse_duration(t) for t in ("90s", "15m", "2h", "7d", "1w", "30", "1.5h")] == [
        90.0, 900.0, 7200.0, 604800.0, 604800.0, 30.0, 5400.0]
    for text in ("", "0s", "-5m", "2 days", "h"):
        with pytest.raises(stats.UsageError):
            stats.parse_duration(text)


def test_percentiles_stay_exact_below_the_reservoir_and_bounded_above(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def line(i: int, lineage: str) -> MetricLine:
        return MetricLine(ts=rfc3339(1e9 + i), event="repaired", instance="i",
                          meta_repair=True, lineage=lineage, repair_strategy="noop",
                          duration_s=float(i))

    rows, total = stats.aggregate((line(i, "x") for i in range(1, 101)), "lineage")
    assert total.median_s == 50.5 and total.p95_s == 95.0 and rows[0].timed == 100
    monkeypatch.setattr(stats, "RESERVOIR", 1000)
    group = stats._Group()
    for i in range(20000):
        group.add(line(i, "y"))
    assert len(group.durations) == 1000 and group.timed == 20000
    row = group.row("y")
    assert row.median_s is not None and abs(row.median_s - 10000) < 1500  # a sample's estimate
    assert row.p95_s is not None and abs(row.p95_s - 19000) < 800
    # The total draws from every group in proportion to its repairs, within its own bound.
    monkeypatch.setattr(stats, "TOTAL_SAMPLE", 500)
    small = stats._Group()
    for i in range(20000, 21000):
        small.add(line(i, "z"))
    merged = stats._Group.merge([group, small])
    assert merged.timed == 21000 and merged.repaired == 21000
    assert len(merged.durations) <= 501
    assert sum(1 for v in merged.durations if v >= 20000) in range(10, 50)  # about 1/21


# -- prune --------------------------------------------------------------------------------


def test_prune_dry_run_then_prune_remove_what_is_older_than_the_ttl(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(prune={"ttl_seconds": 3600, "metrics_max_bytes": 4096})
    layout = Layout.from_config(config)
    for i in range(3):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 3 and len(_events(layout, "repaired")) == 3,
                 what="repaired")
    old = time.time() - 7200
    aged = [layout.done / "ok0.json", layout.done / "ok1.json",
            layout.challengers / sorted(names(layout.challengers))[0]]
    stale_rotated = layout.metrics.with_name("metrics.jsonl.20000101T000000000000Z")
    stale_rotated.write_text("{}\n")
    for path in [*aged, stale_rotated]:
        os.utime(path, (old, old))
    expected = sorted(str(p) for p in [*aged, stale_rotated])
    sizes = sum(p.stat().st_size for p in [*aged, stale_rotated])
    with layout.metrics.open("a") as fh:  # push the live log over metrics_max_bytes
        fh.write(metric_padding(5000))

    dry = msgspec.json.decode(_ok(run_cli(config, tmp_path, "prune", "--dry-run", "--json")),
                              type=PruneResult)
    assert dry.dry_run and sorted(e.path for e in dry.removed) == expected
    assert dry.bytes_freed == sizes and dry.rotated is not None
    assert all(Path(p).exists() for p in expected)
    text = _ok(run_cli(config, tmp_path, "prune", "--dry-run"))
    assert "would remove 4 entries" in text and "processed/done/ok0.json" in text

    done = msgspec.json.decode(_ok(run_cli(config, tmp_path, "prune", "--json")),
                               type=PruneResult)
    assert sorted(e.path for e in done.removed) == expected and done.bytes_freed == sizes
    assert not any(Path(p).exists() for p in expected)
    assert names(layout.done) == ["ok2.json"] and len(names(layout.challengers)) == 2
    assert done.rotated is not None and (layout.root / done.rotated).exists()
    [pruned] = [m for m in metric_lines(layout) if m["event"] == "pruned"]  # the fresh file
    assert pruned["bytes"] == sizes and pruned["instance"] == "test-a"
    assert take_status(layout, config).last_prune is not None
    again = _ok(run_cli(config, tmp_path, "prune"))
    assert again.startswith("removed 0 entries")


def metric_padding(size: int) -> str:
    """Valid metrics lines of about `size` bytes (an event stats ignores)."""
    line = json.dumps({"ts": rfc3339(time.time()), "event": "padding", "instance": "pad",
                       "meta_repair": False}) + "\n"
    return line * (size // len(line) + 1)


def test_the_pruner_rotates_metrics_and_the_daemon_goes_on_in_a_fresh_file(
        make_config: MakeConfig) -> None:
    config = make_config(prune={"metrics_max_bytes": 4096})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "before.json")
    with running(config) as daemon:
        wait_for(lambda: len(_events(layout, "repaired")) == 1, what="telemetry writing")
        with layout.metrics.open("a") as fh:  # over the limit, behind the writer's back
            fh.write(metric_padding(6000))
        daemon.runtime.peers.ask("pruner", PruneNow(), timeout=10)
        [rotated] = [p for p in metrics_files(layout.metrics) if p != layout.metrics]
        submit(layout, variant(PASSING, 1), "after.json")
        wait_for(lambda: len(_events(layout, "repaired")) == 1 and layout.metrics.exists()
                 and "after.json" in layout.metrics.read_text(),
                 what="the next line in a fresh live file")
    assert rotated.name.startswith("metrics.jsonl.2")
    old_text = rotated.read_text()
    assert "before.json" in old_text and "after.json" not in old_text
    assert layout.metrics.stat().st_size < 4096
    # Nothing lost: both repairs are counted across the two files.
    report = stats.compute_stats(metrics_files(layout.metrics), "tool")
    assert report.total.repaired == 2 and len(report.files) == 2


# -- lineage and provenance ---------------------------------------------------------------


def test_lineage_links_parents_bundles_and_repairs_oldest_first(
        make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    v1, v2, v3 = variant(PASSING, 1), variant(PASSING, 2), variant(FAILING, 3)
    with running(config):
        _submit_with_parent(layout, v1, "v1.json", None)
        wait_for(lambda: names(layout.done) == ["v1.json"], what="v1")
        _submit_with_parent(layout, v2, "v2.json", spec_sha256(v1))
        wait_for(lambda: names(layout.done) == ["v1.json", "v2.json"], what="v2")
        _submit_with_parent(layout, v3, "v3.json", spec_sha256(v2))
        wait_for(lambda: "v3.json" in names(layout.hard_fail), what="v3")
    for name in names(layout.challengers):  # provenance is filled in by a real run
        c = msgspec.json.decode((layout.challengers / name).read_bytes(), type=Challenger)
        assert c.provenance is not None
        assert c.provenance.bundle_sha256 == c.bundle_sha256
        assert c.provenance.repaired_sha256 == c.repaired_sha256
        assert c.provenance.repairlab_version == "0.1.0"
        assert c.provenance.config_digest == config_digest(config)
        assert c.provenance.parent_sha256 == (
            None if c.bundle_sha256 == spec_sha256(v1) else spec_sha256(v1))

    report = msgspec.json.decode(_ok(run_cli(config, tmp_path, "lineage", "calc", "--json")),
                                 type=LineageReport)
    assert [(e.status, e.bundle_sha256, e.parent_sha256, e.parent_index, e.handoffs)
            for e in report.entries] == [
        ("repaired", spec_sha256(v1), None, None, ["v1.json"]),
        ("repaired", spec_sha256(v2), spec_sha256(v1), 0, ["v2.json"]),
        ("quarantined", spec_sha256(v3), spec_sha256(v2), 1, ["v3.json"]),
    ]
    assert report.entries[0].repaired_sha256 == spec_sha256(v1)
    assert report.entries[1].config_digest == config_digest(config)
    text = _ok(run_cli(config, tmp_path, "lineage", "calc"))
    rows = [line for line in text.splitlines() if line.startswith("#")]
    assert len(rows) == 3 and "quarantined" in rows[2]
    assert f"{spec_sha256(v1)[:12]} (#0)" in rows[1] and f"{spec_sha256(v2)[:12]} (#1)" in rows[2]
    unknown = run_cli(config, tmp_path, "lineage", "nosuchtool")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


def _transplant_run(make_config: MakeConfig) -> tuple[Layout, Config]:
    config = make_config(repair={"strategies": ["noop", "pattern_transplant"]})
    layout = Layout.from_config(config)
    submit(layout, SEED, "seed.json", tool="slug", entrypoint="slug.py")
    with running(config):
        wait_for(lambda: names(layout.done) == ["seed.json"], what="seed learned")
        submit(layout, BROKEN_SLUG, "broken.json", tool="slug", entrypoint="slug.py")
        wait_for(lambda: "broken.json" in names(layout.done), what="transplant")
    return layout, config


def test_lineage_names_the_source_bundle_of_a_transplanted_pattern(make_config: MakeConfig) -> None:
    layout, _ = _transplant_run(make_config)
    from repairlab.state.lineage import build_lineage

    seed, broken = build_lineage(layout, "slug")
    assert seed.bundle_sha256 == spec_sha256(SEED) and seed.strategy == "noop"
    assert broken.strategy == "pattern_transplant" and broken.pattern_id == "slug:c0001"
    assert broken.pattern_source_sha256 == spec_sha256(SEED)


def test_a_transplant_challenger_records_its_pattern_source_in_provenance(
        make_config: MakeConfig) -> None:
    layout, _ = _transplant_run(make_config)
    [challenger] = [c for c in (msgspec.json.decode((layout.challengers / n).read_bytes(),
                                                    type=Challenger)
                                for n in names(layout.challengers))
                    if c.repair_strategy == "pattern_transplant"]
    assert challenger.provenance is not None
    assert challenger.provenance.pattern_source_sha256 == spec_sha256(SEED)


# -- the benchmark ------------------------------------------------------------------------


def test_the_operator_benchmark_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_operator_commands",
                                                  REPO / "bench" / "operator_commands.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    status_line = next(line for line in out.splitlines() if line.startswith("status"))
    stats_line = next(line for line in out.splitlines() if line.startswith("stats"))
    assert "500 files" in status_line and "peak RSS" in status_line
    assert "5000 lines" in stats_line and "M lines/s" in stats_line
