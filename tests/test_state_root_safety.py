"""The state root is refused, as OpenSSH refuses loose key files, when anyone else
could have planted something in it: world- or group-writable, owned by another user,
a symlink, or holding a symlink where a state directory belongs.

Each refusal is checked end to end: `run.py run --config ...` in a child process
exits 2 with one line naming the path, and starts nothing.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PASSING, names, running, submit, wait_for
from repairlab.config import load_config
from repairlab.state.layout import Layout

RUN_PY = Path(__file__).resolve().parent.parent / "run.py"
SUBDIRS = ["queue", "processed", "processed/done", "processed/hard_fail",
           "processed/corrupt", "challengers", "patterns", "claims", "deferred", "failures",
           "instances", "schedule"]


def start_daemon(tmp_path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """`run.py run` on `root`; a refusal comes back at once (a start would hang: the
    timeout then fails the test)."""
    config = tmp_path / "repairlab.toml"
    config.write_text(f'[paths]\nroot = "{root}"\n\n[instance]\nid = "safety"\n')
    return subprocess.run([sys.executable, str(RUN_PY), "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path,
                          env={**os.environ, "REPAIRLAB_CONFIG": ""})


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


def assert_nothing_started(root: Path) -> None:
    """No heartbeat, no metrics line: the daemon stopped before running anything."""
    assert not (root / "metrics.jsonl").exists()
    instances = root / "instances"
    if instances.is_dir():
        assert not list(instances.glob("*.json"))


def make_root(tmp_path: Path, mode: int = 0o700) -> Path:
    root = tmp_path / "state"
    root.mkdir()
    os.chmod(root, mode)
    return root


@pytest.mark.parametrize("mode,what", [(0o777, "777"), (0o1777, "1777"), (0o770, "770"),
                                       (0o702, "702")],
                         ids=["world-writable", "sticky-like-tmp", "group-writable",
                              "world-writable-only"])
def test_daemon_refuses_a_root_that_others_can_write(tmp_path: Path, mode: int,
                                                     what: str) -> None:
    root = make_root(tmp_path, mode)
    assert_refused(start_daemon(tmp_path, root), str(root), "writable by others", what)
    assert stat.S_IMODE(root.stat().st_mode) == mode  # refused, not silently "fixed"
    assert_nothing_started(root)


def test_daemon_refuses_a_root_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    root = make_root(tmp_path)
    os.chown(root, 4242, 4242)
    assert_refused(start_daemon(tmp_path, root), str(root), "owned by uid 4242")
    assert_nothing_started(root)


def test_daemon_refuses_a_root_that_is_a_symlink(tmp_path: Path) -> None:
    real = make_root(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert_refused(start_daemon(tmp_path, link), str(link), "symbolic link")


def _queue_is_a_symlink(root: Path, outside: Path) -> str:
    (root / "queue").symlink_to(outside)
    return "queue"


def _done_is_a_symlink(root: Path, outside: Path) -> str:
    (root / "processed").mkdir(mode=0o700)
    (root / "processed" / "done").symlink_to(outside)
    return "processed/done"


def _claims_is_a_symlink(root: Path, outside: Path) -> str:
    (root / "claims").symlink_to(outside)
    return "claims"


def _queue_is_world_writable(root: Path, outside: Path) -> str:
    (root / "queue").mkdir(mode=0o700)
    os.chmod(root / "queue", 0o777)
    return "queue"


@pytest.mark.parametrize("plant", [_queue_is_a_symlink, _done_is_a_symlink,
                                   _claims_is_a_symlink, _queue_is_world_writable],
                         ids=["queue-symlink", "done-symlink", "claims-symlink",
                              "queue-world-writable"])
def test_daemon_refuses_a_planted_state_directory_and_never_writes_through_it(
        tmp_path: Path, plant: Callable[[Path, Path], str]) -> None:
    root = make_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.json").write_text("{}")
    where = plant(root, outside)
    assert_refused(start_daemon(tmp_path, root), str(root / where))
    assert sorted(p.name for p in outside.iterdir()) == ["keep.json"]


def test_a_symlinked_processed_dir_gets_nothing_created_through_it(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "processed").symlink_to(outside)
    assert_refused(start_daemon(tmp_path, root), str(root / "processed"), "symbolic link")
    assert list(outside.iterdir()) == []


def test_fresh_root_and_every_state_directory_are_created_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "fresh" / "state"
    old = os.umask(0o000)  # even a careless umask must not loosen them
    try:
        Layout.at(root).ensure()
    finally:
        os.umask(old)
    for rel in ["", *SUBDIRS]:
        st = os.lstat(root / rel)
        assert stat.S_ISDIR(st.st_mode), rel
        assert stat.S_IMODE(st.st_mode) == 0o700, (rel, oct(st.st_mode))
        assert st.st_uid == os.geteuid()


def test_daemon_starts_on_a_fresh_root_it_creates_itself(tmp_path: Path) -> None:
    """The control case: the same command on a fresh root runs (until stopped)."""
    root = tmp_path / "state"
    config = tmp_path / "repairlab.toml"
    config.write_text(f'[paths]\nroot = "{root}"\n\n[instance]\nid = "safety"\n')
    proc = subprocess.Popen([sys.executable, str(RUN_PY), "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        heartbeat = root / "instances" / "safety.json"
        for _ in range(300):
            if heartbeat.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        assert heartbeat.exists()
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize("planted", ["metrics.jsonl", "instances/safety.json"],
                         ids=["metrics", "heartbeat"])
def test_a_planted_file_symlink_under_the_root_is_never_written_through(
        tmp_path: Path, planted: str) -> None:
    """Files are opened with O_NOFOLLOW or replaced by rename: a symlink planted where
    the daemon writes is never followed, and its target stays as it was."""
    root = tmp_path / "state"
    Layout.at(root).ensure()
    victim = tmp_path / "victim.txt"
    victim.write_text("the operator's own file\n")
    (root / planted).symlink_to(victim)
    config = load_config(None, overrides={
        "paths": {"root": str(root)}, "instance": {"id": "safety"},
        "repair": {"strategies": ["noop"]},
        "watch": {"rescan_seconds": 0.3, "heartbeat_seconds": 0.2},
    })
    layout = Layout.from_config(config)
    submit(layout, PASSING, "good.json")
    with running(config):
        wait_for(lambda: names(layout.done) == ["good.json"], timeout=30, what="done/")
        time.sleep(0.5)  # a few heartbeats and metrics writes pass
    assert victim.read_text() == "the operator's own file\n"
