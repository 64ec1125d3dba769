"""Every operator command on every backend, on one known history (SPEC §7, §9).

ONE suite, parametrized over the `world` fixture: each backend in `WORLDS` gets
the same history, made by a real daemon from handoffs put in the local `queue/`
(the way producers hand off on either backend), and every command is run as an
operator runs it (`python run.py ... --config FILE`, a child process). The
expected outputs are written out from the history and SPEC §3-§5 (which bundle
ends where, and how), never from the code under test; the text an operator reads
is compared after masking what differs from run to run (times, sizes, hashes
are not masked: they are known), and every backend must print the same text
for the same command (`_printed_alike`).

Adding a backend is one entry in `WORLDS`: a class with the members of `World`.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pytest

from conftest import FAILING, PASSING, metric_lines, running, spec_sha256, variant, wait_for
from repairlab.cli.operator_cmds import open_operator_backend
from repairlab.cli.submit import build_handoff, enqueue
from repairlab.config import Config, load_config
from repairlab.messages.records import Challenger
from repairlab.messages.reports import (
    LineageReport,
    PruneResult,
    QuarantineDetail,
    QuarantineList,
    StatsReport,
    StatusReport,
)
from repairlab.state.backend import Backend, open_backend
from repairlab.state.layout import Layout
from repairlab.state.metrics import metrics_files

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(300)  # the first test of a backend makes its history

# -- the history ----------------------------------------------------------------------------
#
# Phase 1: a0 (alpha) is repaired, junk is corrupt.
# Phase 2: a1 (alpha, parent a0) and w0 (tool wc, beta) are repaired, a-dup (the same
#          files as a0) is done as a duplicate, w-bad (wc, beta) is quarantined.
# Phase 3: c-bad (calc, gamma, parent a1) is quarantined.
# With noop only and max_failures 1: done 4, quarantined 2, corrupt 1, challengers 3.

A0, A1, W0 = variant(PASSING, 0), variant(PASSING, 1), variant(PASSING, 2)
W_BAD, C_BAD = variant(FAILING, 3), variant(FAILING, 4)
SHA = {name: spec_sha256(files) for name, files in
       (("a0", A0), ("a1", A1), ("w0", W0), ("w-bad", W_BAD), ("c-bad", C_BAD))}
SIZES: dict[str, int] = {}  # handoff name -> bytes as submitted (a handoff moves whole)


class World(Protocol):
    """One backend's side of the suite.

    `kind` names it; `sections(root)` is the config (as `load_config` overrides)
    of a state of its own on this backend at `root` (a root not seen before is
    an empty state: on PostgreSQL, a fresh database), and `toml(root)` the same as the lines
    a config file adds to `[paths]` and `[instance]` (e.g. `[backend]`);
    `clone(src, dst)` copies the state of the config at `src` to a fresh one at
    `dst` (a test that changes things changes its own copy); `age(root, paths,
    seconds)` makes the named §1 entries (`processed/done/a0.json`,
    `challengers/NAME`) that much older by the store's clock; `close()` drops
    what the world made outside the test's directories (a database).

    A PostgreSQL world needs nothing more to fill in the history: the daemon that
    makes it runs on the config's backend and ingests the handoffs from the local
    `queue/`, as every instance does (SPEC §9)."""

    kind: str

    def sections(self, root: Path) -> dict[str, dict[str, Any]]: ...
    def toml(self, root: Path) -> str: ...
    def clone(self, src: Path, dst: Path) -> None: ...
    def age(self, root: Path, paths: list[str], seconds: float) -> None: ...
    def close(self) -> None: ...


class FilesystemWorld:
    """The state root is everything; a copy keeps hard links and times (`cp -a`)."""

    kind = "filesystem"

    def sections(self, root: Path) -> dict[str, dict[str, Any]]:
        return {}

    def toml(self, root: Path) -> str:
        return ""

    def clone(self, src: Path, dst: Path) -> None:
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True, timeout=60)

    def age(self, root: Path, paths: list[str], seconds: float) -> None:
        for rel in paths:
            st = os.stat(root / rel)
            os.utime(root / rel, (st.st_atime - seconds, st.st_mtime - seconds))

    def close(self) -> None:
        """Everything lives under the test's directories."""


