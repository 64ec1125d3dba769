"""The pattern library: known-good top-level definitions, learned from passing bundles.

Layout of the library directory (``<state root>/patterns/``)::

    <tool>:c0001.json          one pattern, msgspec-encoded JSON, immutable once visible
    <tool>:c0002.json
    .by-content/<key>.json     a hard link to the pattern holding that content
    .tmp-<pid>-<token>         a pattern being written (never read as a pattern)

A pattern's id is ``<tool>:c<NNNN>`` and its file name is that id plus ``.json``.
The number is claimed without locks: the pattern is written completely to a temp
file and fsynced, then ``link()``-ed to its final name, which fails with EEXIST
when another writer took that number first (the next number is tried). A link never
overwrites, so two processes can never give one id to two contents, and readers
never see a half-written pattern. Deduplication is by content: the key is the
SHA-256 of tool, kind and the definition's normalized source (``ast.unparse``, so
comments and layout do not count); the ``.by-content`` link is claimed (again with
``link()``) before the number, so concurrent writers of one content store it once.

Every file operation is relative to a directory descriptor opened with
``O_NOFOLLOW``, and every file is opened with ``O_NOFOLLOW``: a symlink planted in
the library is never followed. File names are built only from a validated tool
name and a number, or from a hex digest.

The library is bounded: past `max_stored` patterns (default 5000) the oldest are
pruned, except that each tool's highest-numbered pattern is kept, so that a
number, once given, is never given again to other content (the library thus holds
at most `max_stored` patterns or one per tool, whichever is more). A definition
longer than 64 KiB, or past the 200th of a module, is not learned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from loguru import logger

from repairlab.repair.bundle import Bundle
from repairlab.repair.definitions import (
    Definition,
    definitions,
    imports_used,
    name_similarity,
    normalized_sha256,
    signature_params,
)

TOOL_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_FILE_RE = re.compile(r"(?P<tool>[A-Za-z0-9_.-]{1,128}):c(?P<num>[0-9]{4,9})\.json")
_CONTENT_DIR = ".by-content"
_TMP_PREFIX = ".tmp-"

MAX_STORED = 5000
"""Patterns kept before the oldest are pruned."""
MAX_DEFINITION_CHARS = 64 * 1024
"""A longer definition is not learned: patterns are small, known-good units."""
MAX_DEFINITIONS_PER_BUNDLE = 200
MAX_PATTERN_FILE_BYTES = 256 * 1024
"""A pattern file larger than this is not read (it cannot be one we wrote)."""
STALE_TMP_SECONDS = 3600.0
_MAX_NUMBER_TRIES = 10_000


class Pattern(msgspec.Struct, frozen=True, kw_only=True):
    """One known-good top-level definition and where it came from."""

    schema: str = "repairlab.pattern/1"
    id: str
    tool: str
    name: str
    kind: str  # "function" or "class"
    signature: str  # the parameter list as source, e.g. "text, sep='-'"
    params: tuple[str, ...] = ()
    source: str
    imports: tuple[str, ...] = ()  # top-level imports of its module that it uses
    content_sha256: str  # the deduplication key: tool, kind and normalized source
    code_sha256: str = ""  # kind and normalized source alone, the same across tools
    source_sha256: str  # bundle_sha256 of the passing bundle it came from
    entrypoint: str
    learned_at: str  # RFC 3339 UTC
    learned_ts: float

    @property
    def number(self) -> int:
        """The ``NNNN`` of the id."""
        return int(self.id.rsplit(":c", 1)[1])

    def provenance(self) -> dict[str, str]:
        """What a challenger's `repair_details` says about where this pattern came from."""
        return {
            "pattern_id": self.id,
            "source_sha256": self.source_sha256,
            "source_tool": self.tool,
            "source_entrypoint": self.entrypoint,
            "learned_at": self.learned_at,
        }


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Pattern)


def valid_tool(tool: str) -> bool:
    """True when `tool` is a SPEC tool name (and so safe in a file name)."""
    return TOOL_RE.fullmatch(tool) is not None


