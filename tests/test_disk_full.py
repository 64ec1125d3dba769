"""A full or read-only state root is survived: a real daemon on a real small tmpfs.

Each test mounts a tmpfs of a few MB under tmp_path (root only; CI is root) and
unmounts it in teardown whatever happened. The daemon is a child process
(`run.py run`), started in its own session and stopped by its pid. The disk is
filled by a file the test owns; handoffs arrive by rename from a staging folder on
the same filesystem (a producer with a full disk can still rename).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FAILING, PASSING, names, variant, wait_for
from repairlab.cli.submit import build_handoff
from repairlab.state.claims import Claims
from repairlab.state.disk import disk_condition, disk_status, probe
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog

REPO = Path(__file__).resolve().parent.parent
PAUSED = "claiming paused"
RESUMED = "claiming resumed"


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted at tmp_path/fs, unmounted (lazily if busy) afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = _mount("-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mnt))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        _mount("-o", "remount,rw", str(mnt))
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


class Daemon:
    """`run.py run` as a child process, its log in a file outside the small fs."""

    def __init__(self, tmp_path: Path, root: Path, log_name: str = "daemon.log") -> None:
        self.config = tmp_path / "daemon.toml"
        self.config.write_text(
            f'[paths]\nroot = "{root}"\n[instance]\nid = "disk-a"\nlease_seconds = 5\n'
            '[repair]\nworkers = 2\nstrategies = ["noop"]\n'
            '[failure_window]\nmax_failures = 1\n'
            '[watch]\nrescan_seconds = 0.5\nheartbeat_seconds = 0.5\n')
        self.log_path = tmp_path / log_name
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}
        # Plays systemd's side of sd_notify, to read the STATUS= line.
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / f"{log_name}.sock"))
        self.notify.settimeout(0.1)
        env["NOTIFY_SOCKET"] = str(tmp_path / f"{log_name}.sock")
        self.env = {k: v for k, v in env.items() if k != "NOTIFY_SOCKET"}  # for `status`
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "run.py"), "run", "--config", str(self.config)],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines_with(self, text: str) -> list[str]:
        return [line for line in self.log().splitlines() if text in line]

    def notified(self, needle: str, timeout: float) -> str:
        """The first sd_notify datagram containing `needle` within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.notify.recv(65536).decode()
            except TimeoutError:
                continue
            if needle in text:
                return text
        raise AssertionError(f"no sd_notify message with {needle!r} within {timeout}s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def status(self) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, str(REPO / "run.py"), "status", "--json", "--config",
             str(self.config)], env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        loaded: dict[str, object] = json.loads(out.stdout)
        return loaded

    def stop(self) -> int:
        self.notify.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
            return -9


@pytest.fixture
def daemon_on(tmp_path: Path, small_fs: Path) -> Iterator[tuple[Daemon, Layout]]:
    layout = Layout.at(small_fs / "state")
    layout.ensure()
    daemon = Daemon(tmp_path, layout.root)
    try:
        wait_for(lambda: bool(names(layout.instances)) or not daemon.alive(), 60,
                 "the daemon's first heartbeat")
        assert daemon.alive(), daemon.log()
        yield daemon, layout
    finally:
        daemon.stop()
        print(daemon.log()[-20000:])  # shown when the test failed


def _stage(staging: Path, count: int, prefix: str) -> list[str]:
    """Write `count` handoffs (half passing, half failing) into `staging`."""
    staging.mkdir(exist_ok=True)
    made = []
    for i in range(count):
        files = variant(PASSING, i) if i % 2 == 0 else dict(
            FAILING, **{"calc.py": FAILING["calc.py"] + f"# {prefix}{i}\n"})
        name = f"{prefix}{i:02d}.json"
        (staging / name).write_bytes(build_handoff(files, "calc", "calc.py", "calc-line"))
        made.append(name)
    return made


def _arrive(staging: Path, layout: Layout, batch: list[str]) -> None:
    for name in batch:
        os.rename(staging / name, layout.queue / name)


def _fill(mnt: Path) -> Path:
    """Write a filler file until the filesystem refuses (ENOSPC)."""
    filler = mnt / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:  # the last partial pages
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def _places(layout: Layout) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {
        "queue": names(layout.queue), "deferred": names(layout.deferred),
        "done": names(layout.done),
        "hard_fail": [n for n in names(layout.hard_fail) if not n.endswith(".reason.json")],
        "corrupt": [n for n in names(layout.corrupt) if not n.endswith(".reason.json")],
        "claims": [],
    }
    if layout.claims.exists():
        for owner in layout.claims.iterdir():
            out["claims"] += names(owner)
    return out


def _assert_each_in_exactly_one_place(layout: Layout, expected: list[str]) -> None:
    seen: dict[str, list[str]] = {}
    for place, listed in _places(layout).items():
        for name in listed:
            seen.setdefault(name, []).append(place)
    assert sorted(seen) == sorted(expected), (sorted(seen), sorted(expected))
    doubled = {n: p for n, p in seen.items() if len(p) != 1}
    assert not doubled, doubled


