"""Supervision: restarts per child spec, restart intensity, escalation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pykka
import pytest

from conftest import FAILING, PASSING, metric_lines, names, running, submit, variant, wait_for
from repairlab.actors.base import Runtime, SupervisedActor
from repairlab.messages.commands import Tick
from repairlab.state.layout import Layout
from repairlab.supervision import ChildSpec, RestartWindow, Supervisor

REPO = Path(__file__).resolve().parent.parent


def test_restart_window_allows_the_intensity_and_refuses_one_more():
    window = RestartWindow(max_restarts=3, period_seconds=10)
    assert [window.allow(now=t) for t in (0, 1, 2)] == [True, True, True]
    assert window.allow(now=3) is False


def test_restart_window_forgets_restarts_older_than_the_period():
    window = RestartWindow(max_restarts=2, period_seconds=10)
    assert window.allow(now=0) and window.allow(now=5)
    assert window.allow(now=10.5)  # the stamp at 0 has slid out
    assert not window.allow(now=11)


class _Crashy(SupervisedActor):
    """Crashes on every message that is not a Ping."""

    kind = "crashy"

    def handle(self, message: object) -> object:
        raise RuntimeError("boom")


class _FailsOnStart(SupervisedActor):
    kind = "fails_on_start"

    def start_up(self) -> None:
        raise RuntimeError("cannot start")


def _runtime(make_config) -> Runtime:
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    return Runtime(config=config, layout=layout, instance="t")


def test_supervisor_restarts_a_crashed_child_then_gives_up_past_the_intensity(make_config):
    runtime = _runtime(make_config)
    restarted: list[tuple[str, int]] = []
    spec = ChildSpec("crashy", lambda fresh: _Crashy.start(runtime, "crashy"))
    sup = Supervisor([spec], RestartWindow(2, 60),
                     on_restarted=lambda n, c, e: restarted.append((n, c)))
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        for expected in (1, 2):
            sup.refs["crashy"].tell("crash please")
            assert sup.run_once(timeout=5)
            assert restarted[-1] == ("crashy", expected)
            assert sup.refs["crashy"].is_alive()
        sup.refs["crashy"].tell("crash please")
        assert sup.run_once(timeout=5) is False
        assert sup.failed
        assert sup.refs == {}
    finally:
        sup.stop()


def test_temporary_children_are_not_restarted(make_config):
    runtime = _runtime(make_config)
    spec = ChildSpec("crashy", lambda fresh: _Crashy.start(runtime, "crashy"),
                     restart="temporary")
    sup = Supervisor([spec], RestartWindow(5, 60))
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        ref = sup.refs["crashy"]
        ref.tell("crash please")
        assert sup.run_once(timeout=5)
        wait_for(lambda: not ref.is_alive(), timeout=5)
        assert sup.restarts == {}
    finally:
        sup.stop()


def test_a_child_that_fails_on_start_is_reported_and_counts_as_a_crash(make_config):
    runtime = _runtime(make_config)
    starts: list[bool] = []

    def factory(fresh: bool) -> pykka.ActorRef:
        starts.append(fresh)
        return _FailsOnStart.start(runtime, "fos")

    sup = Supervisor([ChildSpec("fos", factory)], RestartWindow(1, 60))
    runtime.on_crash = sup.notify_crash
    sup.start()
    # pykka runs on_start on the actor's thread: the crash arrives as an event.
    assert sup.run_once(timeout=5)
    assert starts == [True, False]
    assert sup.run_once(timeout=5) is False  # second failure exceeds an intensity of 1
    sup.stop()


def test_health_check_fails_while_a_child_is_wedged(make_config):
    runtime = _runtime(make_config)

    class Sleeper(SupervisedActor):
        kind = "sleeper"

        def handle(self, message: object) -> object:
            time.sleep(1.5)
            return None

    sup = Supervisor([ChildSpec("s", lambda fresh: Sleeper.start(runtime, "s"))],
                     RestartWindow(5, 60))
    sup.start()
    try:
        assert sup.healthy(timeout=1)
        sup.refs["s"].tell("sleep")
        assert not sup.healthy(timeout=0.5)
        wait_for(lambda: sup.healthy(timeout=0.5), timeout=5)
    finally:
        sup.stop()


@pytest.mark.parametrize("kind", ["telemetry", "failure_window", "quarantine", "repairer",
                                  "pruner", "watcher"])
def test_each_actor_kind_crashed_on_purpose_is_restarted_and_bundles_still_finish(
        make_config, kind):
    config = make_config(faults={"points": {f"actor.{kind}": "crash#1"}},
                         failure_window={"max_failures": 2})
    layout = Layout.from_config(config)
    for i in range(3):
        submit(layout, variant(PASSING, i), f"ok{i}.json")
    submit(layout, FAILING, "bad.json")
    layout.ensure()
    (layout.queue / "junk.json").write_text("{")
    with running(config) as daemon:
        wait_for(lambda: any(m["event"] == "actor_restarted" for m in metric_lines(layout)),
                 timeout=30, what=f"{kind} restarted")
        wait_for(daemon.idle, timeout=60, what="idle")
    assert names(layout.done) == ["ok0.json", "ok1.json", "ok2.json"]
    assert "bad.json" in names(layout.hard_fail)
    assert "junk.json" in names(layout.corrupt)
    restarts = [m for m in metric_lines(layout) if m["event"] == "actor_restarted"]
    assert len(restarts) == 1 and restarts[0]["actor"].startswith(kind.split("_")[0])
    assert names(layout.queue) == [] and names(layout.deferred) == []


def _daemon_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    env.update(extra)
    return env


def test_too_many_crashes_make_the_process_exit_non_zero(tmp_path):
    config = tmp_path / "repairlab.toml"
    config.write_text(
        '[paths]\nroot = "state"\n[supervisor]\nmax_restarts = 3\nperiod_seconds = 60\n'
        '[instance]\nid = "crashy"\n'
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "run", "--config", str(config)],
        env=_daemon_env({"REPAIRLAB_FAULTS": "actor.watcher=crash"}), capture_output=True,
        text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "giving up" in proc.stderr
    assert time.monotonic() - started < 30
    lines = (tmp_path / "state" / "metrics.jsonl").read_text().splitlines()
    assert sum('"actor_restarted"' in line for line in lines) == 3


def test_sigterm_stops_the_daemon_cleanly_with_exit_zero(tmp_path):
    config = tmp_path / "repairlab.toml"
    config.write_text('[paths]\nroot = "state"\n[instance]\nid = "term"\n')
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), "run", "--config", str(config)],
        env=_daemon_env({}), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "state" / "instances" / "term.json").exists(), timeout=20,
                 what="heartbeat")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    assert not (tmp_path / "state" / "instances" / "term.json").exists()


class _Timed(SupervisedActor):
    """Sets timers and records what they tell it."""

    kind = "timed"

    def start_up(self) -> None:
        self.got: list[object] = []

    def handle(self, message: object) -> object:
        if isinstance(message, tuple) and message[0] == "later":
            self.later(message[1], Tick())
            return None
        if isinstance(message, Tick):
            self.got.append(time.monotonic())
            return None
        return list(self.got)


def test_one_timer_thread_serves_every_timer_of_an_actor(make_config):
    ref = _Timed.start(_runtime(make_config), "timed")
    try:
        asked = time.monotonic()
        for i in range(200):  # as telemetry sets one for every batch
            ref.tell(("later", 0.05 + (i % 5) * 0.01))
        wait_for(lambda: len(ref.ask("got?")) == 200, timeout=10, what="200 timers")
        timers = [t for t in threading.enumerate() if t.name == "timed-timer"]
        assert len(timers) == 1
        fired = ref.ask("got?")
        assert min(fired) - asked >= 0.05 - 0.005  # none early
    finally:
        ref.stop()
    wait_for(lambda: not any(t.name == "timed-timer" for t in threading.enumerate()),
             timeout=5, what="the timer thread to end with its actor")


# -- every death is noticed, and one child never runs twice ------------------------------


class _Fatal(BaseException):
    """Not an Exception: pykka stops every actor of the process on it."""


class _DiesOf(SupervisedActor):
    """Raises the BaseException it is told to."""

    kind = "dies_of"

    def handle(self, message: object) -> object:
        if isinstance(message, BaseException):
            raise message
        return "alive"


class _Quiet(pykka.ThreadingActor):
    """A plain pykka actor: it dies of an exception on a tell and tells no one."""

    def on_receive(self, message: object) -> object:
        if message == "die":
            raise RuntimeError("silent death")
        return "alive"


def _run_until(sup: Supervisor, predicate, timeout: float = 10.0) -> None:
    wait_for(lambda: (sup.run_once(timeout=0.05) or True) and predicate(), timeout=timeout)


@pytest.mark.parametrize("death", [_Fatal("custom"), SystemExit(3), KeyboardInterrupt()],
                         ids=["custom", "SystemExit", "KeyboardInterrupt"])
def test_a_child_killed_by_a_base_exception_is_restarted_alone(make_config, death):
    runtime = _runtime(make_config)
    starts: list[str] = []

    def factory(name: str):
        def start(fresh: bool) -> pykka.ActorRef:
            starts.append(name)
            return _DiesOf.start(runtime, name)
        return start

    sup = Supervisor([ChildSpec("a", factory("a")), ChildSpec("b", factory("b"))],
                     RestartWindow(5, 60))
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        first_a, b = sup.refs["a"], sup.refs["b"]
        first_a.tell(death)
        _run_until(sup, lambda: starts.count("a") == 2)
        assert sup.restarts == {"a": 1}
        assert sup.refs["a"] is not first_a and sup.refs["a"].ask("ping?", timeout=5) == "alive"
        assert b.is_alive() and b.ask("ping?", timeout=5) == "alive"  # the sibling lives on
    finally:
        sup.stop()


def test_a_child_that_dies_without_a_word_is_noticed_and_restarted(make_config):
    starts: list[bool] = []

    def factory(fresh: bool) -> pykka.ActorRef:
        starts.append(fresh)
        return _Quiet.start()

    sup = Supervisor([ChildSpec("quiet", factory)], RestartWindow(5, 60))
    sup.start()
    try:
        first = sup.refs["quiet"]
        first.tell("die")
        wait_for(lambda: not first.is_alive(), timeout=5)
        _run_until(sup, lambda: starts == [True, False])
        assert sup.refs["quiet"].ask("ping?", timeout=5) == "alive"
    finally:
        sup.stop()


class _HangsInShutDown(SupervisedActor):
    """Crashes on a tell, then hangs in its clean-up until `release` is set."""

    kind = "hangs"
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def start_up(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.running += 1
            cls.most = max(cls.most, cls.running)

    def handle(self, message: object) -> object:
        raise RuntimeError("crash, then hang while cleaning up")

    def shut_down(self) -> None:
        type(self).release.wait(30)
        with type(self).lock:
            type(self).running -= 1


def test_a_crashed_child_whose_stop_hangs_is_not_started_twice(make_config):
    runtime = _runtime(make_config)
    _HangsInShutDown.release.clear()
    _HangsInShutDown.running = _HangsInShutDown.most = 0
    starts: list[bool] = []

    def factory(fresh: bool) -> pykka.ActorRef:
        starts.append(fresh)
        return _HangsInShutDown.start(runtime, "hangs")

    sup = Supervisor([ChildSpec("hangs", factory, shutdown_seconds=0.2)], RestartWindow(5, 60))
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        sup.refs["hangs"].tell("crash")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            sup.run_once(timeout=0.05)
        assert starts == [True]  # the first copy still runs: no second one
        assert _HangsInShutDown.running == 1
        _HangsInShutDown.release.set()
        _run_until(sup, lambda: starts == [True, False])
        assert sup.refs["hangs"].is_alive()
        assert _HangsInShutDown.most == 1
        assert not sup.failed
    finally:
        _HangsInShutDown.release.set()
        sup.stop()


def test_a_crashed_child_that_never_ends_makes_the_supervisor_give_up(make_config):
    runtime = _runtime(make_config)
    _HangsInShutDown.release.clear()
    _HangsInShutDown.running = _HangsInShutDown.most = 0
    starts: list[bool] = []

    def factory(fresh: bool) -> pykka.ActorRef:
        starts.append(fresh)
        return _HangsInShutDown.start(runtime, "hangs")

    sup = Supervisor([ChildSpec("hangs", factory, shutdown_seconds=0.1)], RestartWindow(5, 60),
                     abandon_seconds=0.5)
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        sup.refs["hangs"].tell("crash")
        _run_until(sup, lambda: sup.failed, timeout=10)
        assert starts == [True]
    finally:
        _HangsInShutDown.release.set()
        sup.stop()


def test_restarts_blamed_on_a_held_handoff_do_not_count_toward_the_intensity(make_config):
    runtime = _runtime(make_config)
    blamed = {"now": True}
    downs: list[str] = []

    def on_down(name: str, error: str) -> bool:
        downs.append(error)
        return blamed["now"]

    spec = ChildSpec("crashy", lambda fresh: _Crashy.start(runtime, "crashy"))
    sup = Supervisor([spec], RestartWindow(2, 60), on_down=on_down)
    runtime.on_crash = sup.notify_crash
    sup.start()
    try:
        for expected in range(1, 6):  # well past the intensity of 2
            sup.refs["crashy"].tell("crash please")
            _run_until(sup, lambda n=expected: sup.restarts.get("crashy") == n)
        assert not sup.failed and len(downs) == 5
        assert downs[0] == "RuntimeError: boom"
        blamed["now"] = False
        for _ in range(3):  # unblamed: the third exceeds 2
            sup.refs["crashy"].tell("crash please")
            count = sup.restarts["crashy"]
            _run_until(sup, lambda n=count: sup.failed or sup.restarts["crashy"] == n + 1)
        assert sup.failed
    finally:
        sup.stop()


class _ConfigEcho(SupervisedActor):
    """Answers with the failure window's max_failures it works with; crashes on 'crash'."""

    kind = "pruner"

    def handle(self, message: object) -> object:
        if message == "crash":
            raise RuntimeError("crash on purpose")
        return self.config.failure_window.max_failures