def _now_rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class PatternLibrary:
    """A directory of patterns, shared safely by threads and processes.

    `root` is the library directory itself (``<state root>/patterns``); it is
    created (mode 0700) when missing. Raises OSError when it cannot be created or
    opened, and ValueError when it is a symlink. A corrupt or foreign file in the
    library is skipped with one warning, never fatal.
    """

    def __init__(self, root: Path, *, max_stored: int = MAX_STORED) -> None:
        self.root = Path(root)
        self.max_stored = max_stored
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.is_symlink():
            raise ValueError(f"pattern library {self.root} is a symlink")
        self._fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.mkdir(_CONTENT_DIR, 0o700, dir_fd=self._fd)
        except OSError:  # exists (EEXIST, or EROFS on a read-only root): fine if it does
            if not os.path.isdir(self.root / _CONTENT_DIR):
                raise
        self._content_fd = os.open(
            _CONTENT_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
            dir_fd=self._fd,
        )
        self._lock = threading.RLock()
        self._index: dict[str, Pattern] = {}
        self._bad: set[str] = set()

    @classmethod
    def for_state_root(cls, state_root: Path, **kwargs: int) -> PatternLibrary:
        """The library at the SPEC's place, ``<state root>/patterns``."""
        return cls(Path(state_root) / "patterns", **kwargs)

    def close(self) -> None:
        """Release the directory descriptors; the library is unusable afterwards."""
        for fd in (self._content_fd, self._fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PatternLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ---------------------------------------------------------------

    def _read(self, name: str) -> Pattern | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._fd)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symlink planted under a pattern's name
            self._skip(name, f"cannot open: {exc}")
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PATTERN_FILE_BYTES:
                self._skip(name, "not a regular file of sane size")
                return None
            data = os.read(fd, MAX_PATTERN_FILE_BYTES + 1)
        finally:
            os.close(fd)
        try:
            pattern = _DECODER.decode(data)
        except msgspec.DecodeError as exc:
            self._skip(name, f"not a pattern: {exc}")
            return None
        if f"{pattern.id}.json" != name or not valid_tool(pattern.tool):
            self._skip(name, "id does not match its file name")
            return None
        return pattern

    def _skip(self, name: str, why: str) -> None:
        if name not in self._bad:
            self._bad.add(name)
            logger.warning("pattern file {} skipped: {}", name, why)

    def _refresh(self) -> dict[str, Pattern]:
        """Bring the in-memory index up to the directory: files are immutable once
        visible, so only new names are read and vanished ones dropped."""
        with self._lock:
            present: set[str] = set()
            with os.scandir(self._fd) as entries:
                for entry in entries:
                    if _FILE_RE.fullmatch(entry.name):
                        present.add(entry.name)
            for gone in set(self._index) - present:
                del self._index[gone]
            for name in present - set(self._index) - self._bad:
                pattern = self._read(name)
                if pattern is not None:
                    self._index[name] = pattern
            return dict(self._index)

    def patterns(self, tool: str | None = None) -> list[Pattern]:
        """Every stored pattern (of `tool` when given), oldest id first."""
        found = [p for p in self._refresh().values() if tool is None or p.tool == tool]
        return sorted(found, key=lambda p: (p.tool, p.number))

    def get(self, pattern_id: str) -> Pattern | None:
        """The pattern with that id, or None (also for an id that is not well-formed)."""
        name = f"{pattern_id}.json"
        if not _FILE_RE.fullmatch(name):
            return None
        return self._refresh().get(name)

    def __len__(self) -> int:
        return len(self._refresh())

    # ---- learning --------------------------------------------------------------

    def learn(
        self, bundle: Bundle, *, source_sha256: str, now: float | None = None
    ) -> list[Pattern]:
        """Store each top-level definition of `bundle`'s entrypoint not stored yet.

        Call it only with bundles whose tests pass. Returns the patterns added (an
        empty list for a duplicate, an unparsable entrypoint, or an invalid tool
        name, which is logged and not stored). Raises OSError when the directory
        cannot be written; a partial failure leaves no half-written pattern visible.
        """
        if not valid_tool(bundle.tool):
            logger.warning("not learning from tool with invalid name {!r}", bundle.tool[:200])
            return []
        source = bundle.files.get(bundle.entrypoint)
        if source is None:
            return []
        ts = time.time() if now is None else now
        added: list[Pattern] = []
        # A definition whose content the library already holds is not stored again;
        # the in-memory index answers that for most repairs (the same tool repaired
        # again) without touching the store, and `_store` checks it for real.
        with self._lock:
            known = {p.content_sha256 for p in self._index.values()}
        fresh = [(normalized_sha256(d.kind, d.source, bundle.tool), d)
                 for d in definitions(source)[:MAX_DEFINITIONS_PER_BUNDLE]
                 if len(d.source) <= MAX_DEFINITION_CHARS]
        fresh = [(key, d) for key, d in fresh if key not in known]
        if not fresh:
            return []
        number = self._next_number(bundle.tool)
        for key, definition in fresh:
            pattern = self._store(bundle, definition, key, source, source_sha256, ts, number)
            if pattern is not None:
                added.append(pattern)
                number = pattern.number + 1
        if added:
            logger.bind(tool=bundle.tool).info(
                "pattern library learned {}", ", ".join(p.id for p in added)
            )
            self.prune()
        return added

    def _content_claimed(self, key_name: str) -> bool:
        """True when another pattern already holds this content. A claim left by a
        writer that died (its link count fell to 1) is removed and not counted."""
        try:
            st = os.stat(key_name, dir_fd=self._content_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISREG(st.st_mode) and st.st_nlink >= 2:
            return True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(key_name, dir_fd=self._content_fd)
        return False

    def _next_number(self, tool: str) -> int:
        numbers = [p.number for p in self._refresh().values() if p.tool == tool]
        return max(numbers, default=0) + 1

    def _store(
        self, bundle: Bundle, definition: Definition, key: str, module: str,
        source_sha256: str, ts: float, number: int,
    ) -> Pattern | None:
        """Store `definition` (content key `key`) as pattern `number` of the tool,
        unless the content is stored already (None)."""
        key_name = f"{key}.json"
        if self._content_claimed(key_name):
            return None
        tmp_name = f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(
            tmp_name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
            dir_fd=self._fd,
        )
        claimed = False
        try:
            for _ in range(_MAX_NUMBER_TRIES):
                pattern = Pattern(
                    id=f"{bundle.tool}:c{number:04d}", tool=bundle.tool, name=definition.name,
                    kind=definition.kind, signature=definition.signature,
                    params=definition.params, source=definition.source,
                    imports=imports_used(module, definition.uses),
                    content_sha256=key, code_sha256=definition.content_sha256,
                    source_sha256=source_sha256,
                    entrypoint=bundle.entrypoint, learned_at=_now_rfc3339(ts), learned_ts=ts,
                )
                data = _ENCODER.encode(pattern)
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                os.fsync(fd)
                if not claimed:
                    # Claim the content first: a concurrent writer of the same
                    # definition then sees it taken and stores nothing.
                    try:
                        os.link(tmp_name, key_name, src_dir_fd=self._fd,
                                dst_dir_fd=self._content_fd, follow_symlinks=False)
                    except FileExistsError:
                        return None
                    claimed = True
                try:
                    os.link(tmp_name, f"{pattern.id}.json", src_dir_fd=self._fd,
                            dst_dir_fd=self._fd, follow_symlinks=False)
                except FileExistsError:
                    number += 1  # another writer took this number: try the next
                    continue
                os.fsync(self._fd)
                with self._lock:
                    self._index[f"{pattern.id}.json"] = pattern
                return pattern
            raise OSError(errno.EEXIST, f"no free pattern number for {bundle.tool}")
        except BaseException:
            if claimed:
                with contextlib.suppress(OSError):
                    os.unlink(key_name, dir_fd=self._content_fd)
            raise
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name, dir_fd=self._fd)

    # ---- pruning ---------------------------------------------------------------

    def prune(self, *, now: float | None = None) -> list[str]:
        """Remove the oldest patterns past `max_stored`, and temp files older than an
        hour (left by a writer that died). Each tool's highest number is kept, so an
        id is never reused. Returns the ids removed; files that vanish meanwhile
        (another process pruning) are no error."""
        ts = time.time() if now is None else now
        index = self._refresh()
        excess = len(index) - self.max_stored
        if excess <= 0:
            return []
        self._remove_stale_tmp(ts)
        newest: dict[str, int] = {}
        for p in index.values():
            newest[p.tool] = max(newest.get(p.tool, 0), p.number)
        oldest = sorted(
            (p for p in index.values() if p.number != newest[p.tool]),
            key=lambda p: (p.learned_ts, p.id),
        )
        removed: list[str] = []
        for pattern in oldest[:excess]:
            self._remove(pattern)
            removed.append(pattern.id)
        if removed:
            logger.info("pattern library pruned {} oldest patterns", len(removed))
            self._refresh()
        return removed

    def _remove(self, pattern: Pattern) -> None:
        name, key_name = f"{pattern.id}.json", f"{pattern.content_sha256}.json"
        try:
            st = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        # The content claim goes only if it is this pattern's: after a concurrent
        # prune, the same content may have been learned again under a new id.
        with contextlib.suppress(FileNotFoundError):
            claim = os.stat(key_name, dir_fd=self._content_fd, follow_symlinks=False)
            if (claim.st_dev, claim.st_ino) == (st.st_dev, st.st_ino):
                os.unlink(key_name, dir_fd=self._content_fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._fd)

    def _remove_stale_tmp(self, now: float) -> None:
        stale: list[str] = []
        with os.scandir(self._fd) as entries:
            for entry in entries:
                # A tool may be called ".tmp-x": its patterns are not temp files.
                if not entry.name.startswith(_TMP_PREFIX) or _FILE_RE.fullmatch(entry.name):
                    continue
                try:  # another writer may finish and remove its temp file meanwhile
                    if entry.stat(follow_symlinks=False).st_mtime < now - STALE_TMP_SECONDS:
                        stale.append(entry.name)
                except FileNotFoundError:
                    continue
        for name in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=self._fd)

    # ---- ranking ---------------------------------------------------------------

    def candidates(
        self,
        bundle: Bundle | None,
        name: str,
        signature: str | Sequence[str],
        tool: str,
        limit: int,
        *,
        kind: str = "function",
    ) -> list[Pattern]:
        """The `limit` best patterns to replace definition `name` of `bundle`.

        Ranked by name (the heaviest weight: the same name from any tool first),
        then the same tool, then parameters, newest first among equals. Patterns
        of the same tool need a similar name, those of other tools the same name
        (up to case and underscores); a content that `bundle`'s entrypoint already
        holds is never offered. Returns [] when nothing fits.
        """
        if limit <= 0:
            return []
        present: set[str] = set()
        if bundle is not None:
            present = {
                normalized_sha256(d.kind, d.source)
                for d in definitions(bundle.files.get(bundle.entrypoint, ""))
            }
        want = signature_params(signature)
        scored: list[tuple[float, float, Pattern]] = []
        for pattern in self._refresh().values():
            if pattern.kind != kind:
                continue
            name_score = name_similarity(name, pattern.name)
            # Another tool's code is offered only under the same name; a merely
            # similar name is worth a try only within the same tool.
            if name_score < (0.5 if pattern.tool == tool else 0.9):
                continue
            if _code_sha256(pattern) in present:
                continue
            # Weights: the same name from another tool outranks a similar name
            # from the same tool (a function's name is its strongest contract).
            score = 5.0 * name_score + 2.0 * (pattern.tool == tool)
            score += _params_similarity(want, pattern.params)
            scored.append((score, pattern.learned_ts, pattern))
        scored.sort(key=lambda s: (-s[0], -s[1], s[2].id))
        best: list[Pattern] = []
        seen: set[str] = set()
        for _, _, pattern in scored:
            plain = _code_sha256(pattern)
            if plain in seen:  # the same code learned under two tools
                continue
            seen.add(plain)
            best.append(pattern)
            if len(best) >= limit:
                break
        return best


def _code_sha256(pattern: Pattern) -> str:
    # Records written before `code_sha256` existed compute it on the spot.
    return pattern.code_sha256 or normalized_sha256(pattern.kind, pattern.source)


def _params_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    if tuple(a) == tuple(b):
        return 1.0
    sa, sb = set(a), set(b)
    jaccard = len(sa & sb) / len(sa | sb) if sa | sb else 1.0
    return (0.5 if len(a) == len(b) else 0.0) + 0.5 * jaccard

