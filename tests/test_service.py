"""The daemon as systemd runs it: a real child process, a real AF_UNIX datagram
socket as $NOTIFY_SOCKET, real signals."""

from __future__ import annotations

import itertools
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

from conftest import FAILING, PASSING, names, submit, variant, wait_for
from repairlab.state.layout import Layout

REPO = Path(__file__).resolve().parent.parent


class Manager:
    """Plays systemd's side of sd_notify: receives and keeps every datagram."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.path = path
        self.messages: list[tuple[float, str]] = []

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def wait(self, needle: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for stamp, text in self.messages:
                if needle in text:
                    return stamp
            self.pump(0.1)
        raise AssertionError(f"no {needle!r} within {timeout}s; got {self.messages[-5:]}")

    def stamps(self, needle: str, after: float = 0.0) -> list[float]:
        return [t for t, text in self.messages if needle in text and t >= after]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    m = Manager(tmp_path / "notify.sock")
    yield m
    m.sock.close()


def _write_config(path: Path, extra: str = "") -> None:
    path.write_text('[paths]\nroot = "state"\n[instance]\nid = "svc"\n'
                    '[repair]\nstrategies = ["noop"]\n'
                    '[backoff]\nbase_seconds = 0.05\nmax_seconds = 0.1\n' + extra)


def _start(tmp_path: Path, config: Path, manager: Manager, *, watchdog_usec: int | None = None,
           faults: str | None = None, log_json: bool = False) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}
    env["NOTIFY_SOCKET"] = str(manager.path)
    if watchdog_usec is not None:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    if faults:
        env["REPAIRLAB_FAULTS"] = faults
    argv = [sys.executable, str(REPO / "run.py"), "run", "--config", str(config)]
    if log_json:
        argv.append("--log-json")
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode, err


def test_ready_status_and_stopping_arrive_and_sigterm_exits_zero_losing_nothing(
        tmp_path, manager):
    config = tmp_path / "r.toml"
    _write_config(config)
    layout = Layout.at(tmp_path / "state")
    for i in range(3):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    proc = _start(tmp_path, config, manager)
    try:
        manager.wait("READY=1", timeout=30)
        ready_text = next(t for _, t in manager.messages if "READY=1" in t)
        assert "STATUS=" in ready_text
        wait_for(lambda: len(names(layout.done)) == 3, timeout=60, what="three done")
        manager.wait("done 3", timeout=15)  # STATUS= reflects the state root
        for i in range(3, 8):
            submit(layout, variant(PASSING, i), f"ok{i}.json")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code, err = _stop(proc)
    finally:
        _stop(proc)
    assert code == 0, err[-2000:]
    assert time.monotonic() - sent < 30
    manager.pump(0.2)
    assert manager.stamps("STOPPING=1")
    # Nothing lost: every handoff is done, or back in the queue untouched.
    everything = names(layout.done) + names(layout.queue)
    assert sorted(everything) == [f"ok{i}.json" for i in range(8)]
    assert not layout.claims_of("svc").exists()  # a clean exit leaves no claims dir


def test_watchdog_pings_at_half_the_interval_and_stop_when_an_actor_hangs(tmp_path, manager):
    config = tmp_path / "r.toml"
    _write_config(config)
    # The watcher answers a health Ping every 0.5 s (and a few status asks); its 20th
    # message hangs it for 60 s. Pings are counted over the whole spell from READY until
    # they stop, not in a fixed window: under load the first ping may come seconds late.
    proc = _start(tmp_path, config, manager, watchdog_usec=1_000_000,
                  faults="actor.watcher=hang:60#20")
    try:
        ready = manager.wait("READY=1", timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            manager.pump(0.5)
            spell = manager.stamps("WATCHDOG=1", after=ready)
            if spell and time.monotonic() - spell[-1] > 2.5:  # 2.5 periods without one
                break
        spell = manager.stamps("WATCHDOG=1", after=ready)
        assert spell, "no WATCHDOG=1 at all"
        assert time.monotonic() < deadline, f"pings never stopped: {len(spell)} in 60 s"
        assert proc.poll() is None, "the daemon died instead of wedging"
        assert len(spell) >= 4, spell
        steady = spell[1:]  # the first ping goes out at once, then one every half period
        gaps = [b - a for a, b in itertools.pairwise(steady)]
        mean = (steady[-1] - steady[0]) / len(gaps)
        assert 0.35 < mean < 0.75, gaps  # half the 1 s period, not the period itself
        assert sorted(gaps)[len(gaps) // 2] < 0.9, gaps
        manager.pump(2)
        assert manager.stamps("WATCHDOG=1", after=spell[-1] + 0.001) == [], \
            "pings resumed while the watcher was wedged"
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the wedged daemon is ours: kill it by pid
        proc.communicate(timeout=10)


def test_sighup_changes_the_window_in_effect_and_a_bad_reload_keeps_the_old(tmp_path, manager):
    config = tmp_path / "r.toml"
    _write_config(config, "[failure_window]\nmax_failures = 3\n")
    layout = Layout.at(tmp_path / "state")
    proc = _start(tmp_path, config, manager)
    try:
        manager.wait("READY=1", timeout=30)
        _write_config(config, "[failure_window]\nmax_failures = 1\n")
        proc.send_signal(signal.SIGHUP)
        manager.wait("RELOADING=1", timeout=10)
        time.sleep(0.5)
        submit(layout, FAILING, "first.json")
        wait_for(lambda: "first.json" in names(layout.hard_fail), timeout=60)
        reason = json.loads((layout.hard_fail / "first.reason.json").read_text())
        assert len(reason["failures"]) == 1 and reason["rule"].startswith("1 failures")
        config.write_text("[failure_window]\nmax_failures = 'lots'\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        failing2 = dict(FAILING, **{"calc.py": FAILING["calc.py"] + "# second\n"})
        submit(layout, failing2, "second.json")
        wait_for(lambda: "second.json" in names(layout.hard_fail), timeout=60)
        reason = json.loads((layout.hard_fail / "second.reason.json").read_text())
        assert len(reason["failures"]) == 1  # the old (reloaded) window stayed
    finally:
        code, err = _stop(proc)
    assert code == 0
    assert "new configuration refused" in err and "max_failures = 'lots'" in err


def test_json_logs_carry_level_message_and_actor(tmp_path, manager):
    config = tmp_path / "r.toml"
    _write_config(config)
    layout = Layout.at(tmp_path / "state")
    submit(layout, PASSING, "one.json")
    proc = _start(tmp_path, config, manager, log_json=True)
    try:
        wait_for(lambda: "one.json" in names(layout.done), timeout=60)
    finally:
        code, err = _stop(proc)
    assert code == 0
    records = [json.loads(line)["record"] for line in err.splitlines() if line.startswith("{")]
    assert records, err[-1000:]
    repaired = [r for r in records if "repaired 'one.json'" in r["message"]]
    assert repaired and repaired[0]["level"]["name"] == "INFO"
    assert repaired[0]["extra"]["actor"] == "telemetry"  # it finishes every repair
    assert len(repaired[0]["extra"]["bundle"]) == 12


def test_without_notify_socket_the_daemon_runs_silently(tmp_path):
    config = tmp_path / "r.toml"
    _write_config(config)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REPAIRLAB_", "NOTIFY_SOCKET", "WATCHDOG_"))
           or k == "REPAIRLAB_RUNNER"}
    proc = subprocess.Popen([sys.executable, str(REPO / "run.py"), "run", "--config", str(config)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: (tmp_path / "state" / "instances" / "svc.json").exists(), timeout=30)
    finally:
        code, err = _stop(proc)
    assert code == 0 and "Traceback" not in err