class PostgresWorld:
    """A database per state (on the session's throwaway server, conftest's
    `pg_server`, from its migrated template), plus the local root each instance
    keeps its `queue/` and `metrics.jsonl` in. A copy is a database made with
    the original as its template, and the local root copied."""

    kind = "postgres"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        pytest.importorskip("psycopg",
                            reason="psycopg is not installed (pip install -e '.[test]')")
        from conftest import PG_TEMPLATE

        self.server = request.getfixturevalue("pg_server")
        self.template = PG_TEMPLATE
        self.databases: dict[Path, str] = {}

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.server.dsn(), autocommit=True) as conn:
            conn.execute(sql)

    def _database(self, root: Path, template: str | None = None) -> str:
        if root not in self.databases:
            name = f"ops_{len(self.databases)}_{os.getpid()}"
            self._admin(f"CREATE DATABASE {name} TEMPLATE {template or self.template}")
            self.databases[root] = name
        return self.databases[root]

    def dsn(self, root: Path) -> str:
        return str(self.server.dsn(self._database(root)))

    def sections(self, root: Path) -> dict[str, dict[str, Any]]:
        return {"backend": {"kind": "postgres", "dsn": self.dsn(root)}}

    def toml(self, root: Path) -> str:
        return f'[backend]\nkind = "postgres"\ndsn = "{self.dsn(root)}"\n'

    def clone(self, src: Path, dst: Path) -> None:
        source = self._database(src)
        self._admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{source}'")  # a template must have no sessions
        self._database(dst, template=source)
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True, timeout=60)

    def age(self, root: Path, paths: list[str], seconds: float) -> None:
        import psycopg

        with psycopg.connect(self.dsn(root), autocommit=True) as conn:
            for rel in paths:
                place, name = rel.rsplit("/", 1)
                if place == "challengers":
                    conn.execute("UPDATE challengers SET created_at = created_at - "
                                 "make_interval(secs => %s) WHERE file_name = %s",
                                 (seconds, name))
                else:
                    state = {"processed/done": "done", "processed/hard_fail": "hard_fail",
                             "processed/corrupt": "corrupt"}[place]
                    conn.execute("UPDATE handoffs SET state_since = state_since - "
                                 "make_interval(secs => %s) WHERE name = %s AND state = %s",
                                 (seconds, name, state))

    def close(self) -> None:
        for name in self.databases.values():
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


WORLDS: dict[str, Callable[[pytest.FixtureRequest], World]] = {
    "filesystem": lambda request: FilesystemWorld(),
    "postgres": PostgresWorld,
}


def _config(world: World, root: Path) -> Config:
    base: dict[str, dict[str, Any]] = {
        "paths": {"root": str(root)},
        "instance": {"id": "ops-a"},
        "backoff": {"base_seconds": 0.05, "max_seconds": 0.2},
        "repair": {"workers": 2, "test_timeout_seconds": 20, "bundle_timeout_seconds": 30,
                   "strategies": ["noop"]},
        "watch": {"rescan_seconds": 0.5, "heartbeat_seconds": 1},
        "failure_window": {"max_failures": 1},
        "prune": {"ttl_seconds": 3600},
    }
    for name, values in world.sections(root).items():
        base.setdefault(name, {}).update(values)
    return load_config(None, overrides=base)


def _submit(layout: Layout, files: dict[str, str], name: str, *, tool: str, lineage: str,
            parent: str | None = None) -> None:
    data = build_handoff(files, tool, "calc.py", lineage, parent)
    SIZES[f"{name}.json"] = len(data)
    enqueue(layout, data, tool, f"{name}.json")


def _settled(config: Config, done: int, quarantined: int, corrupt: int) -> Callable[[], bool]:
    def check() -> bool:
        backend = open_operator_backend(config, reading=True)
        try:
            s = backend.status()
        finally:
            backend.close()
        return (s.done, s.quarantined, s.corrupt, s.queue, s.in_flight, s.waiting) == (
            done, quarantined, corrupt, 0, 0, 0)
    return check


