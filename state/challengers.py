"""The challenger store: one durable file per (bundle, result), never two.

A challenger is written as a temporary file (fsynced), then hard-linked as
`challengers/.index/<bundle_sha256>-<repaired_sha256>`: link() fails if the name
exists, so of several writers (threads, instances, a redo after a crash) exactly
one wins. The winner renames its temporary file to the public name and fsyncs the
directories (a writer of several does that once for all of them: `stage` and
`publish` each, then one `sync`). A loser, or a redo that finds the index entry
but no public file (a crash between link and rename), links the public name from
the index entry.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import msgspec

from repairlab.faults import inject
from repairlab.messages.records import Challenger
from repairlab.state.clock import fs_now
from repairlab.state.fsops import fsync_dir, write_temp

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Challenger)


def challenger_name(bundle_sha: str, now: float) -> str:
    """`challenger_<UTC %Y%m%dT%H%M%S%fZ>_<first 12 hex>.json` (SPEC §3)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"challenger_{stamp}_{bundle_sha[:12]}.json"


class Staged(NamedTuple):
    """A challenger written and fsynced under a temporary name, not yet public."""

    bundle_sha256: str
    repaired_sha256: str
    tmp: Path


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class ChallengerStore:
    """Challengers under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index = directory / ".index"

    def _key(self, bundle_sha: str, repaired_sha: str) -> Path:
        return self.index / f"{bundle_sha}-{repaired_sha}"

    def find(self, bundle_sha: str, repaired_sha: str | None = None) -> Path | None:
        """The public challenger for `bundle_sha` (and `repaired_sha`, if given),
        or None. With no `repaired_sha`, the newest challenger of the bundle."""
        if repaired_sha is not None:
            key = self._key(bundle_sha, repaired_sha)
            try:
                ino = os.stat(key, follow_symlinks=False).st_ino
            except FileNotFoundError:
                return None
            return self._public_with_inode(bundle_sha, ino)
        for path in reversed(self._named_for(bundle_sha)):
            try:
                if _decoder.decode(path.read_bytes()).bundle_sha256 == bundle_sha:
                    return path
            except (OSError, msgspec.DecodeError):
                continue
        return None

    def _named_for(self, bundle_sha: str) -> list[Path]:
        """The entries named `challenger_*_<first 12 hex>.json`, in name order.

        The directory is read as a stream and only matching names are kept
        (`Path.glob` lists every entry first: with a week of challengers, each
        duplicate handoff cost a transient list of all of them)."""
        prefix, suffix = "challenger_", f"_{bundle_sha[:12]}.json"
        found = []
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    name = entry.name
                    if (name.startswith(prefix) and name.endswith(suffix)
                            and len(name) >= len(prefix) + len(suffix)):
                        found.append(name)
        except FileNotFoundError:
            return []
        return [self.directory / name for name in sorted(found)]

    def _public_with_inode(self, bundle_sha: str, ino: int) -> Path | None:
        for path in self._named_for(bundle_sha):
            try:
                if os.stat(path, follow_symlinks=False).st_ino == ino:
                    return path
            except FileNotFoundError:
                continue
        return None

    def write(self, challenger: Challenger, now: float | None = None) -> tuple[Path, bool]:
        """Store `challenger` durably unless one for the same bundle and result
        exists. Returns (path of the public file, True if this call wrote it).

        On an OSError nothing public is left half-written; the error propagates
        and the call can simply be repeated. (`stage`, `publish` and `sync` are its
        three steps, for a writer that makes several durable with one `sync`.)
        """
        staged = self.stage(challenger)
        if isinstance(staged, Path):
            return staged, False
        result = self.publish(staged, now)
        if result[1]:
            self.sync()
        return result

    def stage(self, challenger: Challenger) -> Path | Staged:
        """The existing public file for this bundle and result; or else a new
        temporary file holding `challenger`, written and fsynced, to `publish`."""
        existing = self.find(challenger.bundle_sha256, challenger.repaired_sha256)
        if existing is not None:
            self._link_bundle(existing, challenger.bundle_sha256)
            return existing
        self.index.mkdir(mode=0o700, exist_ok=True)
        data = _encoder.encode(challenger)
        tmp = self.directory / f".tmp-{uuid.uuid4().hex}.json"
        write_temp(tmp, data, point="telemetry.challenger_write")
        return Staged(challenger.bundle_sha256, challenger.repaired_sha256, tmp)

    def publish(self, staged: Staged, now: float | None = None) -> tuple[Path, bool]:
        """Make a staged challenger public unless another writer was first:
        (its public path, True if this call published it). The temporary file
        is gone afterwards, whatever happens. Durable only after `sync`."""
        now = time.time() if now is None else now
        bundle, repaired, tmp = staged
        try:
            try:
                os.link(tmp, self._key(bundle, repaired), follow_symlinks=False)
            except FileExistsError:
                return self._adopt(bundle, repaired, now)
            inject("telemetry.challenger_publish")
            public = self.directory / challenger_name(bundle, now)
            os.rename(tmp, public)
            self._link_bundle(public, bundle)
            return public, True
        finally:
            _unlink_quietly(tmp)

    def sync(self) -> None:
        """Make every challenger published so far durable (both directories)."""
        inject("telemetry.challenger_sync")
        fsync_dir(self.directory)
        fsync_dir(self.index)

    def _link_bundle(self, public: Path, bundle: str) -> None:
        """The by-bundle entry: "was this bundle ever repaired?" in one stat. Made
        by whoever publishes or finds a challenger of the bundle, so a crash of the
        first writer before it made the entry leaves none missing for long."""
        try:
            os.link(public, self.index / bundle, follow_symlinks=False)
        except FileExistsError:
            pass
        except FileNotFoundError:
            pass  # pruned meanwhile

    def _adopt(self, bundle: str, repaired: str, now: float) -> tuple[Path, bool]:
        """Another writer holds the index entry: its public file (and False); or,
        if that writer died before publishing it, the file published here (and
        True: this is the challenger's first publication, not a duplicate). Either
        way the by-bundle entry exists afterwards."""
        key = self._key(bundle, repaired)
        for _ in range(50):
            found = self.find(bundle, repaired)
            if found is not None:
                self._link_bundle(found, bundle)
                return found, False
            try:  # on the state root's clock: a writer's clock set ahead must not
                # make a live writer's fresh entry look old (two public names)
                age = fs_now(self.directory) - os.stat(key).st_mtime
            except FileNotFoundError:
                break
            if age > 5:  # a writer would have published within moments: it died
                public = self.directory / challenger_name(bundle, now)
                try:
                    os.link(key, public, follow_symlinks=False)
                except FileExistsError:
                    continue
                fsync_dir(self.directory)
                self._link_bundle(public, bundle)
                return public, True
            time.sleep(0.1)
        found = self.find(bundle, repaired)
        if found is None:
            raise OSError(errno.EAGAIN, f"challenger for {bundle[:12]} is being published")
        self._link_bundle(found, bundle)
        return found, False

    def repaired_before(self, bundle_sha: str) -> Path | None:
        """The newest challenger of `bundle_sha` if it was ever repaired, else
        None; one stat when it was not (the common case)."""
        if not os.path.lexists(self.index / bundle_sha):
            return None
        return self.find(bundle_sha)

    def load(self, path: Path) -> Challenger:
        """Decode one challenger file; raises OSError or msgspec errors."""
        return _decoder.decode(path.read_bytes())

    def prune_index(self) -> int:
        """Drop index entries whose public challenger was pruned.

        A challenger's inode is linked from its public name and from one or two
        index entries (`<bundle>-<repaired>`, and `<bundle>` for the bundle's first
        result). When every link left is an index entry, the public file is gone:
        those entries go too. (Counting only `st_nlink <= 1` kept every entry whose
        challenger had both index links, so the index, and each prune's scan of
        it, grew without end.) A challenger being written also has its temporary
        name, so it is never taken for a pruned one.
        """
        removed = 0
        by_inode: dict[int, tuple[int, list[str]]] = {}
        try:
            with os.scandir(self.index) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if st.st_nlink > 2:
                        continue  # at most two index links: the third is a public name
                    _, paths = by_inode.setdefault(st.st_ino, (st.st_nlink, []))
                    paths.append(entry.path)
        except FileNotFoundError:
            return 0
        for nlink, paths in by_inode.values():
            if nlink > len(paths):
                continue  # a public (or temporary) name still links it
            for path in paths:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    continue
        return removed
