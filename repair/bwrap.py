"""The bubblewrap command line that hosts the sandbox's fork server.

What the server (and so every candidate) sees: new pid, network, ipc and uts
namespaces; read-only binds of the system directories, the interpreter, its
site-packages and the five files the server runs from this repository, and nothing
else of the host (no /home, no /root but the interpreter, no state directory); a
private tmpfs at /tmp, bounded in size, for the scratch directories; and, when the
daemon runs as root, only the capabilities the server needs to hand each candidate
its own uid (as any other user: its own user namespace and no capability).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from repairlab.repair import sandbox

SCRIPT = str(Path(sandbox.__file__).resolve())
# What the server runs from the repository: bound one by one, nothing else of it.
_SERVER_FILES = tuple(str(Path(SCRIPT).with_name(name)) for name in
                      ("sandbox.py", "confine.py", "candidate.py", "pytest_plugin.py",
                                                 "fastpath.py"))
_SCRATCH_TMPFS_BYTES = sandbox.SCRATCH_TMPFS_BYTES
# Where the server's scratch dirs live inside the box (its own tmpfs), and the size
# of the box's /tmp around it, which holds only mount points and stays read-only.
SCRATCH_IN_BOX = "/tmp/repairlab"
_TMP_BYTES = 1024 * 1024
# Capabilities the server keeps inside bwrap: change uid, chown the scratch dirs to
# the candidate, signal it, and remove whatever it left whatever the modes.
_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def bwrap_argv(python: str, scratch_size: int = _SCRATCH_TMPFS_BYTES) -> list[str] | None:
    """The bwrap command line that hosts the server, or None if bwrap is not on PATH.

    Everything is read-only except a private tmpfs at /tmp/repairlab of
    `scratch_size` bytes (where the server makes the candidates' scratch dirs,
    root-owned 0755 so that a candidate can write only into its own). Parents of
    bound paths are created 0755 so that an unprivileged uid can reach e.g. an
    interpreter under /root. The box's own root, /tmp and /dev are remounted
    read-only at the end: for a non-root daemon its candidates have the box's uid,
    and nothing outside the scratch dirs may carry over from one candidate to the next.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if os.geteuid() == 0:
        for cap in _CAPS:
            argv += ["--cap-add", cap]
    else:
        # A non-root daemon cannot hand out uids: its candidates run as its own uid
        # in a user namespace of their own (where the kernel counts RLIMIT_NPROC),
        # with no capability at all, and the namespaces above are their isolation.
        argv += ["--unshare-user"]
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    # The private /tmp comes before the binds, so that a checkout or virtualenv
    # under /tmp is bound on top of it rather than hidden by it.
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "0755", "--size", str(_TMP_BYTES), "--tmpfs", "/tmp",
             "--perms", "0755", "--size", str(scratch_size), "--tmpfs", SCRATCH_IN_BOX]
    made: set[str] = {"/", "/tmp", "/dev", "/proc", SCRATCH_IN_BOX}
    binds = sorted({os.path.realpath(p) for p in _interpreter_paths(python)})
    for path in [*binds, *_SERVER_FILES]:
        if any(path == b or path.startswith(b.rstrip("/") + "/") for b in _SYSTEM_DIRS):
            continue
        parents = list(reversed(Path(path).parents))
        for parent in map(str, parents):
            if parent not in made:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", path, path]
        made.add(path)
    return [*argv, "--remount-ro", "/", "--remount-ro", "/tmp", "--remount-ro", "/dev"]


def _interpreter_paths(python: str) -> list[str]:
    """Directories the interpreter and its packages live in, outermost first, with
    nested ones dropped (binding a parent covers them)."""
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(python)), os.path.dirname(os.path.abspath(python))}
    found.update(site.getsitepackages())
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            found.add(path)
    real = sorted({os.path.realpath(p) for p in found if p and os.path.isdir(p)})
    kept: list[str] = []
    for path in real:
        if not any(path.startswith(k.rstrip("/") + "/") or path == k for k in kept):
            kept.append(path)
    return kept
