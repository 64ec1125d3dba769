"""Clocks: no instance's wall clock decides another's fate.

Liveness is judged by watching heartbeats change on this instance's monotonic
clock; ages of files are read on the state root's clock. The tests run real
instances, one of them under Debian's `faketime` (libfaketime, LD_PRELOAD) an
hour ahead, as an instance on a host whose clock is wrong would be.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_instances import REPO, _env

from conftest import FAILING, PASSING, metric_lines, names, running, spec_sha256, submit, wait_for
from repairlab.state.clock import StateClock
from repairlab.state.layout import Layout
from repairlab.state.liveness import PeerWatch

pytestmark = pytest.mark.timeout(180)

HOUR = 3600.0
SLOW_PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": ("import time\nfrom calc import add\n\n\ndef test_add() -> None:\n"
                     "    time.sleep(8)\n    assert add(2, 3) == 5\n"),
}


def _faketime() -> list[str]:
    binary = shutil.which("faketime")
    if binary is None:
        pytest.skip("faketime is not installed (Debian package faketime)")
    return [binary, "-f", "+1h"]


def _ahead(argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
    """Run `argv` (a Python command) with the wall clock an hour ahead."""
    return subprocess.Popen([*_faketime(), *argv], env=_env(), text=True,  # type: ignore[call-overload]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, **kwargs)


def test_faketime_puts_a_python_process_an_hour_ahead_but_not_the_files_it_writes(
        tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    proc = _ahead([sys.executable, "-c",
                   f"import os, time; open({str(probe)!r}, 'w').close(); "
                   f"print(time.time() - os.stat({str(probe)!r}).st_mtime)"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert abs(float(out) - HOUR) < 60  # the process is ahead; the kernel stamps real time


def _config(tmp_path: Path, instance: str, workers: int = 2) -> Path:
    path = tmp_path / f"{instance}.toml"
    path.write_text(
        f'[paths]\nroot = "state"\n[instance]\nid = "{instance}"\nlease_seconds = 2\n'
        f'[repair]\nstrategies = ["noop"]\ntest_timeout_seconds = 60\nworkers = {workers}\n'
        '[watch]\nrescan_seconds = 0.5\nheartbeat_seconds = 0.5\n')
    return path


def _run(tmp_path: Path, config: Path, *, ahead: bool) -> subprocess.Popen[str]:
    argv = [sys.executable, str(REPO / "run.py"), "run", "--config", str(config)]
    if ahead:
        return _ahead(argv, cwd=tmp_path)
    return subprocess.Popen(argv, cwd=tmp_path, env=_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> str:
    """Kill the process group of `proc`; its stderr."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return proc.communicate(timeout=20)[1]