def _assert_every_json_parses(root: Path) -> None:
    """No visible *.json under the root is truncated or half written, and every
    metrics line is whole."""
    for path in root.rglob("*.json"):
        if path.name.startswith(".") or path.is_symlink() or not path.is_file():
            continue
        json.loads(path.read_bytes())
    metrics = root / "metrics.jsonl"
    if metrics.exists():
        data = metrics.read_bytes()
        assert data == b"" or data.endswith(b"\n"), data[-200:]
        for line in data.splitlines():
            json.loads(line)


def _assert_disk_errors_were_never_failures(layout: Layout) -> None:
    """Each quarantined handoff failed once (max_failures = 1), for its tests."""
    for reason in layout.hard_fail.glob("*.reason.json"):
        loaded = json.loads(reason.read_bytes())
        assert len(loaded["failures"]) == 1, loaded
        text = json.dumps(loaded)
        assert "No space" not in text and "Read-only" not in text, loaded


def _in_flight(layout: Layout) -> int:
    return len(_places(layout)["claims"])


def _drained(layout: Layout) -> bool:
    places = _places(layout)
    return not (places["queue"] or places["deferred"] or places["claims"])


@pytest.mark.timeout(240)
def test_a_full_disk_pauses_claiming_loses_nothing_and_drains_once_space_returns(daemon_on):
    daemon, layout = daemon_on
    mnt = layout.root.parent
    staging = mnt / "incoming"
    first = _stage(staging, 6, "a")
    later = _stage(staging, 10, "b")
    _arrive(staging, layout, first)
    filler = _fill(mnt)  # while the first batch is being repaired
    _arrive(staging, layout, later)

    wait_for(lambda: bool(daemon.lines_with(PAUSED)) or not daemon.alive(), 60,
             "the daemon to notice the full disk")
    assert daemon.alive(), daemon.log()[-3000:]
    # While full: nothing is claimed, nothing is lost, nothing half written.
    wait_for(lambda: _in_flight(layout) == 0, 30, "the claims to be handed back")
    status = daemon.status()
    disk = status["disk"]
    assert isinstance(disk, dict) and disk["problem"] == "full", status
    assert "PAUSED: state root full" in daemon.notified("PAUSED", 15)  # systemctl status
    for _ in range(12):
        time.sleep(0.25)
        assert daemon.alive(), daemon.log()[-3000:]
        assert _in_flight(layout) == 0, _places(layout)
        _assert_each_in_exactly_one_place(layout, first + later)
    assert _places(layout)["queue"], "the later batch waits in queue/"
    _assert_every_json_parses(layout.root)

    filler.unlink()
    wait_for(lambda: _drained(layout), 120, "everything to drain once space returned")
    places = _places(layout)
    _assert_each_in_exactly_one_place(layout, first + later)
    assert sorted(places["done"]) == sorted(n for n in first + later
                                            if int(n[1:3]) % 2 == 0)
    assert sorted(places["hard_fail"]) == sorted(n for n in first + later
                                                 if int(n[1:3]) % 2 == 1)
    _assert_every_json_parses(layout.root)
    assert status_disk_problem(daemon) is None
    # Said once per episode, not once per handoff; metrics lines kept for later.
    assert len(daemon.lines_with(PAUSED)) == 1, daemon.log()[-4000:]
    assert len(daemon.lines_with("No space left on device")) == 1, daemon.log()[-4000:]
    wait_for(lambda: len(daemon.lines_with(RESUMED)) == 1, 10, "the resume line")
    repaired = {json.loads(line)["handoff"] for line in
                (layout.root / "metrics.jsonl").read_text().splitlines()
                if json.loads(line)["event"] == "repaired"}
    assert repaired == set(places["done"])
    assert not [p for p in layout.root.rglob(".*tmp*")], "temporary files left behind"
    _assert_disk_errors_were_never_failures(layout)
    assert not daemon.lines_with("crashed"), daemon.log()[-4000:]
    assert daemon.stop() == 0, daemon.log()[-3000:]


def status_disk_problem(daemon: Daemon) -> object:
    disk = daemon.status()["disk"]
    assert isinstance(disk, dict)
    return disk["problem"]


def _remount(mnt: Path, mode: str) -> None:
    """Remount `mnt` `mode` (ro or rw); a writer holding a file open for writing
    makes ro refuse (EBUSY) for a moment, so it is tried for a while."""
    deadline = time.monotonic() + 20
    while True:
        done = _mount("-o", f"remount,{mode}", str(mnt))
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"remount,{mode} failed: {done.stderr}")
        time.sleep(0.05)


