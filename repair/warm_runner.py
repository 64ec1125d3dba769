"""The warm, sandboxed runner: one fork server per runner, one child per candidate.

`WarmRunner` implements `repair.runner.Runner`. It starts repair/sandbox.py as a
long-lived server (under bubblewrap when bwrap can run: new pid, network, ipc and
uts namespaces, a read-only view of only the system directories, the interpreter
and site-packages, and a size-bounded private tmpfs as scratch; otherwise directly,
with one warning, relying on rlimits, an unprivileged uid and, where the server may
unshare it, an empty network namespace). The server has
pytest and coverage imported already, so a candidate costs a fork and a pytest
session instead of a fresh interpreter; see repair/sandbox.py for what the child does.

Threads: a WarmRunner serializes its calls with a lock, so it may be shared, but a
shared runner runs one candidate at a time. The daemon gives each worker thread its
own runner (`make_runner()` per worker), which is what lets workers run in parallel.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import IO, Any

from loguru import logger

from repairlab.errors import SandboxUnavailable
from repairlab.repair import sandbox
from repairlab.repair.bwrap import SCRATCH_IN_BOX, SCRIPT, bwrap_argv
from repairlab.repair.isolation import SUBPROCESS, Isolation, from_hello
from repairlab.repair.report import TestReport
from repairlab.repair.runner import report_from_data

# Time the server may take on top of a candidate's own timeout: writing the files,
# killing and sweeping, removing the scratch tree.
_GRACE = 10.0
_SERVER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}

__all__ = ["SandboxUnavailable", "WarmRunner", "bwrap_argv", "probe_isolation"]

_warn_lock = threading.Lock()
_warned_unsandboxed = False
_bwrap_failure: str | None = None


TEST_LIMIT_FACTOR = 10.0  # a screened test may take this many times the slowest first-run test
TEST_LIMIT_FLOOR = 0.05   # ... but never less (seconds of CPU; ten times that of wall time)


def per_test_limit(durations: Mapping[str, float]) -> float:
    """Seconds each screened test may take, from a complete run's per-test
    durations: TEST_LIMIT_FACTOR times the slowest, never below TEST_LIMIT_FLOOR;
    0 (no limit) when there are none."""
    if not durations:
        return 0.0
    return max(TEST_LIMIT_FLOOR, TEST_LIMIT_FACTOR * max(durations.values()))


class _Session:
    """The client's side of an open fast-path session: which server holds it, and
    for which tests."""

    def __init__(self, server: Any, tests: list[str]) -> None:
        self.server = server
        self.tests = tests


class _ServerLost(Exception):
    """The server closed its pipe or sent garbage: it died or is broken."""


def _warn_unsandboxed(reason: str, own_network: bool, own_temp: bool) -> None:
    """The one warning per process that candidates run without bubblewrap."""
    global _warned_unsandboxed
    with _warn_lock:
        if _warned_unsandboxed:
            return
        _warned_unsandboxed = True
    logger.warning("bubblewrap cannot run ({}); candidates run with rlimits and an "
                   "unprivileged uid, {}, {}", reason,
                   "an empty network namespace" if own_network else "the host's network",
                   "private temp dirs" if own_temp else "the host's world-writable temp dirs")


class _Server:
    """One running server process and its pipes."""

    def __init__(self, argv: list[str], scratch_host: str | None, timeout: float) -> None:
        self.scratch_host = scratch_host
        self.stderr: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=dict(_SERVER_ENV), start_new_session=True, close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.buf = bytearray()
        try:
            hello = self.receive(time.monotonic() + timeout)
        except _ServerLost as exc:
            self.kill()
            raise SandboxUnavailable(f"test server died at start: {exc}: {self.errors()}") from exc
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.kill()
            raise SandboxUnavailable(f"test server did not start in {timeout}s: {self.errors()}")
        self.hello: dict[str, Any] = hello
        self.uid_mode = str(hello.get("uid_mode"))
        self.own_network = bool(hello.get("own_network"))
        self.own_temp = bool(hello.get("own_temp"))

    def errors(self) -> str:
        """The tail of the server's stderr, for messages."""
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 4000))
            return self.stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def send(self, obj: Any, deadline: float) -> None:
        """Write one frame; raises _ServerLost if the server is gone or stuck."""
        body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        data = struct.pack(">I", len(body)) + body
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self.wfd, selectors.EVENT_WRITE)
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise _ServerLost("server stopped reading")
                try:
                    view = view[os.write(self.wfd, view):]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise _ServerLost(f"write failed: {exc}") from exc

    def receive(self, deadline: float) -> Any:
        """Read one frame; None when the deadline passes first, _ServerLost at end
        of stream or on a broken frame."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.rfd, selectors.EVENT_READ)
            while True:
                if len(self.buf) >= 4:
                    (size,) = struct.unpack(">I", self.buf[:4])
                    if size > sandbox.FRAME_LIMIT:
                        raise _ServerLost(f"frame of {size} bytes")
                    if len(self.buf) >= 4 + size:
                        body = bytes(self.buf[4:4 + size])
                        del self.buf[:4 + size]
                        try:
                            return json.loads(body)
                        except ValueError as exc:
                            raise _ServerLost(f"bad frame: {exc}") from exc
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                try:
                    chunk = os.read(self.rfd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise _ServerLost(f"server exited: {self.errors()}")
                self.buf += chunk

    def kill(self) -> None:
        """Kill the server's whole process group and forget its scratch dir."""
        _kill_server(self.proc, self.scratch_host)
        self.stderr.close()

    def close(self, wait: float = 2.0) -> None:
        """Ask the server to exit (close its stdin), then kill what is left."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=wait)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def _cost(reply: Mapping[str, Any], wall: float) -> dict[str, float]:
    """`WarmRunner.last_cost` from a reply; the timing part comes from the candidate's
    child, so anything that is not a number there is ignored."""
    cost = {"wall": wall, "cpu": float(reply.get("cpu") or 0.0)}
    result = reply.get("result")
    timing = result.get("timing") if isinstance(result, dict) else None
    if isinstance(timing, dict):
        cost.update({str(k): float(v) for k, v in timing.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return cost


def _one_line(text: str) -> str:
    """`text` (a server's stderr tail, say) on one line, for one-line messages."""
    return " ".join(text.split())[:500]


def _probe_args(guards: Sequence[str]) -> list[str]:
    """What the server's isolation probe checks against: each guarded directory,
    and this process's pid and its pid and network namespaces."""
    from repairlab.repair.confine import namespace_inode

    args: list[str] = []
    for guard in guards:
        args += ["--guard", guard]
    return [*args, "--daemon",
            f"{os.getpid()}:{namespace_inode('pid')}:{namespace_inode('net')}"]


def probe_isolation(guards: Sequence[str | os.PathLike[str]], *,
                    python: str = sys.executable, timeout: float = 30.0) -> Isolation:
    """The isolation the daemon's runners will give candidates, found by starting
    the test server the way they do (bwrap first, then directly) in probe mode: a
    child confined as a candidate tries to write each of `guards`, looks at its
    network, and signals this process. Costs one interpreter start, no warm-up.
    REPAIRLAB_RUNNER=subprocess (the reference runner) isolates nothing."""
    if os.environ.get("REPAIRLAB_RUNNER") == "subprocess":
        return SUBPROCESS
    runner = WarmRunner(python=python, start_timeout=timeout, guards=guards)
    # Not the process-wide memo of a bwrap failure: a probe always tries it afresh.
    runner.want_sandbox = None
    global _bwrap_failure
    saved, _bwrap_failure = _bwrap_failure, None
    try:
        server = runner._spawn("--probe")
    except SandboxUnavailable as exc:
        return Isolation(mechanism="none", candidate_uid="daemon's", state_root=False,
                         network=False, signals=False, processes=False,
                         why=f"the test server cannot start: {_one_line(str(exc))}")
    finally:
        if _bwrap_failure is None:
            _bwrap_failure = saved
    server.close()
    assert runner.isolation is not None
    return runner.isolation


def _kill_server(proc: subprocess.Popen[bytes], scratch_host: str | None) -> None:
    # The server leads its own group (start_new_session); bwrap's pid namespace, or
    # the uid sweeps, take care of candidates below it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("test server {} did not die after SIGKILL", proc.pid)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    if scratch_host:
        shutil.rmtree(scratch_host, ignore_errors=True)


class WarmRunner:
    """Runs candidates in a warm fork server; see the module docstring.

    `sandbox=None` uses bwrap when it can run and falls back (one warning per
    process) when it cannot; True insists on it (SandboxUnavailable otherwise);
    False never uses it. With `require`, a server whose probing candidate could
    write one of `guards` (the state root's directories), reach the network or
    signal this process is killed at once and SandboxUnavailable raised: no
    candidate ever runs less isolated (`isolation` says what they get). The server
    starts on `start()` or the first `run`, and is restarted transparently if it
    dies; a candidate whose run killed the server is retried once on a fresh one,
    then counts as crashed.
    """

    def __init__(self, *, python: str = sys.executable, sandbox: bool | None = None,
                 start_timeout: float = 30.0, require: bool = False,
                 guards: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.python = python
        self.want_sandbox = sandbox
        self.start_timeout = start_timeout
        self.require = require
        self.guards = [os.fspath(g) for g in guards]
        self.isolation: Isolation | None = None
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.sandboxed = False
        # Whether candidates are cut off from the network, and from the host's
        # world-writable temp dirs (always under bwrap; without it, where root may
        # unshare namespaces).
        self.network_isolated = False
        self.temp_isolated = False
        self.uid_mode = "none"
        # What the last run cost: wall and CPU seconds (candidate child plus server),
        # and the child's own split (setup, pytest, after). For benchmarks.
        self.last_cost: dict[str, float] = {}
        self._session: _Session | None = None
        self._unread = 0  # answers to `close_session` not read yet

    def start(self) -> None:
        """Start the server now. Raises SandboxUnavailable if it cannot start."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> _Server:
        if self._server is not None and self._server.proc.poll() is None:
            return self._server
        if self._server is not None:
            logger.warning("test server {} died (status {}); restarting it",
                           self._server.proc.pid, self._server.proc.returncode)
            self._server.kill()
            self._server = None
        server = self._spawn()
        self._server = server
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _kill_server, server.proc, server.scratch_host)
        return server

    def _spawn(self, *extra: str) -> _Server:
        """Start a server (with `extra` arguments, e.g. ``--probe``): under bwrap when
        it can run, else directly; check its isolation against `require`."""
        script = [self.python, "-s", "-P", "-B", SCRIPT, *extra, *_probe_args(self.guards),
                  "--scratch"]
        global _bwrap_failure
        if self.want_sandbox is not False:
            argv = bwrap_argv(self.python)
            reason = _bwrap_failure or "bwrap not found on PATH"
            # Once bwrap has failed here it is not retried on every server restart.
            if argv is not None and (_bwrap_failure is None or self.want_sandbox):
                try:
                    server = _Server([*argv, "--", *script[:-1], "--own-pidns", "--scratch",
                                      SCRATCH_IN_BOX], None, self.start_timeout)
                except (SandboxUnavailable, OSError) as exc:
                    reason = _bwrap_failure = _one_line(str(exc))
                else:
                    self._check(server, bwrap=True, why="")
                    self.sandboxed = self.network_isolated = self.temp_isolated = True
                    self._note_uid_mode(server.uid_mode)
                    return server
            if self.want_sandbox:
                raise SandboxUnavailable(reason)
        else:
            reason = "sandbox=False"
        host = tempfile.mkdtemp(prefix="repairlab-sandbox-")
        # The candidates' uids must reach their own dirs below, and list nothing.
        os.chmod(host, 0o711)
        try:
            server = _Server([*script, host], host, self.start_timeout)
        except OSError as exc:
            shutil.rmtree(host, ignore_errors=True)
            raise SandboxUnavailable(f"cannot start the test server: {exc}") from exc
        self._check(server, bwrap=False, why=reason)
        self.sandboxed = False
        self.network_isolated = server.own_network
        self.temp_isolated = server.own_temp
        if self.want_sandbox is None and "--probe" not in extra:
            _warn_unsandboxed(reason, server.own_network, server.own_temp)
        self._note_uid_mode(server.uid_mode)
        return server

    def _check(self, server: _Server, *, bwrap: bool, why: str) -> None:
        """Note the isolation `server` gives; with `require`, kill a server that gives
        too little and raise SandboxUnavailable with the refusal line."""
        self.isolation = from_hello(server.hello, bwrap=bwrap, why=why)
        if self.require and not self.isolation.sufficient:
            server.kill()
            raise SandboxUnavailable(self.isolation.refusal())

    def _note_uid_mode(self, mode: str) -> None:
        if mode == "none" and self.uid_mode != mode:
            logger.warning("candidates cannot drop root here: processes are bounded only "
                           "by the timeout, and a candidate can signal the server")
        self.uid_mode = mode

    def run(
        self,
        files: Mapping[str, str],
        tests: Sequence[str],
        *,
        timeout: float,
        coverage: bool = False,
    ) -> TestReport:
        """See `Runner.run`: a fresh pytest session in a fresh child, the verdict a
        challenger may rest on. A hang, crash, bomb, or a server that dies under the
        candidate comes back as a failing report; raises SandboxUnavailable only if
        a server cannot be started at all."""
        request = {"files": dict(files), "tests": list(tests), "timeout": float(timeout),
                   "coverage": bool(coverage)}
        with self._lock:
            started = time.monotonic()
            reply = self._exchange(request, timeout, started)
            if isinstance(reply, TestReport):
                return reply
            return self._report(reply, time.monotonic() - started)

    def _exchange(self, request: Mapping[str, Any], timeout: float,
                  started: float) -> dict[str, Any] | TestReport:
        """Send one request and return the server's reply; a server lost twice, or
        one that does not answer within `timeout` plus grace, gives a failing
        report instead (and is killed). Call with the lock held."""
        for attempt in (1, 2):
            server = self._ensure()
            deadline = time.monotonic() + timeout + _GRACE
            try:
                while self._unread:
                    if server.receive(time.monotonic() + _GRACE) is None:
                        raise _ServerLost("no answer to closing a session")
                    self._unread -= 1
                server.send(request, deadline)
                reply = server.receive(deadline)
            except _ServerLost as exc:
                logger.warning("test server lost during a run (attempt {}): {}", attempt, exc)
                server.kill()
                self._server = None
                self._session = None
                self._unread = 0
                if request.get("op") in ("screen", "open"):
                    break  # the session went with the server: judge it the ordinary way
                continue
            if reply is None or not isinstance(reply, dict):
                logger.error("test server {} gave no answer within {:.1f}s; killing it",
                             server.proc.pid, timeout + _GRACE)
                server.kill()
                self._server = None
                self._session = None
                self._unread = 0
                return TestReport(timed_out=True, duration_s=time.monotonic() - started,
                                  output="test server did not answer")
            self.last_cost = _cost(reply, time.monotonic() - started)
            return reply
        return TestReport(crashed=True, duration_s=time.monotonic() - started,
                          output="test server died twice running this candidate")

    # -- the fast path (repair/fastpath.py) -------------------------------------------

    def open_session(self, files: Mapping[str, str], tests: Sequence[str], *,
                     timeout: float) -> bool:
        """Collect a bundle's tests once, in a session process of the server, for
        `screen` to fork candidates from (replacing any open session). False when
        collection does not finish within `timeout` or the server is lost: then
        `screen` refuses every candidate and the caller runs them with `run`."""
        with self._lock:
            self._session = None
            started = time.monotonic()
            reply = self._exchange({"op": "open", "files": dict(files), "tests": list(tests),
                                    "timeout": float(timeout)}, timeout, started)
            if isinstance(reply, dict) and reply.get("session") is True:
                self._session = _Session(self._server, list(tests))
                return True
            if isinstance(reply, dict):
                logger.debug("no fast session for this bundle: {}",
                             str(reply.get("output", ""))[-300:])
            return False

    def screen(
        self,
        files: Mapping[str, str],
        tests: Sequence[str],
        *,
        timeout: float,
        coverage: bool = False,
        first: Sequence[str] = (),
        stop: bool = True,
        test_limit: float = 0.0,
    ) -> TestReport | None:
        """Judge a candidate quickly, in a child forked from the open session: the
        tests of `first` (those that failed before) run first; with `stop` the run
        ends at the first failure; each test may use `test_limit` seconds of CPU
        (ten times that of wall time; 0: no limit) before the run ends as timed out.
        For rejecting candidates: a report that passes is no verdict a challenger
        may rest on (that takes `run`). None when the fast path cannot judge this
        candidate (no session, other tests, or the session refused it: see
        repair/fastpath.py); the caller then uses `run`."""
        with self._lock:
            session = self._session
            if session is None or session.server is not self._server \
                    or list(tests) != session.tests:
                return None
            started = time.monotonic()
            request = {"op": "screen", "files": dict(files), "timeout": float(timeout),
                       "coverage": bool(coverage), "first": list(first), "stop": bool(stop),
                       "test_limit": float(test_limit)}
            reply = self._exchange(request, timeout, started)
            if isinstance(reply, TestReport):
                return reply if reply.timed_out else None
            if "refused" in reply:
                logger.debug("fast path refused a candidate: {}", reply.get("refused"))
                return None
            return self._report(reply, time.monotonic() - started)

    def close_session(self) -> None:
        """End the open session (its process and everything of its uid), if any.
        Does not wait: the server's answer is read before the next request's."""
        with self._lock:
            session, self._session = self._session, None
            server = self._server
            if session is None or session.server is not server or server is None:
                return
            try:
                server.send({"op": "close"}, time.monotonic() + _GRACE)
            except _ServerLost as exc:
                logger.warning("test server lost closing a session: {}", exc)
                server.kill()
                self._server = None
                return
            self._unread += 1

    @staticmethod
    def _report(reply: Mapping[str, Any], duration: float) -> TestReport:
        if not reply.get("swept", True):
            logger.warning("some processes of a candidate could not be killed")
        status = reply.get("status")
        exit_code = os.waitstatus_to_exitcode(status) if isinstance(status, int) else -1
        result = reply.get("result")
        coverage = result.get("coverage") if isinstance(result, dict) else None
        return report_from_data(
            result, exit_code=exit_code, output=str(reply.get("output", "")),
            duration=duration, timed_out=bool(reply.get("timed_out")), coverage=coverage,
        )

    def close(self) -> None:
        """Stop the server (if any) and remove its scratch; the runner may be
        started again by a later `run`."""
        with self._lock:
            self._session = None
            self._unread = 0
            if self._server is not None:
                self._server.close()
                self._server = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None

    def __enter__(self) -> WarmRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
