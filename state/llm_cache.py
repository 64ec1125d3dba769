"""The `llm` strategy's response cache: a retry of the same bundle never pays twice.

A reply is stored under `llm/cache/<key[:2]>/<key>.json`, `key` being the SHA-256
of the bundle's `bundle_sha256`, the prompt's hash and the sampling parameters
(`cache_key`). The prompt is built only from the bundle and the deterministic
outcome of its first run, so the next attempt at the same bundle builds the same
prompt, finds the reply here, and asks nobody. Entries are written atomically and
never hold the key or a request header: only the model's texts and the token
counts it reported.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec

from repairlab.state.fsops import atomic_write


class CachedReply(msgspec.Struct, kw_only=True):
    """The texts of the choices and what they cost when they were bought."""

    texts: list[str]
    tokens_in: int
    tokens_out: int
    model: str = ""


_decoder = msgspec.json.Decoder(CachedReply)


def cache_key(bundle_sha256: str, prompt_sha256: str, *, model: str, samples: int,
              temperature: float, max_tokens: int) -> str:
    """The cache key of one request (hex SHA-256)."""
    text = "\0".join([bundle_sha256, prompt_sha256, model, str(samples),
                      repr(float(temperature)), str(max_tokens)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies by key under `<root>/llm/cache/`.

    `get` returns None for a missing or unreadable entry (it is then bought again);
    `put` propagates OSError (the caller logs it: the reply is still used).
    """

    def __init__(self, root: Path) -> None:
        self.directory = Path(root) / "llm" / "cache"

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        """The stored reply, or None."""
        try:
            return _decoder.decode(self._path(key).read_bytes())
        except (OSError, msgspec.DecodeError):
            return None

    def old_entries(self, cutoff: float) -> list[tuple[Path, int]]:
        """(path, size) of the entries last written before `cutoff` (for pruning
        with the TTL of everything else). Entries that vanish meanwhile are skipped."""
        found: list[tuple[Path, int]] = []
        try:
            shards = list(os.scandir(self.directory))
        except FileNotFoundError:
            return found
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        if st.st_mtime < cutoff:
                            found.append((Path(entry.path), st.st_size))
            except FileNotFoundError:
                continue
        return found

    def put(self, key: str, reply: CachedReply) -> None:
        """Store a reply whole or not at all."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, msgspec.json.encode(reply), durable=False)


__all__ = ["CachedReply", "ResponseCache", "cache_key"]