def _make_history(config: Config) -> None:
    layout = Layout.from_config(config)
    layout.ensure()
    with running(config):
        _submit(layout, A0, "a0", tool="calc", lineage="alpha")
        (layout.queue / "junk.json").write_text("not json")
        wait_for(_settled(config, 1, 0, 1), timeout=120, what="phase 1")
        _submit(layout, A1, "a1", tool="calc", lineage="alpha", parent=SHA["a0"])
        _submit(layout, A0, "a-dup", tool="calc", lineage="alpha")
        _submit(layout, W0, "w0", tool="wc", lineage="beta")
        _submit(layout, W_BAD, "w-bad", tool="wc", lineage="beta")
        wait_for(_settled(config, 4, 1, 1), timeout=120, what="phase 2")
        _submit(layout, C_BAD, "c-bad", tool="calc", lineage="gamma", parent=SHA["a1"])
        wait_for(_settled(config, 4, 2, 1), timeout=120, what="phase 3")


@pytest.fixture(scope="module", params=list(WORLDS))
def history(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Path]]:
    """(the world, the root of its state holding the history), made once per backend."""
    world = WORLDS[request.param](request)
    try:
        root = tmp_path_factory.mktemp(f"history-{world.kind}") / "state"
        _make_history(_config(world, root))
        yield world, root
    finally:
        world.close()


class Ops:
    """A state with the history, and the command line over it."""

    def __init__(self, world: World, root: Path, workdir: Path) -> None:
        self.world, self.root, self.workdir = world, root, workdir
        self.config = _config(world, root)
        self.layout = Layout.from_config(self.config)
        self.config_file = workdir / "operator.toml"
        self.config_file.write_text(
            f'[paths]\nroot = "{root}"\n[instance]\nid = "ops-a"\n'
            f"[failure_window]\nmax_failures = 1\n[prune]\nttl_seconds = 3600\n"
            + world.toml(root))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}
        return subprocess.run(
            [sys.executable, str(REPO / "run.py"), *args, "--config", str(self.config_file)],
            cwd=self.workdir, capture_output=True, text=True, timeout=60, env=env)

    def ok(self, *args: str) -> str:
        proc = self.run(*args)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def json(self, type_: type[Any], *args: str) -> Any:
        return msgspec.json.decode(self.ok(*args, "--json"), type=type_)


@pytest.fixture
def ops(history: tuple[World, Path], tmp_path: Path) -> Ops:
    """The shared history, for commands that only read."""
    world, root = history
    return Ops(world, root, tmp_path)


@pytest.fixture
def own_ops(history: tuple[World, Path], tmp_path: Path) -> Ops:
    """A private copy of the history, for commands that change the state."""
    world, root = history
    copy = tmp_path / "state"
    world.clone(root, copy)
    return Ops(world, copy, tmp_path)


# -- printed alike ------------------------------------------------------------------------

_PRINTED: dict[str, dict[str, str]] = {}
_MASKS = [
    # First: a hex digest may end in "…0d", which the durations' mask below would eat.
    (re.compile(r"config digests? [0-9a-f, ]+"), "config digests <digests>"),  # [backend] differs
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"challenger_\d{8}T\d{12}Z_"), "challenger_<time>_"),
    (re.compile(r"\d+(\.\d+)? ?(ms|s|min|h|d|B|KiB|MiB|GiB)\b"), "<n>"),
    # A table's rule under its heading is as wide as its widest value (a time's width
    # differs between two real histories): the rule's shape, not its widths.
    (re.compile(r"-{2,}"), "--"),
    (re.compile(r" +"), " "),
]


