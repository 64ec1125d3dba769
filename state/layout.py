"""Where everything lives under the state root (SPEC §1), and its safety checks."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from repairlab.config.schema import Config
from repairlab.errors import StateRootUnsafe


@dataclass(frozen=True)
class Layout:
    """Every path of one state root. Internal places start with `.`-free names
    that the SPEC leaves to the daemon: `claims/`, `deferred/`, `failures/`,
    `instances/`, `schedule/`."""

    root: Path
    queue: Path
    processed: Path
    challengers: Path
    metrics: Path
    patterns: Path

    @classmethod
    def from_config(cls, config: Config) -> Layout:
        """Paths from `[paths]`, overrides where given."""
        root = Path(config.paths.root)
        p = config.paths
        return cls(
            root=root,
            queue=Path(p.queue) if p.queue else root / "queue",
            processed=Path(p.processed) if p.processed else root / "processed",
            challengers=Path(p.challengers) if p.challengers else root / "challengers",
            metrics=Path(p.metrics) if p.metrics else root / "metrics.jsonl",
            patterns=Path(p.patterns) if p.patterns else root / "patterns",
        )

    @classmethod
    def at(cls, root: Path) -> Layout:
        """The default layout under `root` (tests, tools)."""
        return cls(root, root / "queue", root / "processed", root / "challengers",
                   root / "metrics.jsonl", root / "patterns")

    @property
    def done(self) -> Path:
        return self.processed / "done"

    @property
    def hard_fail(self) -> Path:
        return self.processed / "hard_fail"

    @property
    def corrupt(self) -> Path:
        return self.processed / "corrupt"

    @property
    def claims(self) -> Path:
        return self.root / "claims"

    def claims_of(self, instance: str) -> Path:
        """The directory of one instance's claims (its Maildir `cur`)."""
        return self.claims / instance

    @property
    def deferred(self) -> Path:
        """Handoffs waiting out a backoff; each file's mtime is its not-before."""
        return self.root / "deferred"

    @property
    def failures(self) -> Path:
        return self.root / "failures"

    @property
    def instances(self) -> Path:
        return self.root / "instances"

    @property
    def schedule(self) -> Path:
        return self.root / "schedule"

    @property
    def challenger_index(self) -> Path:
        """Hard links `<bundle_sha256>-<repaired_sha256>` to challengers: the
        lock-free guard against a second challenger for one result."""
        return self.challengers / ".index"

    def directories(self) -> list[Path]:
        """Every directory the daemon needs, parents first."""
        return [
            self.root, self.queue, self.processed, self.done, self.hard_fail, self.corrupt,
            self.challengers, self.challenger_index, self.patterns, self.claims,
            self.deferred, self.failures, self.instances, self.schedule,
        ]

    def ensure(self, *, check_owner: bool = True) -> None:
        """Create every directory (owner-only permissions) and check the root.

        Raises StateRootUnsafe when the root or a directory under it is a symlink,
        is writable by others, or is owned by another user; OSError when it
        cannot be created.
        """
        # One at a time, parents first, each checked before anything is made
        # inside it: a planted symlink (say `processed` -> elsewhere) is refused
        # before a single directory is created through it.
        for directory in [*self.directories(), self.metrics.parent]:
            if not os.path.lexists(directory):
                outside_root = not directory.is_relative_to(self.root)  # an override
                if directory == self.root or outside_root:
                    _make_parents(directory.parent)
                directory.mkdir(mode=0o700, exist_ok=True)  # a peer may be starting too
            check_safe(directory, check_owner=check_owner)


def _make_parents(path: Path) -> None:
    """`mkdir -p`, each directory made owner-only by its mode alone. (Not by the
    umask: that is the whole process's, and a runner forking its test server from
    another thread meanwhile would inherit it.)"""
    if os.path.lexists(path):
        return
    _make_parents(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass


def check_safe(path: Path, *, check_owner: bool = True) -> None:
    """Refuse, as OpenSSH does for loose key files, a directory that is a
    symlink, is not a directory, is group- or world-writable, or belongs to
    another user. Raises StateRootUnsafe with one line naming the path."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise StateRootUnsafe(f"state directory {path} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise StateRootUnsafe(f"state directory {path} is a symbolic link; refusing to use it")
    if not stat.S_ISDIR(st.st_mode):
        raise StateRootUnsafe(f"state directory {path} is not a directory")
    if st.st_mode & (stat.S_IWOTH | stat.S_IWGRP):
        raise StateRootUnsafe(
            f"state directory {path} is writable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod go-w {path}"
        )
    if check_owner and st.st_uid != os.geteuid():
        raise StateRootUnsafe(
            f"state directory {path} is owned by uid {st.st_uid}, not by us ({os.geteuid()})"
        )
