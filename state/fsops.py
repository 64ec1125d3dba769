"""Atomic, symlink-safe file operations.

Every write under the state root goes through here: a temporary file beside the
target, fsync, rename, fsync of the directory. Every move that must not overwrite
uses `renameat2(RENAME_NOREPLACE)`, falling back to link-and-unlink for files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from repairlab.faults import inject

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries durable. Errors other than EINVAL propagate."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # some filesystems cannot fsync directories
            raise
    finally:
        os.close(fd)


def write_temp(tmp: Path, data: bytes, *, point: str, durable: bool = True) -> None:
    """Create `tmp` (exclusively, never through a symlink, mode 0600) holding all
    of `data`, fsynced when `durable`. On any error `tmp` is removed and the error
    propagates: nothing half-written is left behind."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            inject(point)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write(path: Path, data: bytes, *, durable: bool = True, point: str = "write") -> None:
    """Write `data` to `path` whole or not at all.

    A reader sees the old file or the new one, never a half one. With `durable`,
    the file and its directory are fsynced before this returns. On any error the
    temporary file is removed and the error propagates.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    write_temp(tmp, data, point=point, durable=durable)
    try:
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)


def write_exclusive(path: Path, data: bytes, *, point: str = "write") -> None:
    """Create `path` holding `data`, whole, only if no file of that name exists.

    The data goes to a temporary file (fsynced), which is then hard-linked as
    `path`: link() refuses an existing name on every filesystem (NFS included),
    so of several writers of one name exactly one succeeds and the others get
    FileExistsError, their own temporary file removed. Nothing is ever
    overwritten. The directory is fsynced before this returns.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    write_temp(tmp, data, point=point)
    try:
        os.link(tmp, path, follow_symlinks=False)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    fsync_dir(path.parent)


def rename_noreplace(src: Path, dst: Path) -> None:
    """Move `src` to `dst`, failing with FileExistsError if `dst` exists.

    Atomic: exactly one of several racing movers of the same `src` succeeds; the
    others get FileNotFoundError and leave nothing behind.

    Where `renameat2(RENAME_NOREPLACE)` is refused (NFS, FUSE, old kernels: EINVAL,
    ENOSYS, EOPNOTSUPP), a file is moved by `link(src, dst)`, which refuses an
    existing `dst` too, then `unlink(src)`. Several movers can each link `src` to
    their own `dst` before any unlinks it; only one unlink of `src` succeeds, and each
    loser removes its own link and gets FileNotFoundError, so exactly one keeps it.
    (The fault point `fsops.renameat2=einval` forces this path.)
    """
    try:
        inject("fsops.renameat2")
        if _renameat2 is None:
            raise OSError(errno.ENOSYS, "renameat2 is not available")
        rc = _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst),
                        _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(src), None, str(dst))
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    _link_then_unlink(src, dst)


def _link_then_unlink(src: Path, dst: Path) -> None:
    """The fallback of `rename_noreplace` (see there)."""
    if os.path.isdir(src) and not os.path.islink(src):
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "exists", str(dst))
        os.rename(src, dst)
        return
    os.link(src, dst, follow_symlinks=False)
    try:
        mine = os.lstat(dst)
        try:
            now_at_src = os.lstat(src)
        except FileNotFoundError:
            now_at_src = None
        # `src` gone, or replaced by another file: another mover was first.
        if now_at_src is None or (now_at_src.st_dev, now_at_src.st_ino) != (
                mine.st_dev, mine.st_ino):
            raise FileNotFoundError(errno.ENOENT, "moved by another", str(src))
        inject("fsops.link_fallback")
        os.unlink(src)  # of several linkers, exactly one unlink succeeds
    except BaseException:
        try:
            os.unlink(dst)  # the loser (or a failed mover) keeps nothing
        except FileNotFoundError:
            pass
        raise


def move_unique(src: Path, directory: Path, name: str) -> Path:
    """Move `src` into `directory` under `name`, or `STEM.N.EXT` if taken.

    Never overwrites. Returns where it went. FileNotFoundError means `src` is
    gone (another instance moved it first).
    """
    for candidate in unique_names(name):
        dst = directory / candidate
        try:
            rename_noreplace(src, dst)
            return dst
        except FileExistsError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def unique_names(name: str) -> Iterator[str]:
    """`name`, then `STEM.1.json`, `STEM.2.json` ... and, past 9999, a random one.

    A suffixed name never exceeds NAME_MAX bytes: the stem is cut (at a character
    boundary) to make room, so a 255-byte name that is taken still gets a unique one
    instead of failing with ENAMETOOLONG forever.
    """
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    yield name
    for i in range(1, 10000):
        yield _fit(stem, f".{i}.{ext}" if ext else f".{i}")
    while True:
        token = uuid.uuid4().hex
        yield _fit(stem, f".{token}.{ext}" if ext else f".{token}")


NAME_MAX = 255


def _fit(stem: str, suffix: str) -> str:
    """`stem + suffix`, the stem shortened so that the whole fits in NAME_MAX bytes."""
    raw = os.fsencode(stem)
    room = NAME_MAX - len(os.fsencode(suffix))
    if len(raw) > room:
        cut = room
        while cut > 0 and raw[cut] & 0xC0 == 0x80:  # do not split a UTF-8 character
            cut -= 1
        stem = os.fsdecode(raw[:cut])
    return stem + suffix


def read_regular_file(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """Read a regular file without following a symlink or blocking on a FIFO.

    Returns at most `limit + 1` bytes (so the caller can tell it is too large)
    and the stat taken before reading. Raises `NotARegularFile` naming what it is,
    `FileChanged` when it changed (or was swapped) while being read,
    FileNotFoundError when it is gone, OSError otherwise.

    Anything but a regular file is refused from `lstat` alone, before any open: opening a
    device can have effects of its own (a tape rewinds, a terminal becomes ours), and a
    FIFO or socket has nothing to read. The open then re-checks that it got the same inode.
    """
    first = os.lstat(path)
    if not stat.S_ISREG(first.st_mode):
        raise NotARegularFile(describe_mode(first.st_mode))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                     | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symlink after the lstat
            raise NotARegularFile("a symbolic link") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # swapped for a socket
            raise NotARegularFile("a socket") from None
        raise
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise NotARegularFile(describe_mode(before.st_mode))
        if (before.st_dev, before.st_ino) != (first.st_dev, first.st_ino):
            raise FileChanged("the file was replaced while it was being opened")
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if _signature(before) != _signature(after):
        raise FileChanged("the file changed while it was being read")
    return b"".join(chunks), before


def _signature(st: os.stat_result) -> tuple[int, int, int]:
    """What changes when a file's content is written: size, mtime, and ctime (which a
    writer cannot set back, unlike the mtime)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def describe_mode(mode: int) -> str:
    """A file type in words, for reason files."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


class NotARegularFile(OSError):
    """The path is a directory, FIFO, device, socket or symlink."""


class FileChanged(OSError):
    """The file's size, mtime or ctime changed while it was read (or it was swapped)."""


def remove_path(path: Path) -> int:
    """Remove a file, symlink or directory tree without following symlinks.
    Returns the bytes freed (regular files only). Missing paths free nothing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if stat.S_ISDIR(st.st_mode):
        freed = 0
        for child in os.scandir(path):
            freed += remove_path(Path(child.path))
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        return freed
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0