def test_an_instance_an_hour_ahead_never_takes_the_claims_of_a_live_peer(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    submit(layout, SLOW_PASSING, "slow.json")
    # One worker: busy with slow.json, it cannot take the handoff back itself if
    # the other instance hands it back to the queue.
    honest = _run(tmp_path, _config(tmp_path, "honest", workers=1), ahead=False)
    ahead = None
    try:
        wait_for(lambda: names(layout.claims_of("honest")) == ["slow.json"], timeout=90,
                 what="the honest instance's claim")
        ahead = _run(tmp_path, _config(tmp_path, "ahead"), ahead=True)
        wait_for(lambda: (layout.instances / "ahead.json").exists(), timeout=90,
                 what="the instance an hour ahead running")
        # Several leases pass while the honest instance is still in its 8 s test.
        while not (layout.done / "slow.json").exists():
            assert names(layout.claims_of("ahead")) == [], "a live peer's claim was taken"
            assert names(layout.queue) == [], "a live peer's claim was handed back"
            assert honest.poll() is None, "the honest instance died"
            time.sleep(0.05)
    finally:
        logs = [_stop(proc) for proc in (honest, ahead) if proc is not None]
    assert len(logs) == 2 and "took back" not in logs[1], logs[1][-2000:]
    repaired = [m for m in metric_lines(layout) if m["event"] == "repaired"]
    assert [(m["handoff"], m["instance"]) for m in repaired] == [("slow.json", "honest")]
    assert len(names(layout.challengers)) == 1


def test_failures_recorded_an_hour_ahead_do_not_quarantine_early(
        tmp_path: Path, make_config: Any) -> None:
    config = make_config(failure_window={"window_seconds": 3, "max_failures": 2},
                         backoff={"base_seconds": 30, "max_seconds": 30})
    layout = Layout.from_config(config)
    layout.ensure()
    sha = spec_sha256(FAILING)
    # A failure of this bundle, recorded as an instance an hour ahead records it.
    script = ("import sys\nfrom pathlib import Path\n"
              "from repairlab.state.failures import FailureStore, new_record\n"
              "FailureStore(Path(sys.argv[1])).record(sys.argv[2], new_record("
              "'k-ahead', 'ahead', 'failed an hour ahead', 'x.json'))\n")
    proc = _ahead([sys.executable, "-c", script, str(layout.failures), sha], cwd=REPO)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    time.sleep(4)  # more than the window: that failure is over
    submit(layout, FAILING, "broken.json")
    with running(config):
        wait_for(lambda: any(m["event"] == "repair_failed" for m in metric_lines(layout)),
                 timeout=60, what="the first failure here")
        time.sleep(0.5)
    assert names(layout.hard_fail) == [], "quarantined by a failure outside the window"
    assert names(layout.deferred) == ["broken.json"]
    (failed,) = [m for m in metric_lines(layout) if m["event"] == "repair_failed"]
    assert failed["failures"] == 1


def test_prune_run_an_hour_ahead_removes_nothing_before_its_ttl(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    now = time.time()
    young = layout.done / "young.json"  # 10 minutes old: 20 to go
    old = layout.done / "old.json"      # 40 minutes old: past the TTL
    for path, age in ((young, 600), (old, 2400)):
        path.write_text("{}")
        os.utime(path, (now - age, now - age))
    config = tmp_path / "prune.toml"
    config.write_text('[paths]\nroot = "state"\n[prune]\nttl_seconds = 1800\n')
    proc = _ahead([sys.executable, str(REPO / "run.py"), "prune", "--config", str(config)],
                  cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert young.exists(), "pruned 50 minutes early"
    assert not old.exists()


def test_a_not_before_set_ahead_of_a_clock_step_back_does_not_stall_the_retry(
        make_config: Any) -> None:
    config = make_config(backoff={"base_seconds": 0.2, "max_seconds": 1})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "waiting.json")
    layout.deferred.mkdir(exist_ok=True)
    deferred = layout.deferred / "waiting.json"
    os.rename(layout.queue / "waiting.json", deferred)
    future = time.time() + HOUR  # deferred by a clock that then stepped back an hour
    os.utime(deferred, (future, future))
    with running(config):
        wait_for(lambda: names(layout.done) == ["waiting.json"], timeout=30,
                 what="the deferred handoff retried")


def test_a_due_deferral_within_the_backoff_waits_its_turn(make_config: Any) -> None:
    config = make_config(backoff={"base_seconds": 5, "max_seconds": 20})
    layout = Layout.from_config(config)
    submit(layout, PASSING, "waiting.json")
    layout.deferred.mkdir(exist_ok=True)
    deferred = layout.deferred / "waiting.json"
    os.rename(layout.queue / "waiting.json", deferred)
    soon = time.time() + 15
    os.utime(deferred, (soon, soon))
    with running(config):
        time.sleep(3)
        assert names(layout.deferred) == ["waiting.json"]  # not retried early


def test_a_forward_step_of_the_wall_clock_does_not_make_a_live_peer_look_dead(
        tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    mono = [0.0]
    watch = PeerWatch(layout, "me", monotonic=lambda: mono[0])
    beat = layout.instances / "peer.json"
    layout.claims_of("peer").mkdir()
    for step in range(10):
        beat.write_text(json.dumps({"n": step}))
        future = time.time() + 10 * HOUR  # whatever time the peer stamps on it
        os.utime(beat, (future, future))
        assert watch.observe(lease_seconds=2) == []
        mono[0] += 1.5  # a beat each 1.5 s of our clock: within the 2 s lease
    mono[0] += 2.0  # now it stops beating for a whole lease
    assert watch.observe(lease_seconds=2) == ["peer"]


def test_the_state_clock_absorbs_a_forward_step_and_follows_a_backward_one(tmp_path: Path) -> None:
    source, mono = [1_000_000.0], [50.0]
    clock = StateClock(tmp_path, source=lambda: source[0], monotonic=lambda: mono[0])
    assert clock.now() == 1_000_000.0
    source[0] += HOUR + 10
    mono[0] += 10
    assert clock.now() == pytest.approx(1_000_010.0, abs=0.02)  # the step is not taken
    source[0] -= 2 * HOUR
    mono[0] += 1
    assert clock.now() == source[0]  # a step back is followed at once
