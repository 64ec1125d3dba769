"""Hostile candidates are stopped, count as failing, and harm nothing.

Each test runs against a real warm server, under bwrap ("bwrap") and without it
("bare": rlimits and an ephemeral uid only), and ends by checking that the same
server still runs a good candidate. Every hostile bundle is bounded by itself (a
fork bomb forks at most ~1100 processes that exit within seconds, a memory bomb
asks for 3 GiB), so that a weak sandbox fails the test rather than the machine.

Processes a candidate starts rename themselves (``prctl(PR_SET_NAME)``) to a token
unique to the test; a watcher thread finds them by that name in /proc while the run
goes on, and afterwards each one is checked, by pid, to be gone. Should one survive
(a failing test), it is killed by pid in the fixture's teardown.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import pids_named
from repairlab.repair.confine import PROCESSES
from repairlab.repair.report import TestReport
from repairlab.repair.warm_runner import SandboxUnavailable, WarmRunner

GOOD = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n",
}
NAME_ME = (
    "import ctypes\n"
    "import os\n"
    "import time\n\n\n"
    "def name_me():\n"
    "    ctypes.CDLL(None).prctl(15, {token!r}.encode(), 0, 0, 0)\n"
)


class FastPath:
    """A WarmRunner whose `run` takes the fast path (repair/fastpath.py): every
    candidate opens a session, so its module code runs in a session process at
    collection, and its tests in a child forked from that process (a complete
    screen). A bundle whose module code kills the session process at collection
    gets the ordinary run."""

    def __init__(self, inner: WarmRunner) -> None:
        self.inner = inner

    def run(self, files: dict[str, str], tests: list[str], *, timeout: float,
            coverage: bool = False) -> TestReport:
        try:
            if self.inner.open_session(files, tests, timeout=timeout):
                report = self.inner.screen(files, tests, timeout=timeout, coverage=coverage,
                                           stop=False)
                if report is not None:
                    return report
        finally:
            self.inner.close_session()
        return self.inner.run(files, tests, timeout=timeout, coverage=coverage)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture(scope="module", params=["bwrap", "bare", "fast"])
def runner(request: pytest.FixtureRequest) -> Iterator[WarmRunner]:
    """A warm server per sandbox mode; "bwrap" is skipped where bwrap cannot run;
    "fast" is the best sandbox available, through the fast path."""
    r = WarmRunner(sandbox=request.param == "bwrap" if request.param != "fast" else None)
    try:
        r.start()
    except SandboxUnavailable as exc:
        pytest.skip(f"bwrap cannot run here: {exc}")
    yield FastPath(r) if request.param == "fast" else r  # type: ignore[misc]
    r.close()


class Watcher:
    """Finds, by name, the processes a candidate started, while the run goes on."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.seen: set[int] = set()
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def alive(self) -> set[int]:
        """Pids whose name is the token now."""
        return pids_named(self.token)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.alive()
            self.seen |= now
            self.most = max(self.most, len(now))
            self._stop.wait(0.02)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def survivors(self, within: float = 5.0) -> set[int]:
        """Seen pids still named by the token after `within` seconds."""
        deadline = time.monotonic() + within
        left = self.seen | self.alive()
        while left and time.monotonic() < deadline:
            left = {pid for pid in left if _named(pid, self.token)}
            time.sleep(0.05)
        return left


def _named(pid: int, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip() == token
    except OSError:
        return False


@pytest.fixture
def token() -> Iterator[str]:
    """A process name unique to this test; its survivors are killed by pid after."""
    name = "rl" + secrets.token_hex(5)
    yield name
    for pid in Watcher(name).alive():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def still_serves(runner: WarmRunner) -> None:
    report = runner.run(GOOD, ["test_calc.py"], timeout=20)
    assert report.ok, report.output


def run_watched(runner: WarmRunner, token: str, files: dict[str, str],
                timeout: float) -> tuple[TestReport, Watcher]:
    with Watcher(token) as watcher:
        report = runner.run(files, ["test_hostile.py"], timeout=timeout)
    return report, watcher


@pytest.mark.timeout(30)
@pytest.mark.parametrize("escape", [False, True], ids=["in_group", "setsid"])
def test_a_hang_times_out_and_its_sleeping_grandchild_is_killed(
    runner: WarmRunner, token: str, escape: bool,
) -> None:
    files = {"test_hostile.py": NAME_ME.format(token=token) + (
        "\n\ndef test_hangs():\n"
        "    if os.fork() == 0:\n"
        f"        {'os.setsid()' if escape else 'pass'}\n"
        "        name_me()\n"
        "        time.sleep(3600)\n"
        "        os._exit(0)\n"
        "    time.sleep(3600)\n"
    )}
    started = time.monotonic()
    report, watcher = run_watched(runner, token, files, timeout=1.5)
    assert report.timed_out and not report.ok
    assert time.monotonic() - started < 10
    assert watcher.seen, "the grandchild never showed up"
    assert watcher.survivors() == set()
    still_serves(runner)


@pytest.mark.timeout(30)
def test_a_grandchild_left_behind_by_a_passing_test_is_killed_at_the_end(
    runner: WarmRunner, token: str,
) -> None:
    files = {"test_hostile.py": NAME_ME.format(token=token) + (
        "\n\ndef test_leaves_a_daemon():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        name_me()\n"
        "        time.sleep(3600)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.3)\n"
    )}
    report, watcher = run_watched(runner, token, files, timeout=10)
    assert report.ok, report.output
    assert watcher.seen
    assert watcher.survivors() == set()
    still_serves(runner)


@pytest.mark.timeout(30)
def test_an_infinite_loop_times_out(runner: WarmRunner) -> None:
    files = {"test_hostile.py": "def test_spins():\n    while True:\n        pass\n"}
    started = time.monotonic()
    report = runner.run(files, ["test_hostile.py"], timeout=1.5)
    assert report.timed_out and not report.ok
    assert time.monotonic() - started < 10
    still_serves(runner)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["os._exit(0)", "ctypes.string_at(0)"], ids=["exit", "segfault"])