@pytest.mark.timeout(240)
def test_a_read_only_state_root_pauses_claiming_and_drains_once_writable_again(daemon_on):
    daemon, layout = daemon_on
    mnt = layout.root.parent
    staging = mnt / "incoming"
    batch = _stage(staging, 16, "r")
    _arrive(staging, layout, batch)
    wait_for(lambda: _in_flight(layout) > 0 or _drained(layout), 60, "the first claims")
    _remount(mnt, "ro")
    try:
        wait_for(lambda: bool(daemon.lines_with(PAUSED)) or not daemon.alive(), 60,
                 "the daemon to notice the read-only root")
        assert daemon.alive(), daemon.log()[-3000:]
        assert status_disk_problem(daemon) == "read-only"
        frozen = _places(layout)
        for _ in range(12):
            time.sleep(0.25)
            assert daemon.alive(), daemon.log()[-3000:]
            assert _places(layout) == frozen  # nothing can move, and nothing is claimed
        _assert_each_in_exactly_one_place(layout, batch)
        _assert_every_json_parses(layout.root)
    finally:
        _remount(mnt, "rw")
    wait_for(lambda: _drained(layout), 120, "everything to drain once writable again")
    places = _places(layout)
    _assert_each_in_exactly_one_place(layout, batch)
    assert sorted(places["done"]) == sorted(n for n in batch if int(n[1:3]) % 2 == 0)
    assert sorted(places["hard_fail"]) == sorted(n for n in batch if int(n[1:3]) % 2 == 1)
    _assert_every_json_parses(layout.root)
    assert status_disk_problem(daemon) is None
    assert len(daemon.lines_with(PAUSED)) == 1, daemon.log()[-4000:]
    wait_for(lambda: len(daemon.lines_with(RESUMED)) == 1, 10, "the resume line")
    _assert_disk_errors_were_never_failures(layout)
    assert not daemon.lines_with("crashed"), daemon.log()[-4000:]
    assert daemon.stop() == 0, daemon.log()[-3000:]


@pytest.mark.timeout(240)
def test_a_daemon_stopped_while_the_root_is_read_only_exits_cleanly_and_restarts_to_drain(
        tmp_path, daemon_on):
    daemon, layout = daemon_on
    mnt = layout.root.parent
    staging = mnt / "incoming"
    batch = _stage(staging, 8, "s")
    _arrive(staging, layout, batch)
    wait_for(lambda: _in_flight(layout) > 0 or _drained(layout), 60, "the first claims")
    _remount(mnt, "ro")
    try:
        wait_for(lambda: bool(daemon.lines_with(PAUSED)) or not daemon.alive(), 60,
                 "the daemon to notice the read-only root")
        held = _places(layout)["claims"]
        assert daemon.stop() == 0, daemon.log()[-3000:]
        assert _places(layout)["claims"] == held  # nothing could move, nothing is lost
        if held:
            assert daemon.lines_with("stay claimed"), daemon.log()[-3000:]
        _assert_each_in_exactly_one_place(layout, batch)
    finally:
        _remount(mnt, "rw")
    again = Daemon(tmp_path, layout.root, "again.log")
    try:
        wait_for(lambda: _drained(layout) or not again.alive(), 120,
                 "the restarted daemon to drain everything")
        assert again.alive(), again.log()[-3000:]
        _assert_each_in_exactly_one_place(layout, batch)
        assert sorted(_places(layout)["done"]) == sorted(
            n for n in batch if int(n[1:3]) % 2 == 0)
        _assert_every_json_parses(layout.root)
        assert again.stop() == 0, again.log()[-3000:]
    finally:
        again.stop()


# -- the pieces, on the same real small filesystem ----------------------------------------


def test_a_metrics_line_cut_short_by_a_full_disk_leaves_no_half_line(small_fs):
    metrics = small_fs / "metrics.jsonl"
    head = b'{"event":"earlier"}\n'.ljust(4000, b" ")  # its page has 96 bytes left
    metrics.write_bytes(head)
    filler = _fill(small_fs)
    log = MetricsLog(metrics, "disk-a")
    with pytest.raises(OSError) as caught:
        log.append(log.line("repaired", handoff="x" * 600))  # fits only in part
    assert caught.value.errno == errno.ENOSPC
    assert metrics.read_bytes() == head
    filler.unlink()
    log.append(log.line("repaired", handoff="y.json"))
    assert json.loads(metrics.read_bytes()[len(head):])["handoff"] == "y.json"


def test_the_heartbeat_stays_fresh_on_a_full_disk(small_fs):
    layout = Layout.at(small_fs / "state")
    layout.ensure()
    claims = Claims(layout, "disk-a")
    claims.heartbeat(now=1_000.0)
    _fill(small_fs)
    claims.heartbeat(now=2_000.0)
    beat = layout.instances / "disk-a.json"
    assert os.stat(beat).st_mtime == 2_000.0
    assert json.loads(beat.read_bytes())["instance"] == "disk-a"


def test_status_reads_a_full_and_a_read_only_root_without_writing(small_fs):
    layout = Layout.at(small_fs / "state")
    layout.ensure()
    assert disk_status(layout.root).problem is None
    filler = _fill(small_fs)
    full = disk_status(layout.root)
    assert full.problem == "full" and full.free_bytes is not None and full.free_bytes < 65536
    filler.unlink()
    _remount(small_fs, "ro")
    try:
        assert disk_status(layout.root).problem == "read-only"
        error = probe(layout.root, "disk-a")
        assert error is not None and disk_condition(error) == "read-only"
    finally:
        _remount(small_fs, "rw")
    assert probe(layout.root, "disk-a") is None
