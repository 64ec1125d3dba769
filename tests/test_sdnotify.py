"""sd_notify client and watchdog pinger, against real AF_UNIX datagram sockets."""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from repairlab.supervision.sdnotify import Notifier, WatchdogPinger

# WATCHDOG_USEC=200000 gives a 0.1 s ping interval: fast enough for tests, slow
# enough that scheduler noise on a loaded CI box stays well inside the bounds.
WATCHDOG_USEC = "200000"
INTERVAL = 0.1


class Receiver:
    """The service manager's end: a bound datagram socket that collects messages."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def recv(self, timeout: float = 2.0) -> str:
        """The next datagram, or a test failure after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode("utf-8")
        except TimeoutError:
            pytest.fail(f"no datagram within {timeout}s")

    def recv_stamped_for(self, seconds: float) -> list[tuple[float, str]]:
        """Every datagram arriving within the next `seconds`, with monotonic stamps."""
        out: list[tuple[float, str]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            out.append((time.monotonic(), data.decode("utf-8")))
        return out

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(4096)
        except BlockingIOError:
            pass


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[Receiver]:
    path = tmp_path / "notify.sock"
    short_dir: str | None = None
    # sun_path holds 108 bytes; a long tmp_path would not fit, so fall back.
    if len(os.fsencode(path)) >= 100:
        short_dir = tempfile.mkdtemp(prefix="sdn-")
        path = Path(short_dir) / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        yield Receiver(sock, str(path))
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        if short_dir is not None:
            os.rmdir(short_dir)


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"repairlab-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    fixture = "path_receiver" if request.param == "path" else "abstract_receiver"
    got: Receiver = request.getfixturevalue(fixture)
    return got


@pytest.fixture
def debug_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(str(m).rstrip("\n")), level="DEBUG", format="{level} {message}"
    )
    try:
        yield lines
    finally:
        logger.remove(sink)


def notifier_for(receiver: Receiver, **extra: str) -> Notifier:
    return Notifier.from_env({"NOTIFY_SOCKET": receiver.env_value, **extra})


# -- the notifier ---------------------------------------------------------------------


def test_each_message_arrives_exactly_as_sent(receiver: Receiver) -> None:
    with notifier_for(receiver) as n:
        assert n.enabled
        assert n.ready() is True
        assert receiver.recv() == "READY=1"
        n.ready(status="up")
        assert receiver.recv() == "READY=1\nSTATUS=up"
        n.status("queue 3, in flight 1, done 7, quarantined 0")
        assert receiver.recv() == "STATUS=queue 3, in flight 1, done 7, quarantined 0"
        n.watchdog()
        assert receiver.recv() == "WATCHDOG=1"
        n.stopping()
        assert receiver.recv() == "STOPPING=1"
        n.send(STATUS="é ünïcode", ERRNO=5, READY=True)
        assert receiver.recv() == "STATUS=é ünïcode\nERRNO=5\nREADY=1"
        n.extend_timeout(1.5)
        assert receiver.recv() == "EXTEND_TIMEOUT_USEC=1500000"


def test_reloading_carries_the_monotonic_clock_in_microseconds(receiver: Receiver) -> None:
    with notifier_for(receiver) as n:
        before = time.monotonic_ns() // 1000
        n.reloading()
        after = time.monotonic_ns() // 1000
        first, second = receiver.recv().split("\n")
    assert first == "RELOADING=1"
    key, _, value = second.partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_a_newline_in_a_value_cannot_forge_another_field(path_receiver: Receiver) -> None:
    with notifier_for(path_receiver) as n:
        n.status("all good\nREADY=1\r\nSTOPPING=1")
        assert path_receiver.recv() == "STATUS=all good READY=1  STOPPING=1"


def test_a_lower_case_field_name_is_a_caller_bug(path_receiver: Receiver) -> None:
    with notifier_for(path_receiver) as n, pytest.raises(ValueError, match="upper-case"):
        n.send(ready=1)
    with Notifier.from_env({}) as off, pytest.raises(ValueError):
        off.send(**{"STATUS\nREADY": 1})


def test_without_notify_socket_everything_is_a_silent_no_op(debug_lines: list[str]) -> None:
    env = {"WATCHDOG_USEC": WATCHDOG_USEC, "WATCHDOG_PID": str(os.getpid())}
    with Notifier.from_env(env) as n:
        assert not n.enabled
        assert n.watchdog_interval() is None
        assert [n.ready(), n.status("x"), n.watchdog(), n.stopping(), n.reloading()] == [
            False
        ] * 5
        assert n.send(READY=1) is False
        pinger = WatchdogPinger(n, lambda: True)
        assert pinger.start() is False
        assert pinger.stop(timeout=0.1) is True
    assert debug_lines == []