def _masked(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.strip()


def _printed_alike(ops: Ops, command: str, text: str) -> str:
    """`text` masked; and the same as every other backend printed for `command`."""
    masked = _masked(text).replace(str(ops.root), "<root>")
    seen = _PRINTED.setdefault(command, {})
    seen[ops.world.kind] = masked
    for kind, other in seen.items():
        assert other == masked, f"{command}: {ops.world.kind} prints differently from {kind}"
    return masked


# -- status -------------------------------------------------------------------------------


def test_status_counts_every_place_of_the_history(ops: Ops) -> None:
    report = ops.json(StatusReport, "status")
    assert (report.queue, report.in_flight, report.waiting) == (0, 0, 0)
    assert (report.done, report.quarantined, report.corrupt, report.challengers) == (4, 2, 1, 3)
    assert report.instances == []  # the daemon stopped cleanly: nothing alive, nothing held
    assert report.oldest_queued_age_s is None and report.next_retry_in_s is None
    places = ("queue", "in flight", "waiting", "done", "quarantined", "corrupt", "challengers",
              "instances")
    text = _printed_alike(ops, "status", "\n".join(
        line for line in ops.ok("status").splitlines() if line.startswith(places)))
    rows = {line.split(" ", 1)[0]: line for line in text.splitlines()}
    assert rows["queue"] == "queue 0 handoffs" and rows["done"] == "done 4"
    assert rows["quarantined"] == "quarantined 2" and rows["corrupt"] == "corrupt 1"
    assert rows["challengers"] == "challengers 3" and rows["in"] == "in flight 0"
    assert "instances none (no heartbeat, no claims)" in text


def test_read_commands_create_nothing_under_a_bare_root(history: tuple[World, Path],
                                                        tmp_path: Path) -> None:
    world, _ = history
    root = tmp_path / "bare"
    root.mkdir()
    ops = Ops(world, root, tmp_path)  # a fresh state of this backend, nothing in it
    for args in (("status",), ("quarantine", "list"), ("stats",)):
        ops.ok(*args)
    out = ops.ok("challengers", "export", str(tmp_path / "out"))
    assert out.strip() == f"exported 0 challengers to {tmp_path / 'out'}, skipped 0 already there"
    assert ops.run("lineage", "calc").returncode == 2  # nothing of that tool: usage error
    assert ops.run("quarantine", "show", "x").returncode == 2
    if world.kind == "filesystem":
        assert list(root.iterdir()) == []


# -- quarantine ---------------------------------------------------------------------------


def test_quarantine_list_names_both_quarantined_handoffs_with_their_reasons(ops: Ops) -> None:
    listed = ops.json(QuarantineList, "quarantine", "list")
    got = {(e.name, e.tool, e.lineage, e.bundle_sha256, e.failures, e.reason_file_ok)
           for e in listed.entries}
    assert got == {("w-bad.json", "wc", "beta", SHA["w-bad"], 1, True),
                   ("c-bad.json", "calc", "gamma", SHA["c-bad"], 1, True)}
    assert [e.name for e in listed.entries] == ["w-bad.json", "c-bad.json"]  # oldest first
    assert all(e.last_reason and "tests fail" in e.last_reason for e in listed.entries)
    assert {e.name: e.size_bytes for e in listed.entries} == {
        n: SIZES[n] for n in ("w-bad.json", "c-bad.json")}
    text = _printed_alike(ops, "quarantine list", ops.ok("quarantine", "list"))
    lines = text.splitlines()
    assert lines[0].split() == ["name", "tool", "lineage", "failures", "quarantined", "at",
                                "bundle", "last", "reason"]
    assert lines[2].startswith(f"w-bad.json wc beta 1 <time> {SHA['w-bad'][:12]}")
    assert lines[3].startswith(f"c-bad.json calc gamma 1 <time> {SHA['c-bad'][:12]}")
    assert lines[-1].startswith("2 quarantined;")


def test_quarantine_show_gives_the_reason_its_failures_and_the_test_output(ops: Ops) -> None:
    detail = ops.json(QuarantineDetail, "quarantine", "show", "c-bad")
    reason = detail.reason
    assert detail.name == "c-bad.json" and reason is not None
    assert (reason.bundle_sha256, reason.tool, reason.lineage) == (SHA["c-bad"], "calc", "gamma")
    assert len(reason.failures) == 1 and reason.failures[0].instance == "ops-a"
    assert reason.quarantined_at is not None and reason.rule
    assert "RuntimeError: no" in detail.last_test_output
    text = _printed_alike(ops, "quarantine show",
                          ops.ok("quarantine", "show", "c-bad.json").replace(
                              str(ops.layout.hard_fail), "<hard_fail>").replace(
                                  "postgres:hard_fail", "<hard_fail>"))  # its place in the store
    assert f"bundle_sha256 {SHA['c-bad']}" in text and "failures (1)" in text
    assert "RuntimeError: no" in text
    missing = ops.run("quarantine", "show", "a0")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_quarantine_release_queues_one_with_a_fresh_window(own_ops: Ops) -> None:
    out = own_ops.ok("quarantine", "release", "c-bad")
    assert out.strip() == "released c-bad.json -> queue/c-bad.json (1 failure records cleared)"
    report = own_ops.json(StatusReport, "status")
    assert (report.queue, report.quarantined) == (1, 1)
    assert [e.name for e in own_ops.json(QuarantineList, "quarantine", "list").entries] == [
        "w-bad.json"]
    stats = own_ops.json(StatsReport, "stats", "--by", "lineage")
    assert stats.total.released == 1
    again = own_ops.run("quarantine", "release", "c-bad")
    assert again.returncode == 2 and "c-bad" in again.stderr


def test_quarantine_release_all_queues_every_one(own_ops: Ops) -> None:
    out = own_ops.ok("quarantine", "release", "--all")
    assert sorted(out.strip().splitlines()) == [
        "released c-bad.json -> queue/c-bad.json (1 failure records cleared)",
        "released w-bad.json -> queue/w-bad.json (1 failure records cleared)"]
    report = own_ops.json(StatusReport, "status")
    assert (report.queue, report.quarantined, report.done) == (2, 0, 4)
    assert own_ops.ok("quarantine", "release", "--all").strip() == (
        "nothing to release: no quarantined handoffs")


# -- prune --------------------------------------------------------------------------------


def _place(path: str, root: Path) -> str:
    """A pruned entry's place relative to the state root (a backend that keeps
    no files, PostgreSQL, names the §1 place it would have: already relative)."""
    return path if not os.path.isabs(path) else os.path.relpath(path, root)


def test_prune_dry_run_lists_what_is_past_the_ttl_and_prune_removes_it(own_ops: Ops) -> None:
    challengers = own_ops.json(StatusReport, "status").challengers
    [oldest] = [name for name, _ in sorted(_exported(own_ops).items())][:1]
    aged = ["processed/done/a0.json", "processed/hard_fail/w-bad.json", f"challengers/{oldest}"]
    own_ops.world.age(own_ops.root, aged, 7200)

    dry = own_ops.json(PruneResult, "prune", "--dry-run")
    rel = sorted(_place(e.path, own_ops.root) for e in dry.removed)
    assert dry.dry_run and rel == sorted(aged)
    sizes = {_place(e.path, own_ops.root): e.bytes for e in dry.removed}
    assert sizes["processed/done/a0.json"] == SIZES["a0.json"]
    assert sizes["processed/hard_fail/w-bad.json"] == SIZES["w-bad.json"]
    assert dry.bytes_freed == sum(sizes.values())
    text = _printed_alike(own_ops, "prune --dry-run", own_ops.ok("prune", "--dry-run"))
    assert "would remove 3 entries older than" in text
    assert own_ops.json(StatusReport, "status").done == 4  # a dry run removes nothing

    done = own_ops.json(PruneResult, "prune")
    assert sorted(_place(e.path, own_ops.root) for e in done.removed) == sorted(aged)
    assert done.bytes_freed == dry.bytes_freed and not done.dry_run
    report = own_ops.json(StatusReport, "status")
    assert (report.done, report.quarantined, report.challengers) == (3, 1, challengers - 1)
    assert report.last_prune is not None
    assert [e.name for e in own_ops.json(QuarantineList, "quarantine", "list").entries] == [
        "c-bad.json"]
    pruned = own_ops.json(StatsReport, "stats")  # the `pruned` event is recorded, not counted
    assert pruned.total.repaired == 4
    if own_ops.world.kind == "filesystem":
        [line] = [m for m in metric_lines(own_ops.layout)
                  if m["event"] == "pruned" and m["reason"].endswith("(run.py prune)")]
        assert line["bytes"] == done.bytes_freed and line["instance"] == "ops-a"
    again = _printed_alike(own_ops, "prune again", own_ops.ok("prune"))
    assert again.startswith("removed 0 entries older than")


# -- stats --------------------------------------------------------------------------------


def _durations(ops: Ops) -> list[float]:
    """The `duration_s` of each fresh repair, read as plain JSON from the metrics files."""
    return sorted(float(m["duration_s"]) for path in metrics_files(ops.layout.metrics)
                  for m in map(msgspec.json.decode, path.read_bytes().splitlines())
                  if m["event"] == "repaired" and not m.get("duplicate"))


@pytest.mark.parametrize("by, rows", [
    ("lineage", [("alpha", 3, 1, 0, 0, 1.0), ("beta", 1, 0, 1, 0, 0.5),
                 ("gamma", 0, 0, 1, 0, 0.0), ("(none)", 0, 0, 0, 1, None)]),
    ("strategy", [("noop", 4, 1, 0, 0, 1.0), ("(none)", 0, 0, 2, 1, 0.0)]),
    ("tool", [("calc", 3, 1, 1, 0, 0.75), ("wc", 1, 0, 1, 0, 0.5),
              ("(none)", 0, 0, 0, 1, None)]),
])
def test_stats_by_each_grouping_count_the_history(
        ops: Ops, by: str, rows: list[tuple[str, int, int, int, int, float | None]]) -> None:
    report = ops.json(StatsReport, "stats", "--by", by)
    assert report.by == by and report.since is None and report.skipped == 0
    assert [(r.group, r.repaired, r.duplicates, r.quarantined, r.corrupt, r.success_rate)
            for r in report.rows] == rows
    total = report.total
    assert (total.repaired, total.duplicates, total.quarantined, total.corrupt) == (4, 1, 2, 1)
    assert (total.repair_failed, total.released, total.timed) == (2, 0, 3)
    if ops.world.kind == "filesystem":  # the events as every instance appended them (§4, §9)
        times = _durations(ops)
        assert total.median_s == statistics.median(times) and total.p95_s == times[-1]
        assert report.lines == sum(len(p.read_bytes().splitlines())
                                   for p in metrics_files(ops.layout.metrics))
    heading, _, table = ops.ok("stats", "--by", by).partition("\n")
    assert heading.startswith("leaderboard of lineages, best first: " if by == "lineage"
                              else f"by {by}: ")
    text = _printed_alike(ops, f"stats --by {by}", table)  # the heading names the sources
    cells = [line.split() for line in text.splitlines()[2:]
             if line and not line.startswith(("-", "also"))]
    groups = [c[1] if by == "lineage" and c[0].isdigit() else c[0] for c in cells]
    assert groups == [r[0] for r in rows] + ["(all)"]
    assert text.splitlines()[-1] == ("also: 2 failed attempts, 0 released, 1 corrupt, "
                                     "1 duplicates; times are of 3 fresh repairs")
    recent = ops.json(StatsReport, "stats", "--by", by, "--since", "1d")
    assert recent.rows == report.rows and recent.total == report.total


# -- lineage ------------------------------------------------------------------------------


def test_lineage_links_the_history_of_a_tool_oldest_first(ops: Ops) -> None:
    report = ops.json(LineageReport, "lineage", "calc")
    assert [(e.status, e.bundle_sha256, e.parent_sha256, e.parent_index, e.handoffs,
             e.repaired_sha256, e.strategy) for e in report.entries] == [
        ("repaired", SHA["a0"], None, None, ["a0.json"], SHA["a0"], "noop"),
        ("repaired", SHA["a1"], SHA["a0"], 0, ["a1.json"], SHA["a1"], "noop"),
        ("quarantined", SHA["c-bad"], SHA["a1"], 1, ["c-bad.json"], None, None),
    ]
    text = _printed_alike(ops, "lineage calc", ops.ok("lineage", "calc"))
    rows = [line for line in text.splitlines() if line.startswith("#")]
    assert len(rows) == 3 and "quarantined" in rows[2]
    assert f"{SHA['a0'][:12]} (#0)" in rows[1] and f"{SHA['a1'][:12]} (#1)" in rows[2]
    wc = ops.json(LineageReport, "lineage", "wc").entries
    assert {(e.status, e.bundle_sha256, e.handoffs[0]) for e in wc} == {
        ("repaired", SHA["w0"], "w0.json"), ("quarantined", SHA["w-bad"], "w-bad.json")}
    unknown = ops.run("lineage", "nosuchtool")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


# -- the reads the web window uses ---------------------------------------------------------


def _backend(config: Config) -> Backend:
    """The backend of `config`, as the daemon and the web window open it."""
    return open_backend(config, config.instance.id)


def test_events_hold_the_whole_history_once_and_then_only_what_is_new(ops: Ops) -> None:
    backend = _backend(ops.config)
    try:
        lines, cursor = backend.events(None)
        counts = Counter(line.event for line in lines)
        assert {e: counts[e] for e in ("repaired", "quarantined", "corrupt", "repair_failed",
                                       "released")} == {
            "repaired": 4, "quarantined": 2, "corrupt": 1, "repair_failed": 2, "released": 0}
        assert sorted(str(line.handoff) for line in lines if line.event == "repaired") == [
            "a-dup.json", "a0.json", "a1.json", "w0.json"]
        assert [line.duplicate for line in lines
                if line.event == "repaired" and line.handoff == "a-dup.json"] == [True]
        assert backend.events(cursor) == ([], cursor)
        # The same events as stats reads in batches, in the same order.
        assert [line for batch in backend.event_batches() for line in batch] == lines
    finally:
        backend.close()


def test_recent_challengers_are_the_newest_first(ops: Ops) -> None:
    backend = _backend(ops.config)
    try:
        newest = backend.recent_challengers(2)
        every = backend.recent_challengers(10)
        names = [name for name, _ in backend.challengers()]
    finally:
        backend.close()
    assert [c.bundle_sha256 for c in every] == [
        msgspec.json.decode(data, type=Challenger).bundle_sha256
        for data in reversed([d for _, d in _challengers_of(ops)])]
    assert len(every) == 3 and newest == every[:2]
    assert {c.bundle_sha256 for c in every} == {SHA["a0"], SHA["a1"], SHA["w0"]}
    assert names == sorted(names) and len(names) == 3  # oldest first
    assert [c.created_at for c in every] == sorted((c.created_at for c in every), reverse=True)


def _challengers_of(ops: Ops) -> list[tuple[str, bytes]]:
    backend = _backend(ops.config)
    try:
        return list(backend.challengers())
    finally:
        backend.close()


# -- challengers export -------------------------------------------------------------------

_NAME = re.compile(r"challenger_\d{8}T\d{6}\d{6}Z_([0-9a-f]{12})\.json")


def _exported(ops: Ops) -> dict[str, bytes]:
    """Every challenger of the state, as `challengers export` writes it."""
    target = ops.workdir / f"export-{time.monotonic_ns()}"
    ops.ok("challengers", "export", str(target))
    return {p.name: p.read_bytes() for p in target.iterdir()}


def test_challengers_export_writes_each_once_as_its_spec_file(ops: Ops) -> None:
    target = ops.workdir / "out"
    out = ops.ok("challengers", "export", str(target))
    assert out.strip() == f"exported 3 challengers to {target}, skipped 0 already there"
    files = {p.name: p for p in target.iterdir()}
    assert len(files) == 3 and not any(n.startswith(".") for n in files)  # no temporary left
    by_bundle, created = {}, {}
    for name, path in files.items():
        match = _NAME.fullmatch(name)
        assert match is not None, name
        c = msgspec.json.decode(path.read_bytes(), type=Challenger)
        assert c.schema == "repairlab.challenger/1" and c.bundle_sha256[:12] == match.group(1)
        assert c.repair_strategy == "noop" and c.diff == "" and c.meta_repair is True
        assert spec_sha256(c.files) == c.repaired_sha256 == c.bundle_sha256
        by_bundle[c.bundle_sha256] = (c.tool, c.lineage)
        created[name] = c.created_at
    assert by_bundle == {SHA["a0"]: ("calc", "alpha"), SHA["a1"]: ("calc", "alpha"),
                         SHA["w0"]: ("wc", "beta")}
    assert sorted(files) == sorted(files, key=created.__getitem__)  # the newest sorts last
    if ops.world.kind == "filesystem":  # the very bytes the daemon wrote
        assert {n: p.read_bytes() for n, p in files.items()} == {
            n: (ops.layout.challengers / n).read_bytes() for n in files}

    # Again, with one file changed by hand and one removed: only the missing one is written.
    first, second, _ = sorted(files)
    files[first].write_text("mine")
    files[second].unlink()
    again = ops.ok("challengers", "export", str(target))
    assert again.strip() == f"exported 1 challengers to {target}, skipped 2 already there"
    assert files[first].read_text() == "mine"  # never overwritten
    assert msgspec.json.decode(files[second].read_bytes(), type=Challenger).bundle_sha256
    assert sorted(p.name for p in target.iterdir()) == sorted(files)


def test_challengers_export_into_a_file_is_a_usage_error(ops: Ops) -> None:
    blocker = ops.workdir / "a-file"
    blocker.write_text("x")
    proc = ops.run("challengers", "export", str(blocker))
    assert proc.returncode == 2 and "not a directory" in proc.stderr
    assert blocker.read_text() == "x"

