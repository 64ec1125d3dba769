"""`submit DIR --tool NAME --entrypoint FILE [--lineage L]`: pack and enqueue."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from repairlab.errors import HandoffInvalid, UsageError
from repairlab.messages.handoff import SCHEMA, decode_handoff
from repairlab.messages.records import rfc3339
from repairlab.state.fsops import fsync_dir
from repairlab.state.layout import Layout

SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"}


def pack_directory(directory: Path) -> dict[str, str]:
    """Every regular text file under `directory` (relative path -> text), skipping
    caches, hidden directories and compiled files. Raises UsageError naming a
    file that is not UTF-8 or a path that is a symlink."""
    files: dict[str, str] = {}
    if not directory.is_dir():
        raise UsageError(f"submit: {directory} is not a directory")
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                continue
            path = Path(current) / name
            rel = path.relative_to(directory).as_posix()
            if path.is_symlink():
                raise UsageError(f"submit: {rel} is a symbolic link; copy the file instead")
            try:
                files[rel] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"submit: {rel} is not UTF-8 text") from None
    return files


def build_handoff(files: dict[str, str], tool: str, entrypoint: str,
                  lineage: str | None = None, parent_sha256: str | None = None) -> bytes:
    """The handoff JSON for `files`."""
    doc: dict[str, object] = {
        "schema": SCHEMA, "tool": tool, "entrypoint": entrypoint, "files": files,
        "id": uuid.uuid4().hex, "created_at": rfc3339(time.time()),
    }
    if lineage:
        doc["lineage"] = lineage
    if parent_sha256:
        doc["parent_sha256"] = parent_sha256
    return msgspec.json.encode(doc)


def handoff_name(tool: str) -> str:
    """A fresh queue name for a handoff of `tool`: `<tool>-<UTC time>-<8 hex>.json`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{tool}-{stamp}-{uuid.uuid4().hex[:8]}.json"


def enqueue(layout: Layout, data: bytes, tool: str, name: str | None = None) -> Path:
    """Write `queue/.NAME.tmp`, fsync, rename to `queue/NAME.json` (SPEC §1).
    Never overwrites: a taken name gets a fresh one."""
    layout.queue.mkdir(parents=True, exist_ok=True)
    name = name or handoff_name(tool)
    tmp = layout.queue / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    target = layout.queue / name
    try:
        os.link(tmp, target)  # link() never replaces an existing handoff
    finally:
        tmp.unlink()
    fsync_dir(layout.queue)
    return target


def pack(directory: Path, tool: str, entrypoint: str, lineage: str | None,
         max_bytes: int, max_files: int) -> bytes:
    """The handoff of `directory`, validated as the daemon would. Raises
    UsageError naming the fault when it would not be a valid handoff."""
    files = pack_directory(directory)
    data = build_handoff(files, tool, entrypoint, lineage)
    try:
        decode_handoff(data, max_bytes=max_bytes, max_files=max_files)
    except HandoffInvalid as exc:
        raise UsageError(f"submit: {exc}") from None
    return data


def submit(layout: Layout, directory: Path, tool: str, entrypoint: str, lineage: str | None,
           max_bytes: int, max_files: int) -> Path:
    """Pack, validate as the daemon would, and enqueue. Raises UsageError
    naming the fault when the result would not be a valid handoff."""
    return enqueue(layout, pack(directory, tool, entrypoint, lineage, max_bytes, max_files),
                   tool)
