"""The daemon's commands as an operator runs them: real processes, real roots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAILING, PASSING, AsUser, names, spec_sha256, submit, variant
from repairlab.config import load_config
from repairlab.state.layout import Layout

REPO = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}
    env.update(extra)
    return env


def _run(*args: str, cwd: Path, timeout: float = 120, user: AsUser | None = None, **env: str
         ) -> subprocess.CompletedProcess[str]:
    """`run.py ARGS` in `cwd`, as `user` when given (HOME is then `cwd`)."""
    drop = user.popen if user is not None else {}
    if drop:
        env = {"HOME": str(cwd), **env}
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=_env(**env),
                          **drop)


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "repairlab.toml"
    path.write_text('[paths]\nroot = "state"\n[instance]\nid = "cli"\n'
                    '[repair]\nstrategies = ["noop"]\n'
                    '[backoff]\nbase_seconds = 0.05\nmax_seconds = 0.1\n' + extra)
    return path


def test_submit_packs_a_directory_into_a_valid_handoff(tmp_path):
    tool = tmp_path / "tool"
    (tool / "pkg").mkdir(parents=True)
    (tool / "pkg" / "calc.py").write_text(PASSING["calc.py"])
    tests = PASSING["test_calc.py"].replace("from calc", "from pkg.calc")
    (tool / "test_calc.py").write_text(tests)
    (tool / "__pycache__").mkdir()
    (tool / "__pycache__" / "x.pyc").write_bytes(b"\0")
    config = _config(tmp_path)
    proc = _run("submit", str(tool), "--tool", "calc", "--entrypoint", "pkg/calc.py",
                "--lineage", "L1", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    queued = Path(proc.stdout.strip())
    assert queued.parent == tmp_path / "state" / "queue" and queued.name.endswith(".json")
    doc = json.loads(queued.read_text())
    assert doc["schema"] == "repairlab.handoff/1" and doc["lineage"] == "L1"
    assert sorted(doc["files"]) == ["pkg/calc.py", "test_calc.py"]
    assert not any(p.name.startswith(".") for p in queued.parent.iterdir())


def test_submit_refuses_an_entrypoint_that_is_not_in_the_directory(tmp_path):
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = _run("submit", str(tool), "--tool", "x", "--entrypoint", "missing.py", "--config",
                str(_config(tmp_path)), cwd=tmp_path)
    assert proc.returncode == 2
    assert "entrypoint" in proc.stderr and "missing.py" in proc.stderr
    assert names(tmp_path / "state" / "queue") == []


def test_drain_exits_zero_once_everything_is_terminal(daemon_dir, daemon_user):
    work = daemon_dir
    config = _config(work, "[failure_window]\nmax_failures = 2\n")
    layout = Layout.at(work / "state")
    for i in range(4):
        daemon_user.call(submit, layout, variant(PASSING, i), f"ok{i}.json")
    daemon_user.call(submit, layout, FAILING, "bad.json")
    (layout.queue / "junk.json").write_text("nope")
    proc = _run("drain", "--timeout", "120", "--config", str(config), cwd=work, timeout=180,
                user=daemon_user)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert names(layout.done) == [f"ok{i}.json" for i in range(4)]
    assert names(layout.hard_fail) == ["bad.json", "bad.reason.json"]
    assert names(layout.corrupt) == ["junk.json", "junk.reason.json"]
    assert names(layout.queue) == [] and names(layout.deferred) == []


def test_drain_exits_non_zero_on_timeout_and_loses_nothing(daemon_dir, daemon_user):
    work = daemon_dir
    path = work / "repairlab.toml"
    path.write_text('[paths]\nroot = "state"\n[instance]\nid = "cli"\n'
                    '[repair]\nstrategies = ["noop"]\n'
                    '[backoff]\nbase_seconds = 300\nmax_seconds = 300\n')
    layout = Layout.at(work / "state")
    daemon_user.call(submit, layout, FAILING, "slow.json")
    started = time.monotonic()
    proc = _run("drain", "--timeout", "8", "--config", str(path), cwd=work, timeout=120,
                user=daemon_user)
    assert proc.returncode == 1
    assert "timed out" in proc.stderr
    assert time.monotonic() - started < 60
    assert names(layout.deferred) == ["slow.json"]  # waiting out its backoff, not lost


@pytest.mark.timeout(300)
def test_demo_runs_from_a_clean_checkout(daemon_dir, daemon_user):
    clone = daemon_dir / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=60)
    for leftover in ("var",):
        shutil.rmtree(clone / leftover, ignore_errors=True)
    daemon_user.own(clone)
    drop = daemon_user.popen
    home = {"HOME": str(clone)} if drop else {}
    proc = subprocess.run([sys.executable, "run.py", "demo"], cwd=clone, capture_output=True,
                          text=True, timeout=280, env=_env(**home), **drop)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "fresh state root" in out and "where to look" in out
    roots = [p for p in (clone / "var").glob("demo-*") if p.is_dir()]
    assert len(roots) == 1
    layout = Layout.at(roots[0])
    # It ends with the dashboard's command line, whose config names this root.
    hint = out.strip().splitlines()[-1].strip()
    assert hint == f"repairlab web --config {roots[0].with_suffix('.toml')}"
    assert f"python run.py web --config {roots[0].with_suffix('.toml')}" in out
    assert "http://127.0.0.1:8470/" in out
    assert load_config(roots[0].with_suffix(".toml")).root == roots[0]
    assert "slugify.json" in names(layout.done) and "slugify-again.json" in names(layout.done)
    assert "roman.json" in names(layout.hard_fail)
    assert "truncated.json" in names(layout.corrupt)
    assert names(layout.queue) == []
    sha = spec_sha256({"slugify.py": (clone / "cli/demo_bundles/slugify/slugify.py").read_text(),
                       "test_slugify.py":
                       (clone / "cli/demo_bundles/slugify/test_slugify.py").read_text()})
    assert any(n.endswith(f"_{sha[:12]}.json") for n in names(layout.challengers))