def test_the_process_environment_is_read_by_default(
    path_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_receiver.env_value)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    with Notifier.from_env() as n:
        n.ready()
        assert path_receiver.recv() == "READY=1"
        assert n.watchdog_interval() is None
    monkeypatch.delenv("NOTIFY_SOCKET")
    with Notifier.from_env() as n:
        assert not n.enabled


def test_unset_removes_the_variables_so_children_cannot_notify(
    path_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_receiver.env_value)
    monkeypatch.setenv("WATCHDOG_USEC", WATCHDOG_USEC)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    with Notifier.from_env(unset=True) as n:
        assert n.watchdog_interval() == pytest.approx(INTERVAL)
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            assert name not in os.environ
        n.ready()
        assert path_receiver.recv() == "READY=1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": WATCHDOG_USEC}, INTERVAL),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "{pid}"}, 15.0),
        ({"WATCHDOG_USEC": WATCHDOG_USEC, "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": WATCHDOG_USEC, "WATCHDOG_PID": "nope"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_our_pid(
    path_receiver: Receiver, env: dict[str, str], expected: float | None
) -> None:
    env = {k: v.format(pid=os.getpid()) for k, v in env.items()}
    with notifier_for(path_receiver, **env) as n:
        got = n.watchdog_interval()
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize("value", ["", "relative/sock", "vsock:2:1234"])
def test_an_unusable_socket_address_disables_notifications(value: str) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": WATCHDOG_USEC}) as n:
        assert not n.enabled
        assert n.ready() is False
        assert n.watchdog_interval() is None


def test_a_send_to_a_missing_socket_returns_false_and_logs_once_at_debug(
    tmp_path: Path, debug_lines: list[str]
) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) as n:
        assert n.ready() is False
        assert n.status("still here") is False
        assert n.watchdog() is False
    assert len(debug_lines) == 1
    assert debug_lines[0].startswith("DEBUG sd_notify to ")


def test_sends_recover_when_the_manager_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with Notifier.from_env({"NOTIFY_SOCKET": str(path)}) as n:
        assert n.status("early") is False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
            sock.settimeout(2.0)
            assert n.status("late") is True
            assert sock.recv(4096) == b"STATUS=late"


def test_the_socket_is_close_on_exec(path_receiver: Receiver) -> None:
    with notifier_for(path_receiver) as n:
        n.ready()
        sock = n._sock
        assert sock is not None
        assert fcntl.fcntl(sock.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_after_close_sends_are_no_ops(path_receiver: Receiver) -> None:
    n = notifier_for(path_receiver)
    n.ready()
    path_receiver.recv()
    n.close()
    n.close()
    assert not n.enabled
    assert n.ready() is False
    assert path_receiver.recv_stamped_for(0.05) == []


def test_concurrent_senders_never_interleave_a_datagram(path_receiver: Receiver) -> None:
    with notifier_for(path_receiver) as n:

        def spam(tag: int) -> None:
            for i in range(50):
                n.send(STATUS=f"t{tag} m{i}", MAINPID=tag)

        threads = [threading.Thread(target=spam, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        # Read while they send: the kernel queues only a few datagrams
        # (net.unix.max_dgram_qlen), after which senders block.
        got = [path_receiver.recv() for _ in range(200)]
        for t in threads:
            t.join(5)
    for msg in got:
        status, mainpid = msg.split("\n")
        tag = mainpid.removeprefix("MAINPID=")
        assert status.startswith(f"STATUS=t{tag} m")


# -- the watchdog pinger --------------------------------------------------------------


def pings_in(stamped: list[tuple[float, str]]) -> list[float]:
    assert all(msg == "WATCHDOG=1" for _, msg in stamped), stamped
    return [t for t, _ in stamped]


def test_pinger_pings_every_half_watchdog_usec(receiver: Receiver) -> None:
    env = {"WATCHDOG_USEC": WATCHDOG_USEC, "WATCHDOG_PID": str(os.getpid())}
    with notifier_for(receiver, **env) as n:
        pinger = WatchdogPinger(n, lambda: True)
        assert pinger.interval == pytest.approx(INTERVAL)
        started = time.monotonic()
        assert pinger.start() is True
        stamps = pings_in(receiver.recv_stamped_for(1.05))
        assert pinger.stop(timeout=1.0) is True
    # The first ping is immediate, then one per 0.1 s: 11 in 1.05 s on an idle box.
    assert stamps[0] - started < INTERVAL
    assert 8 <= len(stamps) <= 12, stamps
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps))
    median = gaps[len(gaps) // 2]
    assert 0.07 <= median <= 0.14, gaps
    # Never slower than the watchdog itself allows (2 intervals).
    assert gaps[-1] < 2 * INTERVAL, gaps


def test_pinger_stops_pinging_while_unhealthy_and_resumes_after(
    path_receiver: Receiver, debug_lines: list[str]
) -> None:
    healthy = threading.Event()
    healthy.set()
    checks = threading.Semaphore(0)

    def check() -> bool:
        checks.release()
        return healthy.is_set()

    with notifier_for(path_receiver, WATCHDOG_USEC=WATCHDOG_USEC) as n:
        pinger = WatchdogPinger(n, check)
        pinger.start()
        assert len(pings_in(path_receiver.recv_stamped_for(0.35))) >= 2
        healthy.clear()
        # Wait for two checks to have seen "unhealthy", then drop anything sent
        # before the first of them.
        for _ in range(2):
            assert checks.acquire(timeout=2.0)
        path_receiver.drain()
        assert path_receiver.recv_stamped_for(0.5) == []
        sent_while_sick = pinger.pings
        healthy.set()
        assert len(pings_in(path_receiver.recv_stamped_for(0.35))) >= 2
        assert pinger.pings > sent_while_sick
        assert pinger.stop(timeout=1.0)
    warnings = [line for line in debug_lines if line.startswith("WARNING")]
    assert warnings == ["WARNING health check failed; withholding WATCHDOG=1"]
    assert "INFO health check passes again; watchdog pings resume" in debug_lines


def test_a_health_check_that_raises_counts_as_unhealthy(
    path_receiver: Receiver, debug_lines: list[str]
) -> None:
    def broken() -> bool:
        raise RuntimeError("actor registry gone")

    with notifier_for(path_receiver, WATCHDOG_USEC=WATCHDOG_USEC) as n:
        pinger = WatchdogPinger(n, broken)
        pinger.start()
        assert path_receiver.recv_stamped_for(0.35) == []
        assert pinger.running
        assert pinger.stop(timeout=1.0)
    assert any("health check raised" in line for line in debug_lines)


def test_stop_joins_promptly_and_nothing_is_sent_after(path_receiver: Receiver) -> None:
    env = {"WATCHDOG_USEC": "20000000"}  # 10 s interval: stop must not wait for a tick
    with notifier_for(path_receiver, **env) as n:
        pinger = WatchdogPinger(n, lambda: True)
        pinger.start()
        assert path_receiver.recv() == "WATCHDOG=1"
        began = time.monotonic()
        assert pinger.stop(timeout=2.0) is True
        assert time.monotonic() - began < 1.0
        assert not pinger.running
        assert path_receiver.recv_stamped_for(0.1) == []


def test_stop_is_bounded_when_the_health_check_hangs(path_receiver: Receiver) -> None:
    release = threading.Event()
    entered = threading.Event()

    def hangs() -> bool:
        entered.set()
        release.wait(10)
        return True

    with notifier_for(path_receiver, WATCHDOG_USEC=WATCHDOG_USEC) as n:
        pinger = WatchdogPinger(n, hangs)
        pinger.start()
        assert entered.wait(2.0)
        began = time.monotonic()
        assert pinger.stop(timeout=0.2) is False
        assert time.monotonic() - began < 1.0
        release.set()
        # Once the check returns, the stopped pinger sends nothing and ends.
        assert pinger.stop(timeout=2.0) is True
        assert path_receiver.recv_stamped_for(0.1) == []


def test_pinger_without_a_watchdog_is_inert(path_receiver: Receiver) -> None:
    with notifier_for(path_receiver) as n:
        pinger = WatchdogPinger(n, lambda: True)
        assert pinger.interval is None
        assert pinger.start() is False
        assert not pinger.running
        assert pinger.stop() is True
        assert path_receiver.recv_stamped_for(0.1) == []


def test_pinger_rejects_a_non_positive_interval_and_a_second_start(
    path_receiver: Receiver,
) -> None:
    with notifier_for(path_receiver) as n:
        with pytest.raises(ValueError):
            WatchdogPinger(n, lambda: True, interval=0)
        pinger = WatchdogPinger(n, lambda: True, interval=5.0)
        assert pinger.start()
        with pytest.raises(RuntimeError):
            pinger.start()
        assert pinger.stop(timeout=1.0)
