"""Named fault-injection points, off (and free) unless switched on.

Code marks a place with `inject("telemetry.write")`. A point is switched on by the
`[faults] points` table of the config or by `$REPAIRLAB_FAULTS`
(``"point=action,point=action"``; `$REPAIRLAB_FAULTS_SEED` sets the seed). An
action is ``crash|enospc|eio|einval|hang|slow``, optionally ``:SECONDS`` (for hang and
slow), then ``@P`` (fire with probability P, from a generator seeded per point, so
runs are repeatable) or ``#N`` (fire on the N-th pass only).

- crash raises `InjectedCrash` (a bug: the actor dies and is restarted),
- enospc / eio raise OSError with that errno (a write error the code must survive),
- einval raises OSError(EINVAL): what a filesystem answers to a call it does not
  support (`fsops.renameat2` uses it to take the NFS/FUSE fallback),
- hang sleeps for SECONDS (default 3600), slow for SECONDS (default 0.5).

A point may target one subject by name: `repairer.handoff[GLOB]` fires only where
the code passes `inject("repairer.handoff", subject=NAME)` with a NAME that
matches the shell pattern GLOB (`fnmatch`, case-sensitive), e.g.
``repairer.handoff[poison-*.json]=crash``. Each such point counts its own
passes (`#N` is the N-th pass of a matching subject). A point without brackets
fires for every subject.

When nothing is switched on, `inject` is one dictionary test.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass, field

_TARGETED = re.compile(r"(?P<base>[^\[\]]+)\[(?P<glob>[^\]]+)\]")
_SPEC = re.compile(r"(crash|enospc|eio|einval|hang|slow)"
                   r"(?::([0-9.]+))?(?:@([0-9.]+)|#([0-9]+))?")


class InjectedCrash(RuntimeError):
    """An injected bug: raised where a `crash` fault fires."""


@dataclass
class _Point:
    action: str
    seconds: float | None
    probability: float | None
    nth: int | None
    rng: random.Random
    hits: int = 0
    fired: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_ACTIVE: dict[str, _Point] = {}
_BY_SUBJECT: dict[str, list[tuple[str, _Point]]] = {}  # base point -> (glob, point)


def parse_action(text: str) -> tuple[str, float | None, float | None, int | None]:
    """Split ``hang:2@0.5`` into its parts; raises ValueError on a bad spec."""
    match = _SPEC.fullmatch(text.strip())
    if not match:
        raise ValueError(f"bad fault action {text!r}")
    action, seconds, prob, nth = match.groups()
    return (action, float(seconds) if seconds else None, float(prob) if prob else None,
            int(nth) if nth else None)


def configure(points: dict[str, str], seed: int = 0) -> None:
    """Switch on exactly `points` (config table merged with the environment)."""
    merged = dict(points)
    env = os.environ.get("REPAIRLAB_FAULTS", "")
    for item in filter(None, (p.strip() for p in env.split(","))):
        name, _, action = item.partition("=")
        merged[name.strip()] = action.strip()
    seed = int(os.environ.get("REPAIRLAB_FAULTS_SEED", seed))
    active = {}
    targeted: dict[str, list[tuple[str, _Point]]] = {}
    for name, spec in merged.items():
        action, seconds, prob, nth = parse_action(spec)
        rng = random.Random(seed ^ zlib.crc32(name.encode()))
        active[name] = _Point(action, seconds, prob, nth, rng)
        if (match := _TARGETED.fullmatch(name.strip())) is not None:
            targeted.setdefault(match["base"], []).append((match["glob"], active[name]))
    _ACTIVE.clear()
    _ACTIVE.update(active)
    _BY_SUBJECT.clear()
    _BY_SUBJECT.update(targeted)


def reset() -> None:
    """Switch every point off."""
    _ACTIVE.clear()
    _BY_SUBJECT.clear()


def fired(name: str) -> int:
    """How often the point has fired in this process (for tests)."""
    point = _ACTIVE.get(name)
    return point.fired if point else 0


def inject(name: str, subject: str | None = None) -> None:
    """The injection point `name`: does nothing unless it is switched on.

    With a `subject` (a handoff's file name), the points `name[GLOB]` whose GLOB
    matches it fire too."""
    if not _ACTIVE:
        return
    point = _ACTIVE.get(name)
    if point is not None:
        _fire(name, point)
    if subject is not None and name in _BY_SUBJECT:
        for glob, targeted in _BY_SUBJECT[name]:
            if fnmatch.fnmatchcase(subject, glob):
                _fire(f"{name}[{glob}]", targeted)


def _fire(name: str, point: _Point) -> None:
    with point.lock:
        point.hits += 1
        if point.nth is not None:
            fire = point.hits == point.nth
        elif point.probability is not None:
            fire = point.rng.random() < point.probability
        else:
            fire = True
        if fire:
            point.fired += 1
    if not fire:
        return
    if point.action == "crash":
        raise InjectedCrash(f"injected crash at {name}")
    if point.action == "enospc":
        raise OSError(errno.ENOSPC, f"injected ENOSPC at {name}")
    if point.action == "eio":
        raise OSError(errno.EIO, f"injected EIO at {name}")
    if point.action == "einval":
        raise OSError(errno.EINVAL, f"injected EINVAL at {name}")
    if point.action == "hang":
        time.sleep(point.seconds if point.seconds is not None else 3600.0)
    elif point.action == "slow":
        time.sleep(point.seconds if point.seconds is not None else 0.5)
