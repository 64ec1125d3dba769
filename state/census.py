"""Counting what is where under the state root, cheaply (one listing per place)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from repairlab.state.claims import is_handoff_name
from repairlab.state.layout import Layout


def _count(directory: Path, *, handoffs_only: bool = True) -> int:
    try:
        with os.scandir(directory) as it:
            if handoffs_only:
                return sum(1 for e in it if is_handoff_name(e.name)
                           and not e.name.endswith(".reason.json"))
            return sum(1 for e in it if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def in_flight_by_instance(layout: Layout) -> dict[str, int]:
    """How many handoffs each instance holds now."""
    counts: dict[str, int] = {}
    try:
        with os.scandir(layout.claims) as it:
            owners = [e for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return counts
    for owner in owners:
        counts[owner.name] = _count(Path(owner.path), handoffs_only=False)
    return counts


@dataclass
class Census:
    """Handoffs in each place, and challengers."""

    queue: int
    deferred: int
    in_flight: int
    done: int
    quarantined: int
    corrupt: int
    challengers: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        """One status line, as in systemd's STATUS=."""
        return (f"queue {self.queue}, waiting {self.deferred}, in flight {self.in_flight}, "
                f"done {self.done}, quarantined {self.quarantined}, corrupt {self.corrupt}")


def take_census(layout: Layout) -> Census:
    """Count every place now. Places that do not exist count zero."""
    return Census(
        queue=_count(layout.queue),
        deferred=_count(layout.deferred, handoffs_only=False),
        in_flight=sum(in_flight_by_instance(layout).values()),
        done=_count(layout.done),
        quarantined=_count(layout.hard_fail),
        corrupt=_count(layout.corrupt),
        challengers=_count(layout.challengers),
    )