def test_a_child_that_dies_mid_run_counts_as_crashed(runner: WarmRunner, how: str) -> None:
    files = {"test_hostile.py": f"import ctypes\nimport os\n\n\ndef test_dies():\n    {how}\n"}
    report = runner.run(files, ["test_hostile.py"], timeout=10)
    assert report.crashed and not report.ok
    if "string_at" in how:
        assert report.exit_code == -signal.SIGSEGV
    still_serves(runner)


@pytest.mark.timeout(30)
def test_a_memory_bomb_fails_without_harm(runner: WarmRunner) -> None:
    files = {"test_hostile.py": (
        "def test_hogs():\n"
        "    hog = []\n"
        "    # 3 GiB at most, over the 2 GiB address-space limit. bytes(n) is calloc'd:\n"
        "    # it costs address space at once, and memory only if touched.\n"
        "    for _ in range(30):\n"
        "        hog.append(bytes(100 * 2**20))\n"
        "    assert False, 'got 3 GiB'\n"
    )}
    report = runner.run(files, ["test_hostile.py"], timeout=15)
    assert not report.ok
    assert report.failed == 1 or report.crashed
    assert "got 3 GiB" not in report.output
    still_serves(runner)


@pytest.mark.timeout(40)
def test_a_fork_bomb_is_contained_and_leaves_nothing(runner: WarmRunner, token: str) -> None:
    # Bounded by itself: 3 children per process, 6 levels (at most 1093 processes),
    # each sleeping 2 s and then exiting.
    files = {"test_hostile.py": NAME_ME.format(token=token) + (
        "\n\ndef bomb(level):\n"
        "    name_me()\n"
        "    for _ in range(3 if level else 0):\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError:\n"
        "            break\n"
        "        if pid == 0:\n"
        "            try:\n"
        "                bomb(level - 1)\n"
        "            finally:\n"
        "                os._exit(0)\n"
        "    time.sleep(2)\n"
        "\n\ndef test_bomb():\n"
        "    bomb(6)\n"
    )}
    report, watcher = run_watched(runner, token, files, timeout=6)
    assert report.total <= 1
    if runner.uid_mode != "none":
        # RLIMIT_NPROC holds for the candidate's own uid: the bomb never grew past it.
        assert watcher.most <= PROCESSES
    assert watcher.survivors() == set()
    still_serves(runner)


@pytest.mark.timeout(30)
def test_endless_printing_is_stopped_and_the_output_stays_bounded(runner: WarmRunner) -> None:
    files = {"test_hostile.py": (
        "import os\n\n\n"
        "def test_prints():\n"
        "    line = b'x' * 4095 + b'\\n'\n"
        "    while True:\n"
        "        os.write(1, line)\n"
    )}
    report = runner.run(files, ["test_hostile.py"], timeout=1.5)
    # Either the clock stops it, or pytest's capture file reaches RLIMIT_FSIZE and
    # the test fails with EFBIG: both are failures, and neither floods memory.
    assert not report.ok and (report.timed_out or report.crashed or report.failed == 1)
    assert len(report.output) <= 64 * 1024
    still_serves(runner)


@pytest.mark.timeout(30)
def test_a_candidate_cannot_kill_its_parent_or_the_server(runner: WarmRunner) -> None:
    server = runner._server
    assert server is not None
    files = {"test_hostile.py": (
        "import os\nimport signal\n\n\n"
        "def test_kills():\n"
        f"    for pid in (os.getppid(), 1, {server.proc.pid}, {os.getpid()}):\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n"
        "    os.killpg(os.getpgid(0), signal.SIGTERM)\n"
    )}
    report = runner.run(files, ["test_hostile.py"], timeout=10)
    assert not report.ok
    still_serves(runner)
    if runner.uid_mode != "none":
        assert runner._server is server, "the server had to be restarted"


