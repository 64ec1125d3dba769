"""The bubblewrap command line that hosts the sandbox's fork server.

What the server (and so every candidate) sees: new pid, network, ipc and uts
namespaces; read-only binds of the system directories, the interpreter, its
site-packages and the five files the server runs from this repository, and nothing
else of the host (no /home, no /root but the interpreter, no state directory); a
private tmpfs at /tmp, bounded in size, for the scratch directories; and only the
capabilities the server needs to hand each candidate its own uid.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from repair import sandbox

SCRIPT = str(Path(sandbox.__file__).resolve())
# What the server runs from the repository: bound one by one, nothing else of it.
_SERVER_FILES = tuple(str(Path(SCRIPT).with_name(name)) for name in
                      ("sandbox.py", "confine.py", "candidate.py", "pytest_plugin.py",
                                                 "fastpath.py"))
_SCRATCH_TMPFS_BYTES = sandbox.SCRATCH_TMPFS_BYTES
# Capabilities the server keeps inside bwrap: change uid, chown the scratch dirs to
# the candidate, signal it, and remove whatever it left whatever the modes.
_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def bwrap_argv(python: str, scratch_size: int = _SCRATCH_TMPFS_BYTES) -> list[str] | None:
    """The bwrap command line that hosts the server, or None if bwrap is not on PATH.

    Everything is read-only except a private tmpfs at /tmp of `scratch_size` bytes
    (where the server makes the candidates' scratch dirs, root-owned 0755 so that a
    candidate can write only into its own). Parents of bound paths are created 0755
    so that an unprivileged uid can reach e.g. an interpreter under /root.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for cap in _CAPS:
        argv += ["--cap-add", cap]
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    # The private /tmp comes before the binds, so that a checkout or virtualenv
    # under /tmp is bound on top of it rather than hidden by it.
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "0755", "--size", str(scratch_size), "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/tmp", "/dev", "/proc"}
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
    return argv


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
