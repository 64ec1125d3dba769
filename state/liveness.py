"""Is a peer alive? Judged by watching its heartbeat change, never by reading clocks.

Each instance rewrites `instances/<id>.json` every `[watch] heartbeat_seconds`
(a new file each time: new inode, new ctime). `PeerWatch` remembers, for every
peer it sees (a heartbeat, or a directory in `claims/`), what its files looked
like and when, by this instance's own monotonic clock, they last changed. A peer
is *dead* once nothing of it has changed for `lease_seconds` of that clock.

No wall clock is compared with another: a peer whose clock is an hour ahead, a
host whose clock steps forward (NTP, a resumed VM) or a state root on a server
with another time cannot make a live peer look dead. The price is that a peer
already dead when this instance starts is recognised one lease after the start,
not at once. A peer paused longer than the lease (SIGSTOP) is taken for dead; when
it resumes it finds its claims gone and its claims directory removed, makes
the directory again (`Claims.claim`) and beats on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

from repairlab.state.layout import Layout

Signature = tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]


class Seen(NamedTuple):
    """What a peer's files looked like, and since when (monotonic) unchanged."""

    signature: Signature
    since: float


def _stat(path: os.PathLike[str] | str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


class PeerWatch:
    """The peers of instance `me` under `layout`, as far as this process has watched them."""

    def __init__(self, layout: Layout, me: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.me = me
        self.monotonic = monotonic
        self.seen: dict[str, Seen] = {}

    def peers(self) -> set[str]:
        """Every other instance that has a heartbeat or a claims directory."""
        found: set[str] = set()
        try:
            with os.scandir(self.layout.instances) as it:
                found.update(e.name[:-5] for e in it
                             if e.name.endswith(".json") and not e.name.startswith("."))
        except FileNotFoundError:
            pass
        try:
            with os.scandir(self.layout.claims) as it:
                found.update(e.name for e in it
                             if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
        except FileNotFoundError:
            pass
        found.discard(self.me)
        return found

    def signature(self, peer: str) -> Signature:
        """The heartbeat's and the claims directory's identity and times."""
        return (_stat(self.layout.instances / f"{peer}.json"),
                _stat(self.layout.claims_of(peer)))

    def observe(self, lease_seconds: float) -> list[str]:
        """Look at every peer once; return those unchanged for `lease_seconds`
        of this instance's monotonic clock (dead), in name order."""
        now = self.monotonic()
        present = self.peers()
        for gone in set(self.seen) - present:
            del self.seen[gone]
        dead = []
        for peer in sorted(present):
            sig = self.signature(peer)
            before = self.seen.get(peer)
            if before is None or before.signature != sig:
                self.seen[peer] = Seen(sig, now)
                continue
            if now - before.since >= lease_seconds:
                dead.append(peer)
        return dead

    def unchanged(self, peer: str) -> bool:
        """Whether the peer's files are still as when it was judged (checked just
        before anything of it is removed: a peer that beat meanwhile is alive)."""
        before = self.seen.get(peer)
        return before is not None and before.signature == self.signature(peer)

    def forget(self, peer: str) -> None:
        """The peer's files are gone: watch it afresh if it comes back."""
        self.seen.pop(peer, None)
