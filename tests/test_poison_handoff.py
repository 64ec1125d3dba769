"""A handoff whose processing crashes the repairer (a bug in a strategy, a
RecursionError, a MemoryError) is a failure of that bundle: recorded before the
restart, quarantined after `max_failures` crashes, and never a crash loop that
stops the service. Real daemons, real files; the crash is the fault point
`repairer.handoff[GLOB]` or a strategy that really raises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

import repairlab.actors.repairer
from conftest import PASSING, metric_lines, names, running, spec_sha256, submit, variant, wait_for
from repairlab.messages.records import ReasonFile
from repairlab.repair.engine import Engine
from repairlab.state.failures import FailureStore
from repairlab.state.layout import Layout
from repairlab.supervision.daemon import Daemon
from repairlab.supervision.supervisor import Supervisor

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parent.parent

POISON = variant(PASSING, 666)  # a bundle that passes: only the crash can quarantine it


def _reason(layout: Layout, name: str) -> ReasonFile:
    return msgspec.json.decode((layout.hard_fail / name).read_bytes(), type=ReasonFile)


def _quick(make_config: Any, **sections: Any) -> Any:
    # max_restarts = 1: the old code gave up at the second crash of the poison.
    base: dict[str, Any] = dict(failure_window={"max_failures": 3},
                                backoff={"base_seconds": 0.05, "max_seconds": 0.2},
                                supervisor={"max_restarts": 1, "period_seconds": 600})
    base.update(sections)
    return make_config(**base)


def test_a_handoff_that_crashes_the_repairer_every_time_is_quarantined_with_its_crash_reason(
        make_config, monkeypatch):
    config = _quick(make_config, faults={"points": {"repairer.handoff[poison-*.json]": "crash"}})
    layout = Layout.from_config(config)
    sha = spec_sha256(POISON)
    failures = FailureStore(layout.failures)
    seen_at_restart: list[int] = []
    real_start = Supervisor._start_child

    def start_child(self: Supervisor, spec: Any, *, fresh: bool) -> None:
        if not fresh and spec.name.startswith("repairer"):
            seen_at_restart.append(len(failures.list(sha)))
        real_start(self, spec, fresh=fresh)

    monkeypatch.setattr(Supervisor, "_start_child", start_child)
    submit(layout, POISON, "poison-1.json")
    for i in range(4):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    with running(config) as daemon:
        wait_for(lambda: "poison-1.json" in names(layout.hard_fail), timeout=120,
                 what="the poison handoff quarantined")
        wait_for(lambda: len(names(layout.done)) == 4, timeout=60, what="the others done")
        assert not daemon.supervisor.failed
    assert daemon.exit_code == 0  # type: ignore[attr-defined]
    assert names(layout.done) == [f"ok{i}.json" for i in range(4)]
    reason = _reason(layout, "poison-1.reason.json")
    assert reason.bundle_sha256 == sha
    assert len(reason.failures) == 3
    expected = ("crashed the repairer: InjectedCrash: injected crash at "
                "repairer.handoff[poison-*.json]")
    assert [f.reason for f in reason.failures] == [expected] * 3
    assert reason.reason == expected
    # Each failure was on disk before the repairer it crashed was started again.
    assert seen_at_restart == [1, 2, 3]
    events = [(m["event"], m.get("handoff")) for m in metric_lines(layout)]
    assert events.count(("quarantined", "poison-1.json")) == 1
    assert events.count(("repair_failed", "poison-1.json")) == 3
    assert names(layout.queue) == [] and names(layout.deferred) == []


@pytest.mark.parametrize("error", [RecursionError, MemoryError])
def test_a_strategy_that_raises_recursion_or_memory_errors_quarantines_its_bundle_only(
        make_config, monkeypatch, error):
    config = _quick(make_config)
    layout = Layout.from_config(config)
    real_repair = Engine.repair

    def repair(self: Engine, bundle: Any) -> Any:
        if "deep" in bundle.files.get("calc.py", ""):  # the poison, and nothing else
            raise error("maximum recursion depth exceeded" if error is RecursionError else "")
        return real_repair(self, bundle)

    monkeypatch.setattr(repairlab.actors.repairer.Engine, "repair", repair)
    deep = dict(PASSING, **{"calc.py": PASSING["calc.py"] + "# deep\n"})
    submit(layout, deep, "deep.json")
    submit(layout, variant(PASSING, 1), "fine.json")
    with running(config) as daemon:
        wait_for(lambda: "deep.json" in names(layout.hard_fail), timeout=120, what="quarantine")
        wait_for(lambda: names(layout.done) == ["fine.json"], timeout=60, what="the other done")
        assert not daemon.supervisor.failed
    reason = _reason(layout, "deep.reason.json")
    assert reason.reason is not None
    assert reason.reason.startswith(f"crashed the repairer: {error.__name__}")
    assert len(reason.failures) == 3


def test_a_crash_before_the_handoff_is_decoded_still_counts_against_that_file(
        make_config, monkeypatch):
    config = _quick(make_config)
    layout = Layout.from_config(config)
    real_decode = repairlab.actors.repairer.decode_handoff

    def decode(data: bytes, **kwargs: Any) -> Any:
        if b"nested-bomb" in data:
            raise RecursionError("maximum recursion depth exceeded while decoding")
        return real_decode(data, **kwargs)

    monkeypatch.setattr(repairlab.actors.repairer, "decode_handoff", decode)
    submit(layout, dict(PASSING, **{"calc.py": PASSING["calc.py"] + "# nested-bomb\n"}),
           "bomb.json")
    submit(layout, variant(PASSING, 2), "fine.json")
    with running(config) as daemon:
        wait_for(lambda: "bomb.json" in names(layout.hard_fail), timeout=120, what="quarantine")
        wait_for(lambda: names(layout.done) == ["fine.json"], timeout=60, what="the other done")
        assert not daemon.supervisor.failed
    reason = _reason(layout, "bomb.reason.json")
    assert reason.reason == ("crashed the repairer: RecursionError: maximum recursion depth "
                             "exceeded while decoding")
    assert len(reason.failures) == 3


def test_a_crash_loop_with_no_handoff_held_still_escalates(make_config):
    # The exemption is for crashes blamed on a handoff: a repairer that crashes on
    # every message it gets, before it holds anything, still exhausts the intensity.
    config = _quick(make_config, faults={"points": {"actor.repairer": "crash"}})
    layout = Layout.from_config(config)
    for i in range(3):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    daemon = Daemon(config)
    daemon.start()
    stop = threading.Event()
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(daemon.run(stop, grace_seconds=1)),
                              daemon=True)
    thread.start()
    thread.join(timeout=60)
    stop.set()
    assert code == [1]
    assert not layout.failures.exists() or list(layout.failures.iterdir()) == []
    assert names(layout.hard_fail) == []
    assert sorted(names(layout.queue) + names(layout.deferred)) == ["ok0.json", "ok1.json",
                                                                    "ok2.json"]


def test_a_poison_handoff_never_stops_the_service_process(daemon_dir, daemon_user):
    """As root and as an unprivileged user, as the shipped unit runs it."""
    config = daemon_dir / "repairlab.toml"
    config.write_text(
        '[paths]\nroot = "state"\n[instance]\nid = "poisoned"\n'
        '[supervisor]\nmax_restarts = 1\nperiod_seconds = 600\n'
        '[backoff]\nbase_seconds = 0.05\nmax_seconds = 0.2\n'
        '[repair]\nworkers = 1\nstrategies = ["noop"]\n'
        '[watch]\nrescan_seconds = 0.5\nheartbeat_seconds = 1\n'
    )
    daemon_user.own(config)
    layout = Layout.at(daemon_dir / "state")
    daemon_user.own(layout.root)
    daemon_user.call(submit, layout, POISON, "poison.json")
    daemon_user.call(submit, layout, variant(PASSING, 3), "fine.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    env["REPAIRLAB_FAULTS"] = "repairer.handoff[poison.json]=crash"
    proc = subprocess.Popen([sys.executable, str(REPO / "run.py"), "run", "--config", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=daemon_dir, **daemon_user.popen)
    try:
        wait_for(lambda: "poison.json" in names(layout.hard_fail) or proc.poll() is not None,
                 timeout=120, what="the poison handoff quarantined")
        wait_for(lambda: "fine.json" in names(layout.done) or proc.poll() is not None,
                 timeout=60, what="the other handoff done")
        assert proc.poll() is None, "the daemon exited"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err[-3000:]
    assert "giving up" not in err
    assert _reason(layout, "poison.reason.json").reason == (
        "crashed the repairer: InjectedCrash: injected crash at repairer.handoff[poison.json]")
