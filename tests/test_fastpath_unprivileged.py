"""The fast path for a non-root daemon, as the shipped unit runs it (`User=repairlab`).

The daemon's side runs in a forked child as the unprivileged test user (`AsUser.call`):
it starts a real server (under bubblewrap), opens a session, and screens candidates,
good and hostile, through it. A non-root server cannot hand out uids, so its
session process is pid 1 of a user and pid namespace of its own
(`confine.enter_pid_namespace`); these tests prove the fast path is taken there (not
the ordinary way) and that a hostile candidate on it is still contained.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import AsUser, pids_named
from repairlab.repair.warm_runner import WarmRunner

pytestmark = pytest.mark.timeout(120)

BUNDLE = {
    "m.py": "def f():\n    return 1\n",
    "test_m.py": "import m\n\n\ndef test_f():\n    assert m.f() == 2\n",
}
TESTS = ["test_m.py"]



def _hostile(token: str, daemon: int, state_root: Path) -> str:
    """m.py of a candidate that leaves a setsid'd sleeper named `token`, signals the
    daemon's pid and pid 1, writes into the state root, then returns the right value
    (so that screening passes and nothing but containment can stop it)."""
    return (
        "import ctypes\nimport os\nimport signal\nimport time\n\n\n"
        "def f():\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            ctypes.CDLL(None).prctl(15, {token!r}.encode(), 0, 0, 0)\n"
        "            time.sleep(60)\n"
        "        os._exit(0)\n"
        "    os.waitpid(child, 0)\n"
        f"    for target in ({daemon}, 1, os.getppid()):\n"
        "        try:\n"
        "            os.kill(target, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n"
        "    try:\n"
        f"        open({str(state_root / 'owned')!r}, 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
        "    return 2\n"
    )


def _as_daemon(user: AsUser, check: Callable[[WarmRunner], None]) -> None:
    """Run `check` with a started WarmRunner in a child as `user` (the daemon)."""

    def body() -> None:
        with WarmRunner() as runner:
            runner.start()
            check(runner)

    user.call(body)


@pytest.fixture
def bwrap_present() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap (Debian package bubblewrap) is needed for the non-root sandbox")


@pytest.mark.usefixtures("bwrap_present")
def test_a_non_root_daemon_judges_candidates_on_the_fast_path(unprivileged_user: AsUser) -> None:
    def check(runner: WarmRunner) -> None:
        assert os.geteuid() != 0 or unprivileged_user.root
        assert runner.open_session(BUNDLE, TESTS, timeout=30), "no fast session as non-root"
        right = {**BUNDLE, "m.py": "def f():\n    return 2\n"}
        wrong = {**BUNDLE, "m.py": "def f():\n    return 3\n"}
        good = runner.screen(right, TESTS, timeout=30, stop=False)
        bad = runner.screen(wrong, TESTS, timeout=30, stop=False)
        assert good is not None and bad is not None, "the fast path refused a candidate"
        assert good.ok and good.passed == 1
        assert not bad.ok and bad.failed == 1
        # A complete ordinary run meanwhile (a verdict) sweeps its own leftovers but
        # leaves the session alone: the next candidate is still screened.
        assert runner.run(right, TESTS, timeout=30).ok
        again = runner.screen(right, TESTS, timeout=30, stop=False)
        assert again is not None and again.ok
        runner.close_session()

    _as_daemon(unprivileged_user, check)


@pytest.mark.usefixtures("bwrap_present")
def test_a_hostile_candidate_on_a_non_root_fast_path_is_contained(
    unprivileged_user: AsUser, workdir_as: Callable[[AsUser], Path],
) -> None:
    token = "rl" + secrets.token_hex(5)
    state_root = workdir_as(unprivileged_user)

    def check(runner: WarmRunner) -> None:
        assert runner.open_session(BUNDLE, TESTS, timeout=30)
        hostile = {**BUNDLE, "m.py": _hostile(token, os.getpid(), state_root)}
        report = runner.screen(hostile, TESTS, timeout=30, stop=False)
        assert report is not None, "the fast path refused the hostile candidate"
        # Its sleeper ran (the candidate's test passed after starting it) and is
        # swept right after the verdict went out (the session sweeps between the
        # reply and the next request): gone within moments, never left to live.
        assert report.ok, report.output
        deadline = time.monotonic() + 5
        while pids_named(token) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pids_named(token), "a process of the candidate outlived its sweep"
        assert not (state_root / "owned").exists(), "the candidate wrote the state root"
        # kill(-1) from inside reaches only what the candidate itself started.
        killer = {**BUNDLE, "m.py": ("import os\nimport signal\n\n\ndef f():\n"
                                     "    try:\n        os.kill(-1, signal.SIGKILL)\n"
                                     "    except OSError:\n        pass\n    return 2\n")}
        runner.screen(killer, TESTS, timeout=30, stop=False)
        # The daemon (this process) lives, and so do the server and the session.
        after = runner.screen({**BUNDLE, "m.py": "def f():\n    return 2\n"}, TESTS,
                              timeout=30, stop=False)
        assert after is not None and after.ok
        runner.close_session()

    try:
        _as_daemon(unprivileged_user, check)
    finally:
        for pid in pids_named(token):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
