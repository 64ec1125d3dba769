"""Whether the state root can be written: a full, over-quota or read-only filesystem.

Such a condition belongs to the state root, not to the handoff being written when
it showed: the handoff is handed back untouched (it is never counted as the
bundle's failure), the watcher pauses claiming, probes the root until a small file
can be written and fsynced again, then resumes. `status` reads the same condition
from `statvfs` alone, without writing anything.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from repairlab.messages.reports import DiskStatus

# errno -> the condition's name in logs and `status --json` (`disk.problem`)
CONDITIONS = {errno.ENOSPC: "full", errno.EDQUOT: "over quota", errno.EROFS: "read-only"}
PROBE_BYTES = 4096
# Below this much free space (or with no free inode) the root counts as full for
# `status` and the watcher probes it for real.
LOW_WATER_BYTES = 64 * 1024


def disk_condition(exc: BaseException | None) -> str | None:
    """'full', 'over quota' or 'read-only' when `exc` (or the error it was raised
    from) is an OSError saying so; None for any other error."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in CONDITIONS:
            return CONDITIONS[exc.errno]
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def probe(root: Path, instance: str) -> OSError | None:
    """Try to create, write, fsync and remove a small file in `root`. Returns the
    error that stopped it (None: the root is writable). Never raises OSError."""
    path = root / f".probe-{instance}-{os.getpid()}.tmp"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except OSError as exc:
        return exc
    try:
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink(path)
        return exc
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc
    return None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def disk_status(root: Path) -> DiskStatus:
    """Free space, free inodes and the read-only flag of the filesystem holding
    `root`, and the problem they show ('full', 'read-only' or None). Reads only.
    If `statvfs` itself fails, the problem names its error."""
    try:
        st = os.statvfs(root)
    except OSError as exc:
        return DiskStatus(problem=f"cannot tell: {exc.strerror}")
    free = st.f_bavail * st.f_frsize
    inodes = st.f_favail if st.f_files else None
    read_only = bool(st.f_flag & os.ST_RDONLY)
    problem = None
    if read_only:
        problem = "read-only"
    elif free < LOW_WATER_BYTES or inodes == 0:
        problem = "full"
    return DiskStatus(problem=problem, free_bytes=free, free_inodes=inodes,
                      read_only=read_only)


def looks_unwritable(root: Path) -> bool:
    """A cheap hint (no I/O beyond statvfs) that `probe` is worth running."""
    return disk_status(root).problem is not None


def describe(problem: str, exc: BaseException | None) -> str:
    """`full (No space left on device)`: the condition and the error that showed it."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{problem} ({exc.strerror})"
    return problem

