"""The inside of the sandbox: a fork server that runs one candidate at a time.

`WarmRunner` (repair/warm_runner.py) starts this file as a script, under bubblewrap
when it can, as ``python -s -P -B sandbox.py --scratch DIR``. The server imports
pytest and coverage once and warms them up (repair/candidate.py), then for each
request read from stdin it forks a child that

1. makes its own process group (pgid = its pid),
2. gets a fresh scratch directory ``DIR/<n>/work`` (the candidate's files, its cwd)
   and ``DIR/<n>/tmp`` (its HOME and TMPDIR), both owned by a fresh *ephemeral uid*,
3. sets resource limits (CPU, address space, file size, open files, processes, no
   core) and ``no_new_privs``, and drops to that uid (repair/confine.py),
4. writes the files, scrubs the environment and ``sys.path`` down to the standard
   library and site-packages, and runs ``pytest.main`` with `ReportPlugin`,
5. writes the plugin's JSON to a pipe and exits.

Each candidate gets its own random uid (as systemd's DynamicUser does), not a shared
``nobody``: the kernel counts RLIMIT_NPROC per uid, so a fork bomb is bounded by its
own count alone; one candidate cannot signal another runner's candidate or the
server (root); and "everything this uid runs" is exactly what must die afterwards.
The server kills the child's process group on timeout and at the end of every run,
then, if any process of that uid is left (grandchildren that escaped the group with
``setsid``), a helper running as that uid sends ``kill(-1, SIGKILL)`` until none is.

Modules a candidate imports die with its child: the server never imports bundle
code, and repairlab's own packages are kept off the child's import path. This file
and its two siblings import only the standard library at module level and are
loaded by path under private names, so nothing named like a repairlab module sits
in the server's ``sys.modules``. The server is a child subreaper: orphans of a
candidate are reparented to it and reaped.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and UTF-8 JSON. The
server first sends ``{"ready": true, ...}``; each request
``{"files", "tests", "timeout", "coverage"}`` gets one reply (see `Server.run`).
When stdin closes the server exits. If the server itself fails, it exits and the
parent starts another.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import resource
import selectors
import shutil
import signal
import struct
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

OUTPUT_LIMIT = 64 * 1024
RESULT_LIMIT = 64 * 1024 * 1024
FRAME_LIMIT = 256 * 1024 * 1024
SCRATCH_TMPFS_BYTES = 256 * 1024 * 1024
_EXIT_SETUP = 70  # the child failed before pytest ran: a crash, with its traceback
# A bundle's session process lives through many candidates: its own CPU limit is this
# (it collects once and then only forks and waits); each candidate gets its own.
SESSION_CPU_SECONDS = 3600.0
# What the server allows a session process on top of a candidate's own timeout to
# answer (it kills, sweeps and reports the candidate itself).
SESSION_GRACE = 5.0


def _sibling(name: str) -> ModuleType:
    """Load repair/<name>.py by path under a private name (see the module docstring)."""
    full = f"_repairlab_sandbox_{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from repairlab.repair import candidate, confine, fastpath
else:
    confine = _sibling("confine")
    candidate = _sibling("candidate")
    fastpath = _sibling("fastpath")


# ---------------------------------------------------------------- framing

def _code_dirs() -> list[str]:
    """Where this server's code and its interpreter's packages live (they must stay
    visible when private temp dirs are mounted over a checkout under /tmp)."""
    import site

    here = os.path.dirname(os.path.abspath(__file__))
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, here}
    found.update(site.getsitepackages())
    return sorted(p for p in found if p)


def write_frame(fd: int, obj: Any) -> None:
    """Send one JSON frame; raises OSError (EPIPE) when the reader has gone."""
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    _write_all(fd, struct.pack(">I", len(body)) + body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """Read one JSON frame, blocking; None at end of stream. A frame larger than
    FRAME_LIMIT or not JSON raises ValueError: the peer is broken."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > FRAME_LIMIT:
        raise ValueError(f"frame of {size} bytes")
    body = _read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body)