@pytest.mark.timeout(30)
def test_writes_outside_the_scratch_dir_fail_and_change_nothing(
    runner: WarmRunner, tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "data.txt"
    target.write_text("original\n")
    home = tmp_path / "home" / "someone"
    home.mkdir(parents=True)
    rc = home / ".bashrc"
    rc.write_text("# rc\n")
    if runner.sandboxed:
        # Under bwrap even world-writable places outside the scratch dir are out of reach.
        for d in (tmp_path, outside, home.parent, home):
            d.chmod(0o777)
        for f in (target, rc):
            f.chmod(0o666)
    files = {"test_hostile.py": (
        "import pytest\n\n\n"
        "@pytest.mark.parametrize('path', [\n"
        f"    {str(target)!r}, {str(rc)!r}, {str(outside / 'new.txt')!r},\n"
        f"    {str(home / '.profile')!r}, '/etc/repairlab-pwned', '/usr/repairlab-pwned',\n"
        "])\n"
        "def test_write_fails(path):\n"
        "    with pytest.raises(OSError):\n"
        "        with open(path, 'a') as fh:\n"
        "            fh.write('pwned\\n')\n"
    )}
    report = runner.run(files, ["test_hostile.py"], timeout=10)
    assert report.ok and report.passed == 6, report.output
    assert target.read_text() == "original\n"
    assert rc.read_text() == "# rc\n"
    assert sorted(p.name for p in outside.iterdir()) == ["data.txt"]
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]
    assert not Path("/etc/repairlab-pwned").exists()
    still_serves(runner)


@pytest.mark.timeout(30)
def test_the_hosts_world_writable_temp_dirs_are_out_of_reach(
    runner: WarmRunner, token: str,
) -> None:
    if not runner.temp_isolated:
        pytest.skip("neither bwrap nor a private mount namespace can run here")
    targets = [f"/tmp/{token}", f"/var/tmp/{token}", f"/dev/shm/{token}"]
    files = {"test_hostile.py": (
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('path', {targets!r})\n"
        "def test_write_fails(path):\n"
        "    with pytest.raises(OSError):\n"
        "        with open(path, 'w') as fh:\n"
        "            fh.write('pwned\\n')\n"
    )}
    try:
        report = runner.run(files, ["test_hostile.py"], timeout=10)
        assert report.ok and report.passed == 3, report.output
        assert not [t for t in targets if os.path.exists(t)]
    finally:
        for t in targets:  # only files this test's candidate could have made
            if os.path.exists(t) and token in t:
                os.unlink(t)
    still_serves(runner)


@pytest.mark.timeout(30)
def test_no_connection_reaches_a_listener_on_the_host(runner: WarmRunner) -> None:
    if not runner.network_isolated:
        pytest.skip("neither bwrap nor unshare(CLONE_NEWNET) can run here")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        files = {"test_hostile.py": (
            "import socket\n\nimport pytest\n\n\n"
            "def test_connect_fails():\n"
            "    s = socket.socket()\n"
            "    s.settimeout(2)\n"
            "    with pytest.raises(OSError):\n"
            f"        s.connect(('127.0.0.1', {port}))\n"
        )}
        report = runner.run(files, ["test_hostile.py"], timeout=10)
        assert report.ok, report.output
        with pytest.raises(BlockingIOError):
            listener.accept()
    still_serves(runner)


# -- the pieces, without a server ------------------------------------------------------


def test_frames_round_trip_and_an_oversized_frame_is_refused() -> None:
    from repairlab.repair.sandbox import FRAME_LIMIT, read_frame, write_frame

    r, w = os.pipe()
    try:
        write_frame(w, {"files": {"a.py": "x = 1\n"}, "n": 3})
        assert read_frame(r) == {"files": {"a.py": "x = 1\n"}, "n": 3}
        os.write(w, (FRAME_LIMIT + 1).to_bytes(4, "big"))
        with pytest.raises(ValueError):
            read_frame(r)
        os.close(w)
        w = -1
        assert read_frame(r) is None  # end of stream
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_uid_alive_sees_our_own_uid_and_not_an_unused_one() -> None:
    from repairlab.repair.confine import UID_RANGE, uid_alive

    assert uid_alive(os.getuid(), most=10**6) is True
    assert uid_alive(UID_RANGE[1] + 12345, most=10**6) is False
    assert uid_alive(os.getuid(), most=0) is None  # too many to read: the caller sweeps


def test_bwrap_binds_only_the_system_the_interpreter_and_the_servers_files() -> None:
    import sys

    from repairlab.repair.bwrap import bwrap_argv

    argv = bwrap_argv(sys.executable)
    if argv is None:
        pytest.skip("bwrap is not installed")
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    assert "--bind" not in argv, "nothing of the host is writable"
    repo = str(Path(__file__).resolve().parent.parent)
    assert repo not in binds and not any(b.startswith(repo + "/tests") for b in binds)
    assert {b for b in binds if b.startswith(repo + "/repair/")} == {
        f"{repo}/repair/{n}" for n in ("sandbox.py", "confine.py", "candidate.py",
                                       "pytest_plugin.py", "fastpath.py")}
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent"):
        assert flag in argv
    assert argv[argv.index("--tmpfs") + 1] == "/tmp"
    assert "--size" in argv
