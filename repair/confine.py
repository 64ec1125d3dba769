"""Confining one candidate process: its own uid, its limits, and sweeping it away.

Used inside the sandbox by the fork server (repair/sandbox.py), which loads this
file by path: it imports only the standard library, so that nothing of repairlab's
lands in the server's modules, where a bundle's module of the same name would
find it. Each function here works, or raises OSError, or says in its return value
that the system refused; none waits without bound.
"""

from __future__ import annotations

import ctypes
import math
import os
import random
import resource
import signal
import time
from collections.abc import Sequence
from typing import Any

GIB = 1024**3
ADDRESS_SPACE = 2 * GIB
FILE_SIZE = 64 * 1024 * 1024
OPEN_FILES = 256
PROCESSES = 128
# Far above login users and the usual container subuid ranges (100000-165535...).
UID_RANGE = (1_000_000_000, 1_500_000_000)
# Sweeping leftovers is bounded: a uid under RLIMIT_NPROC cannot outgrow SIGKILL
# for long, and a sweeper that gave up is reported rather than waited on forever.
SWEEP_ROUNDS = 3000

PR_SET_DUMPABLE = 4
_PR_SET_KEEPCAPS = 8
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_CAP_DAC_READ_SEARCH = 2
_CAP_VERSION_3 = 0x20080522


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def prctl(option: int, arg: int = 0) -> None:
    """prctl(2) with one argument; raises OSError when the kernel refuses."""
    if _libc().prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                     ctypes.c_ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def drop_to(uid: int, *, keep_read_search: bool = False) -> None:
    """Become `uid` (and gid `uid`, no supplementary groups) for good.

    With `keep_read_search`, keep CAP_DAC_READ_SEARCH (also across exec) and nothing
    else: used only outside bubblewrap when the interpreter lives where an unknown
    uid cannot read (e.g. under /root), so imports keep working while writes outside
    the scratch directory still fail. Raises OSError when the system refuses.
    """
    if keep_read_search:
        prctl(_PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if keep_read_search:
        header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
        bit = 1 << _CAP_DAC_READ_SEARCH
        # effective, permitted, inheritable for caps 0-31, then 32-63.
        data = (ctypes.c_uint32 * 6)(bit, bit, bit, 0, 0, 0)
        if _libc().capset(header, data) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        prctl(_PR_SET_KEEPCAPS, 0)
        libc = _libc()
        libc.prctl(_PR_CAP_AMBIENT, ctypes.c_ulong(_PR_CAP_AMBIENT_RAISE),
                   ctypes.c_ulong(_CAP_DAC_READ_SEARCH), ctypes.c_ulong(0), ctypes.c_ulong(0))


def drop_capabilities() -> None:
    """Give up every capability (effective, permitted, inheritable, hence ambient):
    what a process holds in a user namespace it made, which it must not pass on.
    Raises OSError when the kernel refuses."""
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(0, 0, 0, 0, 0, 0)
    if _libc().capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def enter_pid_namespace() -> None:
    """Make this (single-threaded, unprivileged) process's own user and pid
    namespaces and return as pid 1 of the pid namespace, in a child; this process
    stays behind only to wait for it and exit with its status, and never returns.

    Killing the process left behind kills the child (its parent-death signal is
    SIGKILL), and the death of a pid namespace's first process kills everything in
    the namespace: one SIGKILL from outside ends all that ever ran in it. Inside, a
    process cannot see, let alone signal, any process outside, nor send pid 1 a
    signal it does not handle (SIGKILL, SIGSTOP above all). The user namespace maps
    only this process's own uid and gid onto themselves, and the capabilities it
    gives are dropped in both processes before this returns. Raises OSError (and
    nothing changed) when the system refuses the namespaces; any later failure ends
    the process with status 70.
    """
    uid, gid = os.geteuid(), os.getegid()
    if _libc().unshare(ctypes.c_int(_CLONE_NEWUSER | _CLONE_NEWPID)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER|CLONE_NEWPID): {os.strerror(err)}")
    # Only a dumpable process may write its own maps (nothing but our own code runs
    # in the meantime, and it is not dumpable again before anything else does).
    prctl(PR_SET_DUMPABLE, 1)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"),
                       ("gid_map", f"{gid} {gid} 1\n")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as fh:
            fh.write(text)
    prctl(PR_SET_DUMPABLE, 0)
    lifeline_r, lifeline_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(lifeline_w)
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The waiter may have died before the line above: then the pipe is at EOF.
        os.set_blocking(lifeline_r, False)
        try:
            if os.read(lifeline_r, 1) == b"":
                os._exit(70)
        except BlockingIOError:
            pass
        os.close(lifeline_r)
        drop_capabilities()
        prctl(PR_SET_DUMPABLE, 0)
        return
    code = 70
    try:
        # The waiter holds nothing of its child's but the lifeline.
        os.closerange(0, lifeline_w)
        os.closerange(lifeline_w + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        drop_capabilities()
        prctl(PR_SET_DUMPABLE, 0)
        while True:
            try:
                _, status = os.waitpid(child, 0)
            except InterruptedError:
                continue
            code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 70
            break
    finally:
        os._exit(code)


def sweep_as_init(rounds: int = SWEEP_ROUNDS) -> bool:
    """As pid 1 of a pid namespace of our own (`enter_pid_namespace`): SIGKILL every
    other process in it and reap them, until ``kill(-1)`` finds none (every one of
    them has this uid and no capability, so each one found is signalled). False if
    some survived `rounds` tries."""
    for _ in range(rounds):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            reap_nohang()
            return True
        except OSError:
            pass
        reap_nohang()
        time.sleep(0.0005)
    return False


def isolate_network() -> bool:
    """Move this process (and so every child it forks later) into a new, empty
    network namespace: no interface but a loopback that is down. Needs root
    (CAP_SYS_ADMIN); False when the system refuses, and nothing changes."""
    clone_newnet = 0x40000000
    return bool(_libc().unshare(ctypes.c_int(clone_newnet)) == 0)


def private_temp_dirs(size: int, keep: Sequence[str] = ()) -> bool:
    """Without bwrap, still keep candidates from writing to the world-writable
    places (/tmp, /var/tmp, /dev/shm): in a new mount namespace of this process,
    mount a private, root-owned 0755 tmpfs of `size` bytes over each. The host's
    directories are untouched. Directories of `keep` that lie under one of them
    (an interpreter or virtualenv under /tmp, say) are bound back, read-only, at
    the same place. Needs root; False when the system refuses (then nothing
    changed, or only the namespace was made, which changes nothing)."""
    clone_newns, ms_rec, ms_private, ms_nosuid, ms_nodev = 0x00020000, 0x4000, 1 << 18, 2, 4
    ms_bind, ms_remount, ms_rdonly = 0x1000, 0x20, 1
    libc = _libc()
    if libc.unshare(ctypes.c_int(clone_newns)) != 0:
        return False
    # Nothing mounted here may propagate back to the host's namespace.
    if libc.mount(b"none", b"/", None, ctypes.c_ulong(ms_rec | ms_private), None) != 0:
        return False
    options = f"mode=0755,size={size}".encode()
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        if not os.path.isdir(d):
            continue
        inside = sorted({os.path.realpath(k) for k in keep
                         if os.path.realpath(k).startswith(d + "/") and os.path.isdir(k)})
        # Held open across the mount: the paths themselves vanish under the tmpfs.
        held = [(k, os.open(k, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for k in inside]
        try:
            if libc.mount(b"tmpfs", d.encode(), b"tmpfs", ctypes.c_ulong(ms_nosuid | ms_nodev),
                          options) != 0:
                return False
            for path, fd in held:
                os.makedirs(path, mode=0o755, exist_ok=True)
                source = f"/proc/self/fd/{fd}".encode()
                if libc.mount(source, path.encode(), None, ctypes.c_ulong(ms_bind | ms_rec),
                              None) != 0:
                    return False
                libc.mount(None, path.encode(), None,
                           ctypes.c_ulong(ms_remount | ms_bind | ms_rdonly), None)
        finally:
            for _, fd in held:
                os.close(fd)
    return True


def pick_uid() -> int:
    """A fresh uid for one candidate (collisions are a 1 in 500 million chance)."""
    return random.SystemRandom().randrange(*UID_RANGE)


def sweep_uid_here(rounds: int = SWEEP_ROUNDS) -> bool:
    """Running as the candidate's uid: SIGKILL every other process of this uid until
    none is left. False if some survived `rounds` tries.

    The return value of ``kill(-1)`` cannot say whether any target was left (it
    counts processes it may not signal too), so "none left" is asked of the kernel's
    own per-uid process count: with RLIMIT_NPROC at 2, a fork succeeds only when
    this process is the uid's only one (zombies count until reaped, as they should).
    """
    resource.setrlimit(resource.RLIMIT_NPROC, (2, 2))
    return _kill_until_alone(rounds, reap=False)


def sweep_peers(rounds: int = SWEEP_ROUNDS) -> bool:
    """Like `sweep_uid_here`, for a process that must outlive the sweep (a bundle's
    session process, unprivileged, between two candidates of its own uid): SIGKILL
    every *other* process of this uid until none is left (``kill(-1)`` never
    signals the caller). Only the soft RLIMIT_NPROC is lowered for the probe, and
    put back. False if some survived `rounds` tries."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (2, hard))
    try:
        return _kill_until_alone(rounds, reap=True)
    finally:
        resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))


def _kill_until_alone(rounds: int, *, reap: bool) -> bool:
    """SIGKILL every other process of this uid, up to `rounds` times, until a probe
    fork succeeds under RLIMIT_NPROC 2 (this process is then the uid's only one).
    With `reap`, this process's own dead children are reaped between tries."""
    for _ in range(rounds):
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        if reap:
            reap_nohang()
        try:
            probe = os.fork()
        except BlockingIOError:
            time.sleep(0.001)
            continue
        if probe == 0:  # pragma: no cover - the probe itself
            os._exit(0)
        os.waitpid(probe, 0)
        return True
    return False


def reap_nohang(watch: int = 0) -> tuple[int, float] | None:
    """Reap every exited child; if `watch` was one, return its wait status and the
    CPU seconds it (and the children it reaped) used."""
    found: tuple[int, float] | None = None
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == watch:
            found = (status, usage.ru_utime + usage.ru_stime)


def limit_resources(timeout: float, *, processes: bool) -> bool:
    """Set the candidate's hard limits (must run before dropping root). A limit the
    system refuses is skipped: the others and the timeout still hold. Returns
    whether the process limit (RLIMIT_NPROC) is in force.

    `processes` only where the kernel counts this process's uid for the candidate
    alone: an ephemeral uid, or a user namespace of the sandbox's own (bwrap run by
    a non-root daemon; the kernel counts per namespace there). Set on the daemon's
    own uid outside one, it would count the daemon's threads too."""
    cpu = math.ceil(timeout) + 1
    limits = [
        (resource.RLIMIT_AS, ADDRESS_SPACE, ADDRESS_SPACE),
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, FILE_SIZE, FILE_SIZE),
        (resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if processes:
        limits.append((resource.RLIMIT_NPROC, PROCESSES, PROCESSES))
    nproc = False
    for res, soft, hard in limits:
        try:
            resource.setrlimit(res, (soft, hard))
        except (ValueError, OSError):
            continue
        nproc = nproc or res == resource.RLIMIT_NPROC
    return nproc


def sweep_namespace(rounds: int = SWEEP_ROUNDS, *, spare: int = 0) -> bool:
    """In a pid namespace of the sandbox's own (bwrap run by a non-root daemon,
    where every candidate runs as the server's uid): SIGKILL every process but
    pid 1 (bwrap's init) and this one, reaping what is reparented here, until none
    is left. With `spare`, that process and all its descendants live on too (an
    open session: the waiter of `enter_pid_namespace`, the pid 1 of its namespace
    and what that one forked, which it sweeps itself). False if some survived
    `rounds` tries."""
    me = os.getpid()
    for _ in range(rounds):
        reap_nohang()
        try:
            others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me)]
        except OSError:
            return False
        if spare:
            parents = {pid: _parent(pid) for pid in others}
            kept = {spare}
            grew = True
            while grew:
                grew = False
                for pid, parent in parents.items():
                    if parent in kept and pid not in kept:
                        kept.add(pid)
                        grew = True
            others = [pid for pid in others if pid not in kept]
        if not others:
            return True
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)
    return False


def _parent(pid: int) -> int:
    """The parent pid of `pid` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return 0
    try:
        return int(stat[stat.rindex(b")") + 2:].split()[1])
    except (ValueError, IndexError):
        return 0


def namespace_inode(kind: str) -> int:
    """The inode of this process's `kind` namespace ("pid", "net", "mnt"); 0 if
    /proc cannot say."""
    try:
        return os.stat(f"/proc/self/ns/{kind}").st_ino
    except OSError:
        return 0


def uid_alive(uid: int, most: int = 256, *, but: int = 0) -> bool | None:
    """Whether any process visible in /proc (other than pid `but`) has real uid
    `uid`; None if /proc cannot be read or lists more than `most` processes
    (reading them all would cost more than sweeping: outside our own pid
    namespace), so the caller sweeps."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit() and name != str(but)]
    except OSError:
        return None
    if len(pids) > most:
        return None
    prefix = f"Uid:\t{uid}\t"
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if line.startswith(prefix):
                            return True
                        break
        except OSError:
            continue  # it exited meanwhile
    return False