def test_a_reload_reaches_running_actors_by_message_and_restarted_ones_by_constructor(
        make_config):
    config = make_config(failure_window={"max_failures": 3})
    new = make_config(failure_window={"max_failures": 7})
    with running(config, extra_actors={"pruner": _ConfigEcho}) as daemon:
        assert daemon.runtime.peers.ask("pruner", "max?", timeout=10) == 3
        daemon.reload(new)
        wait_for(lambda: daemon.runtime.peers.ask("pruner", "max?", timeout=10) == 7,
                 timeout=10, what="the running actor reconfigured")
        assert daemon.runtime.config is config  # the shared object is never written
        first = daemon.runtime.peers.get("pruner")
        daemon.runtime.peers.tell("pruner", "crash")
        wait_for(lambda: (ref := daemon.runtime.peers.get("pruner")) is not None
                 and ref is not first, timeout=10, what="the restart")
        assert daemon.runtime.peers.ask("pruner", "max?", timeout=10) == 7


class _DiesOfBaseException(SupervisedActor):
    """Stands in for the pruner: dies of a BaseException when told to."""

    kind = "pruner"

    def handle(self, message: object) -> object:
        if message == "die":
            raise _Fatal("a BaseException in a handler")
        return None


def test_a_daemon_actor_dying_of_a_base_exception_is_restarted_and_the_others_work_on(
        make_config):
    config = make_config()
    layout = Layout.from_config(config)
    with running(config, extra_actors={"pruner": _DiesOfBaseException}) as daemon:
        first = daemon.runtime.peers.get("pruner")
        daemon.runtime.peers.tell("pruner", "die")
        wait_for(lambda: any(m["event"] == "actor_restarted" and m["actor"] == "pruner"
                             for m in metric_lines(layout)), timeout=30, what="pruner restarted")
        assert daemon.runtime.peers.get("pruner") is not first
        submit(layout, PASSING, "after.json")
        wait_for(lambda: names(layout.done) == ["after.json"], timeout=60,
                 what="a handoff repaired after the death")
        assert not daemon.supervisor.failed