def _send_within(fd: int, obj: Any, deadline: float) -> bool:
    """Write one frame to a pipe by `deadline`; False if the reader stopped reading
    or is gone."""
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    view = memoryview(struct.pack(">I", len(body)) + body)
    os.set_blocking(fd, False)
    # The server dies of SIGPIPE by design (its parent gone); a reader of ours gone
    # must only fail this write: the signal is held, and taken, around it.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_WRITE)
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return False
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue
                except OSError:
                    return False
        return True
    finally:
        signal.sigtimedwait([signal.SIGPIPE], 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _receive_within(fd: int, deadline: float, drain: int | None = None,
                    drained: bytearray | None = None) -> Any:
    """Read one frame from a pipe by `deadline`: the decoded JSON, None on timeout,
    or False at end of stream or on a broken or oversized frame. Meanwhile `drain`
    (another pipe) is read into `drained`, its tail kept."""
    os.set_blocking(fd, False)
    buf = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        if drain is not None:
            os.set_blocking(drain, False)
            sel.register(drain, selectors.EVENT_READ)
        while True:
            if len(buf) >= 4:
                (size,) = struct.unpack(">I", buf[:4])
                if size > FRAME_LIMIT:
                    return False
                if len(buf) >= 4 + size:
                    try:
                        return json.loads(bytes(buf[4:4 + size]))
                    except ValueError:
                        return False
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for key, _ in sel.select(left):
                try:
                    chunk = os.read(key.fd, 1 << 20)
                except BlockingIOError:
                    continue
                if key.fd == fd:
                    if not chunk:
                        return False
                    buf += chunk
                elif not chunk:
                    sel.unregister(key.fd)
                elif drained is not None:
                    drained += chunk
                    if len(drained) > 2 * OUTPUT_LIMIT:
                        del drained[:-OUTPUT_LIMIT]


# ---------------------------------------------------------------- the server

class Server:
    """The fork server. `serve` answers requests until stdin closes."""

    def __init__(self, ctl_in: int, ctl_out: int, scratch: Path, *, own_pidns: bool = False,
                 guards: Sequence[str] = (), daemon: Mapping[str, int] | None = None) -> None:
        self.ctl_in = ctl_in
        self.ctl_out = ctl_out
        self.scratch = scratch
        # In a pid (and user) namespace of its own (bwrap): leftovers are swept by
        # killing everything in the namespace, and the process limit counts there.
        self.own_pidns = own_pidns
        # Directories a candidate must not be able to write (the state root), and
        # the daemon's pid and namespaces: what `probe_isolation` checks against.
        self.guards = list(guards)
        self.daemon = dict(daemon or {})
        self.seq = 0
        here = Path(__file__).resolve()
        self.host = candidate.PytestHost(here.with_name("pytest_plugin.py"),
                                         str(here.parent.parent))
        self.uid_mode = "none"
        self.cpu = 0.0

    def probe_uid(self) -> str:
        """How candidates can drop root here: "ephemeral", "ephemeral+read" (keep
        CAP_DAC_READ_SEARCH: the interpreter is unreadable to others) or "none"."""
        if os.geteuid() != 0:
            return "none"
        needed = self.host.needed_paths()
        for mode in ("ephemeral", "ephemeral+read"):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - probe child
                code = 1
                try:
                    confine.drop_to(confine.pick_uid(), keep_read_search=mode != "ephemeral")
                    # Really read: access() ignores capabilities for non-root uids.
                    for p in needed:
                        if os.path.isdir(p):
                            os.listdir(p)
                        else:
                            with open(p, "rb"):
                                pass
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                return mode
        return "none"

    def probe_isolation(self) -> dict[str, Any]:
        """What a candidate can do here, found by doing it: a child confined exactly
        as a candidate is (`_confine`) tries to create a file in each guarded
        directory, looks at its network namespace and interfaces, and, when it shares
        the daemon's pid namespace, signals the daemon with signal 0. Returns
        {"writable": [guards it could write], "network": bool, "signal": bool,
        "processes": bool (RLIMIT_NPROC in force)}; any check the child could not
        finish counts as the worse answer."""
        worst = {"writable": list(self.guards), "network": True, "signal": True,
                 "processes": False}
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the probe child
            code = 1
            try:
                os.close(r)
                os.setpgid(0, 0)
                uid = confine.pick_uid() if self.uid_mode != "none" else os.geteuid()
                nproc = self._confine(uid, 10.0)
                writable = []
                for guard in self.guards:
                    name = os.path.join(guard, f".repairlab-probe-{os.getpid()}")
                    try:
                        fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                    except OSError:
                        continue
                    os.close(fd)
                    os.unlink(name)
                    writable.append(guard)
                import socket

                interfaces = {n for _, n in socket.if_nameindex()}
                # Without the daemon's namespaces to compare with, nothing is known.
                own_net = bool(self.daemon) and confine.namespace_inode("net") not in (
                    0, self.daemon.get("net_ns"))
                signal_ok = not self.daemon
                if self.daemon and confine.namespace_inode("pid") in (0, self.daemon["pid_ns"]):
                    try:
                        os.kill(int(self.daemon["pid"]), 0)
                        signal_ok = True
                    except PermissionError:
                        signal_ok = False
                    except ProcessLookupError:
                        signal_ok = True  # cannot tell: assume the worse
                facts = {"writable": writable, "network": not (own_net and interfaces <= {"lo"}),
                         "signal": signal_ok, "processes": nproc}
                _write_all(w, json.dumps(facts).encode("utf-8"))
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return worst
        try:
            found = json.loads(data)
        except ValueError:
            return worst
        return found if isinstance(found, dict) else worst

    def serve(self, *, probe_only: bool = False) -> None:
        """Warm up, say ready, then answer requests until stdin closes. With
        `probe_only`, say what isolation a candidate gets (`probe_isolation`) and
        exit without warming up."""
        try:
            confine.prctl(confine.PR_SET_CHILD_SUBREAPER, 1)
            subreaper = True
        except OSError:
            subreaper = False
        # Under bwrap the network namespace exists already (and this fails for want
        # of CAP_SYS_ADMIN); without it, as root, this is the network sandbox.
        own_network = confine.isolate_network()
        # Likewise the world-writable temp dirs; the scratch dir moves into the
        # private /tmp then (the host one given to us is hidden under it).
        if confine.private_temp_dirs(SCRATCH_TMPFS_BYTES, keep=_code_dirs()):
            self.scratch = Path("/tmp/repairlab")
            self.scratch.mkdir(mode=0o755, exist_ok=True)
            own_temp = True
        else:
            own_temp = False
        self.uid_mode = self.probe_uid()
        if self.uid_mode == "none":
            # Candidates run as this server's uid: at least they must not be able to
            # trace it or write its memory through /proc (same-uid access otherwise).
            try:
                confine.prctl(confine.PR_SET_DUMPABLE, 0)
            except OSError:
                pass
        isolation = self.probe_isolation()
        hello = {"ready": True, "pid": os.getpid(), "uid_mode": self.uid_mode,
                 "subreaper": subreaper, "own_network": own_network, "own_temp": own_temp,
                 "own_pidns": self.own_pidns, "euid": os.geteuid(), "isolation": isolation}
        if probe_only:
            write_frame(self.ctl_out, hello)
            return
        self.host.warm_up(self.scratch)
        self.host.prebuild_config()
        self.host.freeze_import_state()
        if not self.self_test():
            # The shortcuts into pytest's internals misbehave with this pytest: run
            # every session the plain way (slower, never wrong).
            sys.stderr.write("self-test failed with the pytest shortcuts; dropping them\n")
            self.host.drop_shortcuts()
            if not self.self_test():
                sys.stderr.write("self-test failed without them too\n")
        import gc

        # Objects alive now are shared copy-on-write with every child; freezing them
        # keeps the child's collector from touching (and so copying) those pages.
        gc.collect()
        gc.freeze()
        write_frame(self.ctl_out, hello)
        while True:
            request = read_frame(self.ctl_in)
            if request is None:
                return
            try:
                reply = self.dispatch(request)
            except OSError as exc:
                # The system refused (no fork, no scratch space): this candidate counts
                # as crashed, and the server goes on to the next.
                reply = {"status": None, "timed_out": False, "duration": 0.0,
                         "output": f"the test server could not run the candidate: {exc}",
                         "result": None, "swept": True}
            write_frame(self.ctl_out, reply)

    def dispatch(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One request: ``op`` "run" (the default: a fresh session per candidate), or
        the fast path's "open", "screen" and "close" (see `open_session`)."""
        op = request.get("op", "run")
        if op == "open":
            return self.open_session(request)
        if op == "screen":
            return self.screen(request)
        if op == "close":
            self.close_session()
            return {"closed": True}
        return self.run(request)

    def self_test(self) -> bool:
        """Run one known candidate through the whole path (child, limits, uid, pytest,
        coverage) and check what comes back, to the line."""
        files = {"m.py": "def f(x):\n    if x:\n        return 1\n    return 2\n",
                 "test_m.py": ("import m\n\n\ndef test_one():\n    assert m.f(1) == 1\n\n\n"
                               "def test_two():\n    assert m.f(0) == 3\n")}
        try:
            reply = self.run({"files": files, "tests": ["test_m.py"], "timeout": 30.0,
                              "coverage": True})
        except OSError as exc:
            sys.stderr.write(f"self-test could not run: {exc!r}\n")
            return False
        result = reply.get("result") or {}
        expected = {"test_m.py::test_one": {"m.py": [2, 3]},
                    "test_m.py::test_two": {"m.py": [2, 4]}}
        ok = (result.get("outcomes") == {"test_m.py::test_one": True,
                                         "test_m.py::test_two": False}
              and result.get("coverage") == expected and result.get("exit") == 1)
        if not ok:
            sys.stderr.write(f"self-test got {reply!r}\n")
        return bool(ok)

    def run(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """Run one candidate. The reply holds ``status`` (the child's wait status
        or None), ``timed_out``, ``duration``, ``output`` (the tail, text), ``result``
        (the plugin's record with ``coverage``, or None if the child never wrote a
        whole one) and ``swept`` (False if leftovers could not all be killed)."""
        self.seq += 1
        own_cpu = time.process_time()
        run_dir = self.scratch / str(self.seq)
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(mode=0o755)
        timeout = float(req["timeout"])
        dropping = self.uid_mode != "none"
        uid = confine.pick_uid() if dropping else os.geteuid()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        # The child inherits these buffers: whatever the server has printed (pytest's
        # warm-up session above all) must be gone from them before it forks, or the
        # child's first flush writes it into the candidate's output.
        _flush_std_streams()
        start = time.monotonic()
        try:
            pid = os.fork()
        except OSError:
            for fd in (out_r, out_w, res_r, res_w):
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the candidate child
            os.close(out_r)
            os.close(res_r)
            self._child(req, run_dir, uid, out_w, res_w)
        os.close(out_w)
        os.close(res_w)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child got there first, or already exited
        status, timed_out, output, result = self._watch(pid, out_r, res_r, start + timeout)
        duration = time.monotonic() - start
        status, swept = self._finish(pid, status, uid if dropping else None)
        shutil.rmtree(run_dir, ignore_errors=True)
        if not dropping:
            # The candidate had this server's uid, so it could write anywhere in the
            # scratch dir: nothing it left there may reach the next candidate (an
            # open session's directory is emptied before each of its own).
            _empty(self.scratch, keep=self.zygote["dir"] if self.zygote else None)
        parsed = None
        if result:
            try:
                parsed = json.loads(result)
            except ValueError:
                parsed = None
        # CPU seconds: the candidate's child (and what it reaped) plus this server's
        # own share of the run; the benchmark's load-independent measure of cost.
        cpu = self.cpu + time.process_time() - own_cpu
        return {
            "status": status, "timed_out": timed_out, "duration": duration,
            "output": output.decode("utf-8", "replace"), "result": parsed, "swept": swept,
            "cpu": cpu,
        }

    def _watch(self, pid: int, out_r: int, res_r: int, deadline: float, *,
               until_result: bool = False) -> tuple[int | None, bool, bytes, bytes]:
        """Collect output (its tail) and the result until the child exits or the
        deadline passes (with `until_result`, also once the result pipe is closed:
        the child has said all it will); a result over RESULT_LIMIT is dropped
        (counts as a crash)."""
        sel = selectors.DefaultSelector()
        for fd in (out_r, res_r):
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        pidfd: int | None = None
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pass  # an old kernel: poll on a short tick instead
        if pidfd is not None:
            sel.register(pidfd, selectors.EVENT_READ)
        output = bytearray()
        result = bytearray()
        status: int | None = None
        self.cpu = 0.0
        timed_out = False
        try:
            # (A child that dies without a record is waited for: its status says how.)
            while status is None and not (until_result and result
                                          and res_r not in sel.get_map()):
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                # Orphans are reaped on a tick: they are reparented to us (subreaper).
                events = sel.select(min(left, 0.05 if pidfd is not None else 0.002))
                for key, _ in events:
                    if key.fd == pidfd:
                        continue
                    self._drain(key.fd, output if key.fd == out_r else result, sel,
                                tail=key.fd == out_r)
                if len(result) > RESULT_LIMIT:
                    result.clear()
                    break
                reaped = confine.reap_nohang(pid)
                if reaped is not None:
                    status, self.cpu = reaped
            # What the child wrote just before exiting is still in the pipes.
            for fd, buf in ((out_r, output), (res_r, result)):
                if fd in sel.get_map():
                    self._drain(fd, buf, sel, tail=fd == out_r, budget=RESULT_LIMIT)
        finally:
            sel.close()
            for owned in (out_r, res_r, pidfd):
                if owned is not None:
                    os.close(owned)
        return status, timed_out, bytes(output[-OUTPUT_LIMIT:]), bytes(result)

    @staticmethod
    def _drain(fd: int, buf: bytearray, sel: selectors.BaseSelector, *, tail: bool,
               budget: int = 1 << 20) -> None:
        """Read what `fd` has now (at most `budget`); unregister it at end of stream.
        With `tail`, keep only the last OUTPUT_LIMIT bytes: endless output costs the
        server time, never memory."""
        while budget > 0:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                sel.unregister(fd)
                return
            buf += chunk
            budget -= len(chunk)
            if tail and len(buf) > 2 * OUTPUT_LIMIT:
                del buf[:-OUTPUT_LIMIT]

    def _finish(self, pid: int, status: int | None, uid: int | None) -> tuple[int | None, bool]:
        """Kill the child's group and reap the child (if `status` is None it is still
        unreaped, so its pid and pgid cannot have been reused), then sweep its uid.
        Returns the child's wait status and whether nothing of the candidate is left."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if status is None:
            status = self._wait(pid)
        if uid is None:
            # Same uid as this server: in a pid namespace of our own everything but
            # us, bwrap's init and an open session is the candidate's; outside one
            # nothing can tell.
            if not self.own_pidns:
                return status, True
            spare = self.zygote["pid"] if self.zygote is not None else 0
            return status, confine.sweep_namespace(spare=spare)
        # Usually nothing is left, and looking costs far less than the sweeper's fork.
        if confine.uid_alive(uid) is False:
            return status, True
        return status, self._sweep(uid)

    def _wait(self, pid: int) -> int | None:
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            return None
        self.cpu = usage.ru_utime + usage.ru_stime
        return status

    def _sweep(self, uid: int) -> bool:
        """Fork a helper that becomes `uid` and kills all its processes; meanwhile
        reap whatever dies and is reparented to us."""
        helper = os.fork()
        if helper == 0:  # pragma: no cover - sweeper child
            code = 1
            try:
                confine.drop_to(uid)
                code = 0 if confine.sweep_uid_here() else 3
            finally:
                os._exit(code)
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return False
            if pid == helper:
                confine.reap_nohang()
                return os.waitstatus_to_exitcode(status) == 0

    # ------------------------------------------------------------ the fast path

    zygote: dict[str, Any] | None = None
    deferred_cpu = 0.0  # a session process's CPU seconds after its last reply
    session_init = False  # in a session process that is pid 1 of its own namespace

    def _fresh_dirs(self, work: Path, tmp: Path, uid: int) -> None:
        """`work` and `tmp` empty, owned by `uid` (whatever a candidate left there
        goes). Without uids to hand out, candidates have this server's uid and could
        write anywhere in the scratch dir, and change modes there: all of it but the
        session's directory is emptied, and that directory too, whatever the modes."""
        if self.uid_mode == "none":
            sdir = work.parent
            if os.path.islink(sdir) or not sdir.is_dir():
                self.close_session()
                raise OSError(errno.ENOENT, "a candidate took the session's directory away")
            os.chmod(sdir, 0o755)
            _empty(self.scratch, keep=sdir)
            _empty(sdir)
            for d in (work, tmp):
                d.mkdir(mode=0o755)
            return
        for d in (work, tmp):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(mode=0o755)
            os.chown(d, uid, uid)

    def open_session(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """Fork a bundle's session process (repair/fastpath.py) for ``files`` and
        ``tests``: confined like a candidate, with an ephemeral uid of its own (a
        root daemon), or, where this server cannot hand out uids (a non-root daemon),
        as pid 1 of a user and pid namespace of its own (`confine.enter_pid_namespace`:
        its candidates cannot see or signal anything outside it, it sweeps them with
        ``kill(-1)``, and its death kills all of them), it collects the tests and
        then waits for "screen" requests. Replaces any open session. Replies
        ``{"session": true, "collected": N}``, or ``{"session": false, "output":
        ...}`` when collection could not finish within ``timeout`` or the system
        refuses the namespaces (the process and everything it started are gone then)."""
        self.close_session()
        self.seq += 1
        own_cpu = time.process_time()
        sdir = self.scratch / f"s{self.seq}"
        shutil.rmtree(sdir, ignore_errors=True)
        sdir.mkdir(mode=0o755)
        dropping = self.uid_mode != "none"
        uid = confine.pick_uid() if dropping else os.geteuid()
        work, tmp = sdir / "work", sdir / "tmp"
        self._fresh_dirs(work, tmp, uid)
        pipes = [os.pipe() for _ in range(3)]  # requests, replies, the process's output
        (req_r, req_w), (rep_r, rep_w), (out_r, out_w) = pipes
        _flush_std_streams()
        try:
            pid = os.fork()
        except OSError:
            for pair in pipes:
                for fd in pair:
                    os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the session process
            for fd in (req_w, rep_r, out_r):
                os.close(fd)
            self._session_process(req, work, tmp, uid, out_w, req_r, rep_w)
        for fd in (req_r, rep_w, out_w):
            os.close(fd)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        zygote = {"pid": pid, "uid": uid if dropping else None, "dir": sdir, "work": work,
                  "tmp": tmp, "req": req_w, "rep": rep_r}
        output = bytearray()
        zygote["out"] = out_r
        hello = _receive_within(rep_r, time.monotonic() + float(req["timeout"]), out_r, output)
        if not isinstance(hello, dict) or not hello.get("ready"):
            _drain_for(out_r, output, time.monotonic() + 0.5)
            self.zygote = zygote
            self.close_session()
            return {"session": False, "output": bytes(output[-OUTPUT_LIMIT:]).decode(
                "utf-8", "replace"), "cpu": time.process_time() - own_cpu}
        self.zygote = zygote
        collected = hello.get("collected")
        return {"session": True, "collected": collected if isinstance(collected, int) else 0,
                "cpu": time.process_time() - own_cpu}

    def screen(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """Run one candidate in a child of the open session (see repair/fastpath.py);
        the reply is `run`'s, or ``{"refused": why}`` when the session cannot judge
        this candidate (the caller runs it the ordinary way). A session process that
        does not answer in time, or dies, is killed with everything of its uid, and
        the candidate counts as timed out or crashed."""
        zygote = self.zygote
        if zygote is None:
            return {"refused": "no session is open"}
        own_cpu = time.process_time()
        start = time.monotonic()
        if self.uid_mode == "none":
            # Candidates have this server's uid: whatever they left elsewhere in the
            # scratch dir goes (the session empties its own dirs after each one).
            _empty(self.scratch, keep=zygote["dir"])
        deadline = start + float(req["timeout"]) + SESSION_GRACE
        said = bytearray()  # what the session process itself wrote meanwhile
        if not _send_within(zygote["req"], req, deadline):
            # Gone before this candidate was given to it (a thread of the bundle's
            # module code, say): nothing of this candidate's doing.
            self.close_session()
            return {"refused": "the session process is gone"}
        reply = _receive_within(zygote["rep"], deadline, zygote["out"], said)
        duration = time.monotonic() - start
        if not isinstance(reply, dict):
            lost = reply is None and time.monotonic() >= deadline
            self.close_session()
            tail = bytes(said[-OUTPUT_LIMIT // 2:]).decode("utf-8", "replace")
            return {"status": None, "timed_out": lost, "duration": duration,
                    "output": "the session process " + ("did not answer" if lost else "died")
                    + (f":\n{tail}" if tail else ""),
                    "result": None, "swept": True, "cpu": time.process_time() - own_cpu}
        if isinstance(reply.get("refused"), str):
            return {"refused": reply["refused"][:1000]}
        output = reply.get("output")
        result = reply.get("result")
        status = reply.get("status")
        cpu = reply.get("cpu")
        return {
            "status": status if isinstance(status, int) and not isinstance(status, bool)
            else None,
            "timed_out": reply.get("timed_out") is True,
            "duration": duration,
            "output": output[-OUTPUT_LIMIT:] if isinstance(output, str) else "",
            "result": result if isinstance(result, dict) else None,
            "cpu": (float(cpu) if isinstance(cpu, (int, float)) else 0.0)
            + time.process_time() - own_cpu,
        }

    def close_session(self) -> None:
        """End the open session, if any: its process and everything of its uid die,
        its scratch goes."""
        zygote, self.zygote = self.zygote, None
        if zygote is None:
            return
        for fd in (zygote["req"], zygote["rep"], zygote.get("out")):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        self._finish(zygote["pid"], None, zygote["uid"])
        shutil.rmtree(zygote["dir"], ignore_errors=True)

    def _session_process(self, req: Mapping[str, Any], work: Path, tmp: Path, uid: int,
                         out_w: int, req_r: int, rep_w: int) -> None:  # pragma: no cover
        """The session process: confine, collect, serve (`_serve_session`); never
        returns. A candidate child forked by it comes back here from pytest, writes
        its record to fd 3 and exits."""
        code = _EXIT_SETUP
        try:
            _child_descriptors(out_w, req_r, rep_w)
            self._confine(uid, SESSION_CPU_SECONDS)
            if self.uid_mode == "none":
                # No uid of its own to sweep by: a pid namespace of its own instead.
                confine.enter_pid_namespace()
                self.session_init = True
            # Candidates share this uid: none may read or write this process's memory.
            confine.prctl(confine.PR_SET_DUMPABLE, 0)
            # Orphans of candidates come to us, and are reaped and swept here.
            confine.prctl(confine.PR_SET_CHILD_SUBREAPER, 1)
            self.zygote = None
            self.session_sweeps = self.uid_mode != "none"
            session = fastpath.Session(work, tmp, req["files"], list(req["tests"]),
                                       candidate.is_test_path)
            data = self.host.open_session(session, self._serve_session)
            # Only a candidate child gets here.
            code = self._candidate_done(data)
        except BaseException:
            _write_traceback()
        finally:
            os._exit(code)

    def _serve_session(self, session: Any) -> None:  # pragma: no cover - session process
        """Say ready, then judge each "screen" request in a child forked from here;
        returns only in a child (then pytest's loop, or `_run_items`, runs its tests).

        Each child is forked *before* its request comes (a spare: `_fork_spare`), and
        it writes the handoff's files and takes the bundle's environment meanwhile;
        once a candidate's record is read and its process group killed, the reply
        goes out at once, and what is left to do (reap it, sweep whatever of it
        survived, empty the scratch dirs, fork the next spare) is done before the
        next request is read. A sweep that fails ends this process: the server then
        refuses the next candidate and kills everything of the session."""
        write_frame(4, {"ready": True, "collected": len(session.session.items),
                        "errors": session.collection_errors})
        session.freeze()
        spare = self._fork_spare(session)
        if spare is None:
            return
        while True:
            request = read_frame(3)
            if request is None:
                os._exit(0)
            refused = session.refuses(request["files"])
            if refused is not None:
                write_frame(4, {"refused": refused})
                continue
            reply, status = self._session_candidate(spare, request)
            # What the previous candidate cost after its reply (reaping, sweeping,
            # emptying, forking this one's child) counts in this one's cost.
            if "cpu" in reply:
                reply["cpu"] += self.deferred_cpu
            write_frame(4, reply)
            began = time.process_time()
            child_cpu = self._after_candidate(session, spare["pid"], status)
            result = reply.get("result")
            own = result.get("cpu_self") if isinstance(result, dict) else None
            spare = self._fork_spare(session)
            if spare is None:
                return
            # The child's own CPU it did not report (its exit, above all), and ours.
            self.deferred_cpu = time.process_time() - began + (
                max(0.0, child_cpu - float(own)) if status is None
                and isinstance(own, (int, float)) else 0.0)

    def _fork_spare(self, session: Any) -> dict[str, Any] | None:  # pragma: no cover
        """Fork the child that will run the next candidate; it waits for its request
        on a pipe of its own (`_spare_child`). None in the child."""
        req_r, req_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        _flush_std_streams()
        pid = os.fork()
        if pid == 0:
            for fd in (req_w, out_r, res_r):
                os.close(fd)
            self._spare_child(session, req_r, out_w, res_w)
            return None
        for fd in (req_r, out_w, res_w):
            os.close(fd)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        return {"pid": pid, "req": req_w, "out": out_r, "res": res_r}

    def _session_candidate(self, spare: Mapping[str, Any], req: Mapping[str, Any]
                           ) -> tuple[dict[str, Any], int | None]:  # pragma: no cover
        """Give one candidate to the spare child and watch it (as `run` does), until
        it has written its record (or exits, or runs out of time); its process group
        is killed before this returns. Returns the reply and the child's wait status
        (None: not reaped yet)."""
        timeout = float(req["timeout"])
        own_cpu = time.process_time()
        start = time.monotonic()
        pid = spare["pid"]
        try:
            write_frame(spare["req"], req)
        except OSError:
            pass  # the spare is gone: its exit status and output say why
        finally:
            os.close(spare["req"])
        status, timed_out, output, result = self._watch(pid, spare["out"], spare["res"],
                                                        start + timeout, until_result=True)
        duration = time.monotonic() - start
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        parsed = None
        if result:
            try:
                parsed = json.loads(result)
            except ValueError:
                parsed = None
        reaped = status
        cpu = self.cpu if status is not None else 0.0
        if isinstance(parsed, dict) and isinstance(parsed.get("stale"), str):
            return {"refused": parsed["stale"]}, reaped
        if status is None and isinstance(parsed, dict) and not timed_out:
            # It wrote its whole record and closed it: its exit status is the one
            # that record gives (`_candidate_done`), and it dies of SIGKILL meanwhile.
            code = parsed.get("exit")
            status = (int(code) & 0xFF) << 8 if isinstance(code, int) else None
            own = parsed.get("cpu_self")
            cpu = float(own) if isinstance(own, (int, float)) else 0.0
        if status is not None and os.WIFEXITED(status) \
                and os.WEXITSTATUS(status) == fastpath.EXIT_TEST_LIMIT:
            timed_out = True
        return {"status": status, "timed_out": timed_out, "duration": duration,
                "output": output.decode("utf-8", "replace"), "result": parsed,
                "swept": True, "cpu": cpu + time.process_time() - own_cpu}, reaped

    def _after_candidate(self, session: Any, pid: int,
                         status: int | None) -> float:  # pragma: no cover - session process
        """What is left of a candidate once its reply is out: reap its child, sweep
        whatever else of it lives, and empty the scratch dirs (whatever modes it
        left there); a sweep that fails ends this process (see `_serve_session`).
        Returns the CPU seconds of the child reaped here (0 if it was reaped before)."""
        child_cpu = 0.0
        if status is None:
            self._wait(pid)
            child_cpu = self.cpu
        swept = True
        if self.session_init:
            swept = confine.sweep_as_init()
        # Usually nothing of the candidate is left, and looking costs less than the
        # sweep's probe fork.
        elif self.session_sweeps and confine.uid_alive(os.getuid(), but=os.getpid()) is not False:
            swept = confine.sweep_peers()
        if not swept:
            sys.stderr.write("processes of a candidate could not all be killed\n")
            sys.stderr.flush()
            os._exit(_EXIT_SETUP)
        for d in (session.work, session.tmp):
            if os.path.islink(d) or not d.is_dir():
                # Only where the session's own directory is its uid's (no uid of its
                # own): a candidate replaced it.
                try:
                    os.unlink(d)
                except OSError:
                    shutil.rmtree(d, ignore_errors=True)
                d.mkdir(mode=0o755)
            else:
                os.chmod(d, 0o755)
                _empty(d)
        return child_cpu

    def _spare_child(self, session: Any, req_r: int, out_w: int,
                     res_w: int) -> None:  # pragma: no cover - the candidate child
        """Become the next candidate's child: take the bundle's files, cwd and
        environment as the handoff holds them, wait for the request, then confine
        this child, write what the candidate changes and make its code current
        (`_enter_candidate`). Returns only to run the tests; any failure ends the
        child as a crash (or, for Stale, a refusal)."""
        try:
            os.setpgid(0, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.dup2(res_w, 3)
            config = session.session.config
            from _pytest.faulthandler import fault_handler_stderr_fd_key

            handler_fd = config.stash.get(fault_handler_stderr_fd_key, None)
            # The session process's request pipe was fd 3 (replaced just now) and its
            # reply pipe is fd 4: neither stays reachable. Its other descriptors are
            # pytest's (log file, fault handler), and the fault handler gets our stderr.
            os.close(4)
            if isinstance(handler_fd, int) and handler_fd > 4:
                os.dup2(2, handler_fd)
            for fd in (out_w, res_w):
                if fd > 4 and fd != handler_fd:
                    os.close(fd)
            self.host.prepare(session.work, session.tmp, session.files)
            req = read_frame(req_r)
            os.close(req_r)
            if not isinstance(req, dict):
                os._exit(0)  # the session closed: nothing to run
        except BaseException:
            _write_traceback()
            os._exit(_EXIT_SETUP)
        self._enter_candidate(session, req)

    def _enter_candidate(self, session: Any,
                         req: Mapping[str, Any]) -> None:  # pragma: no cover - the child
        """Confine this child further, write the candidate's files and make its code
        current; any failure here ends the child as a crash (or, for Stale, a refusal)."""
        began = time.perf_counter()
        try:
            confine.limit_resources(float(req["timeout"]),
                                    processes=self.uid_mode != "none" or self.session_init)
            files = req["files"]
            for rel in set(session.files) - set(files):
                try:
                    os.unlink(session.work / rel)
                except FileNotFoundError:
                    pass
            self.host.write_files(session.work, {rel: text for rel, text in files.items()
                                                 if session.files.get(rel) != text})
            plugin = self.host.session_plugin
            plugin.outcomes = {}
            plugin.durations = {}
            cov = None
            if req.get("coverage"):
                cov = self.host.coverage.Coverage(
                    data_file=None, config_file=False, include=[str(session.work / "*")],
                    messages=False)
                cov.set_option("run:disable_warnings",
                               ["no-data-collected", "module-not-measured",
                                "module-not-imported", "no-ctracer"])
            plugin._coverage = cov
            plugin._measuring = False
            # Per-test coverage needs pytest's hooks around each test.
            session.record = plugin if cov is None else None
            self.cand = {"coverage": cov, "files": dict(files),
                         "tests": session.tests, "began": began, "pid": os.getpid()}
            session.finish = self._lean_finish
            session.enter(files, first=list(req.get("first") or ()),
                          stop=bool(req.get("stop")), test_limit=float(req.get("test_limit") or 0))
            self.cand["entered"] = time.perf_counter()
        except fastpath.Stale as exc:
            _write_all(3, json.dumps({"stale": str(exc)}).encode("utf-8"))
            os._exit(0)
        except BaseException:
            _write_traceback()
            os._exit(_EXIT_SETUP)

    def _lean_finish(self, exit_code: int) -> None:  # pragma: no cover - the candidate child
        """A lean screening child's end (see `fastpath.Session.lean`): its record
        to fd 3, and exit; a process a test forked that came back here just exits."""
        code = _EXIT_SETUP
        try:
            if os.getpid() != self.cand["pid"]:
                code = 0
                return
            data: dict[str, Any] = self.host.session_plugin.data()
            data["exit"] = exit_code
            code = self._candidate_done(data)
        except BaseException:
            _write_traceback()
        finally:
            os._exit(code)

    def _candidate_done(self, data: dict[str, Any]) -> int:  # pragma: no cover - child
        """A session's candidate child, back from pytest: its record to fd 3."""
        cand = self.cand
        ended = time.perf_counter()
        plugin = self.host.session_plugin
        if cand["coverage"] is not None:
            plugin.stop_coverage()
            data["coverage"] = candidate._per_test_lines(
                cand["coverage"], Path(os.getcwd()), cand["files"], cand["tests"],
                plugin.outcomes)
        data["timing"] = {"setup": cand["entered"] - cand["began"],
                          "pytest": ended - cand["entered"],
                          "after": time.perf_counter() - ended}
        data["cpu_self"] = time.process_time()
        sys.stdout.flush()
        sys.stderr.flush()
        _write_all(3, json.dumps(data, separators=(",", ":")).encode("utf-8"))
        os.close(3)
        return int(data["exit"])

    # ------------------------------------------------------------ the child

    def _confine(self, uid: int, timeout: float) -> bool:  # pragma: no cover - in a child
        """Limits, no_new_privs, and the candidate's uid (when this server can hand
        out one): what every candidate child gets, and the isolation probe's child
        too. Returns whether the process limit is in force; raises OSError when the
        system refuses a step that matters."""
        dropping = self.uid_mode != "none"
        nproc = confine.limit_resources(timeout, processes=dropping or self.own_pidns)
        confine.prctl(confine.PR_SET_NO_NEW_PRIVS, 1)
        if dropping:
            confine.drop_to(uid, keep_read_search=self.uid_mode == "ephemeral+read")
        os.umask(0o022)
        return nproc

    def _child(self, req: Mapping[str, Any], run_dir: Path, uid: int, out_w: int,
               res_w: int) -> None:  # pragma: no cover - runs in the forked child
        """Confine this process and run the candidate; never returns. Anything that
        fails before the result is written exits 70 with its traceback in the output."""
        code = _EXIT_SETUP
        try:
            _child_descriptors(out_w, res_w)
            work, tmp = run_dir / "work", run_dir / "tmp"
            for d in (work, tmp):
                d.mkdir(mode=0o755)
                if self.uid_mode != "none":
                    # Only root can give them away; otherwise they are already the
                    # candidate's (its uid is this server's).
                    os.chown(d, uid, uid)
            self._confine(uid, float(req["timeout"]))
            data = self.host.run(work, tmp, req["files"], list(req["tests"]),
                                 coverage=bool(req.get("coverage")))
            code = int(data["exit"])
            sys.stdout.flush()
            sys.stderr.flush()
            _write_all(3, json.dumps(data, separators=(",", ":")).encode("utf-8"))
            os.close(3)
        except BaseException:
            _write_traceback()
        finally:
            os._exit(code)


def _empty(directory: Path, keep: Path | None = None) -> None:
    """Remove everything inside `directory` but `keep`, whatever it is and whatever
    its modes (a directory its owner made unreadable is opened up first); other
    errors are ignored."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for name in entries:
        path = directory / name
        if keep is not None and path == keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            if os.path.lexists(path):
                _open_tree(str(path))
                shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                pass


def _drain_for(fd: int, buf: bytearray, deadline: float) -> None:
    """Read what is left in pipe `fd` into `buf` (its tail kept) until end of stream
    or `deadline`: what a process wrote just before it died."""
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0 and sel.select(left):
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            if len(buf) > 2 * OUTPUT_LIMIT:
                del buf[:-OUTPUT_LIMIT]


def _open_tree(top: str) -> None:
    """Give the owner every right on `top` and each directory under it (a candidate
    of this server's uid may have taken them away); errors are ignored."""
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            os.chmod(d, 0o700)
            with os.scandir(d) as entries:
                stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue


def _child_descriptors(out_w: int, *keep: int) -> None:  # pragma: no cover - in a child
    """In a child just forked by the server: its own process group, SIGPIPE ignored,
    stdin from /dev/null, stdout and stderr to `out_w`, `keep` as descriptors 3, 4, ...
    in order, and every other descriptor closed."""
    # Parent and child both set the group, whoever runs first (setsid would fail if
    # the parent's setpgid came first).
    os.setpgid(0, 0)
    # As in any Python process (the server itself dies on SIGPIPE instead).
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    for target, fd in enumerate(keep, start=3):
        os.dup2(fd, target)
    # Nothing of the server's (its control pipe above all) stays reachable.
    os.closerange(3 + len(keep), resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _flush_std_streams() -> None:
    """Empty the server's stdout and stderr buffers (to /dev/null and the server's
    log) so that no forked child inherits anything of them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def parse_args(args: Sequence[str]) -> dict[str, Any] | None:
    """``--scratch DIR [--probe] [--own-pidns] [--guard DIR]... [--daemon PID:PIDNS:NETNS]``
    as a dict, or None when malformed."""
    out: dict[str, Any] = {"scratch": None, "probe": False, "own_pidns": False, "guards": [],
                           "daemon": {}}
    items = list(args)
    while items:
        flag = items.pop(0)
        if flag in ("--probe", "--own-pidns"):
            out[flag[2:].replace("-", "_")] = True
        elif flag in ("--scratch", "--guard", "--daemon") and items:
            value = items.pop(0)
            if flag == "--scratch":
                out["scratch"] = value
            elif flag == "--guard":
                out["guards"].append(value)
            else:
                try:
                    pid, pid_ns, net_ns = (int(v) for v in value.split(":"))
                except ValueError:
                    return None
                out["daemon"] = {"pid": pid, "pid_ns": pid_ns, "net_ns": net_ns}
        else:
            return None
    return out if out["scratch"] else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the server script. Stdin and stdout carry the protocol and
    are moved off fds 0 and 1 at once, so that nothing printed can corrupt it."""
    parsed = parse_args(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        sys.stderr.write("usage: sandbox.py --scratch DIR [--probe] [--own-pidns] "
                         "[--guard DIR]... [--daemon PID:PIDNS:NETNS]\n")
        return 2
    # Run dirs are made 0755 for the candidates' uids to enter: whatever umask the
    # daemon had when it started this server must not take that away.
    os.umask(0o022)
    scratch = Path(parsed["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    ctl_in = os.dup(0)
    ctl_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        Server(ctl_in, ctl_out, scratch, own_pidns=parsed["own_pidns"], guards=parsed["guards"],
               daemon=parsed["daemon"]).serve(probe_only=parsed["probe"])
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _write_traceback() -> None:  # pragma: no cover - forked children
    """A forked child's traceback to its stderr, whatever state stderr is in (the
    child exits at once after it, by `os._exit`)."""
    try:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
    except BaseException:
        pass
