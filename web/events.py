"""The event history behind `/metrics` and the dashboard, kept up to date incrementally.

`EventTally` folds metric lines (SPEC §4) into what the window shows: the
counters of §10 (handoffs by outcome, successful repairs by strategy, actor
restarts, the repair-duration histogram), success by strategy and by lineage,
and the events of the last hour. It is fed with the events the backend has
recorded since the last request (`Backend.events(cursor)`), so a scrape
reads only what is new: the whole history (a 50 MB `metrics.jsonl` and its
rotated files, or the database's events) is read once, at the first request.
The counters are the history this process has seen, as Prometheus counters
should be: they never go down while it runs, and start again from the whole
history when it restarts.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from repairlab.messages.records import MetricLine, parse_rfc3339, rfc3339

HOUR = 3600.0
# Seconds; chosen around what a repair takes: a noop is well under a second,
# a microfix search tens of seconds, the default bundle timeout 120 s.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OUTCOMES = {"repaired": "repaired", "repair_failed": "failed", "quarantined": "quarantined",
            "corrupt": "corrupt"}
STRATEGIES = ("noop", "signature_adapter", "pattern_transplant", "heuristic_microfix", "llm",
              "external_agent")



@dataclass
class Ratio:
    """Repaired versus quarantined of one group (a strategy or a lineage)."""

    repaired: int = 0
    quarantined: int = 0

    @property
    def rate(self) -> float | None:
        decided = self.repaired + self.quarantined
        return self.repaired / decided if decided else None


@dataclass
class Tally:
    """Everything counted so far (a snapshot is a copy of it, see `EventTally.snapshot`)."""

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES.values(), 0))
    strategies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRATEGIES, 0))
    restarts: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    lineages: dict[str, Ratio] = field(default_factory=dict)
    lines: int = 0
    # (epoch seconds, outcome) of the events within the last hour, oldest first
    recent: deque[tuple[float, str]] = field(default_factory=deque)

    @property
    def duration_count(self) -> int:
        return sum(self.buckets)


class EventTally:
    """Folds metric lines into a `Tally`; thread-safe (the web server's threads
    share one). `now` is passed in for the last-hour window, so tests choose it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally = Tally()

    def add(self, lines: Iterable[MetricLine], now: float | None = None) -> None:
        """Count `lines`. An event without an outcome or counter of ours is
        ignored; a timestamp that does not parse keeps the event out of the
        last-hour window only."""
        now = time.time() if now is None else now
        cutoff = now - HOUR
        cutoff_text = rfc3339(cutoff)
        with self._lock:
            t = self._tally
            for line in lines:
                t.lines += 1
                event = line.event
                if event == "actor_restarted":
                    t.restarts += 1
                    continue
                outcome = OUTCOMES.get(event)
                if outcome is None:
                    continue
                t.outcomes[outcome] += 1
                if event == "repaired" and not line.duplicate:
                    strategy = line.repair_strategy or "other"
                    if strategy not in t.strategies:
                        strategy = "other"  # never a label value we did not choose
                    t.strategies[strategy] = t.strategies.get(strategy, 0) + 1
                    if line.duration_s is not None:
                        t.buckets[bisect_left(DURATION_BUCKETS, line.duration_s)] += 1
                        t.duration_sum += line.duration_s
                if event in ("repaired", "quarantined"):
                    ratio = t.lineages.setdefault(line.lineage or "(none)", Ratio())
                    if event == "repaired":
                        ratio.repaired += 1
                    else:
                        ratio.quarantined += 1
                if line.ts >= cutoff_text or len(line.ts) != len(cutoff_text):
                    try:
                        at = parse_rfc3339(line.ts)
                    except ValueError:
                        continue
                    if at >= cutoff:
                        _insert_recent(t.recent, at, outcome)
            _expire(t.recent, cutoff)

    def snapshot(self, now: float | None = None) -> Tally:
        """A copy of the counts, the last-hour window cut at `now`."""
        now = time.time() if now is None else now
        with self._lock:
            t = self._tally
            _expire(t.recent, now - HOUR)
            return Tally(outcomes=dict(t.outcomes), strategies=dict(t.strategies),
                         restarts=t.restarts, buckets=list(t.buckets),
                         duration_sum=t.duration_sum,
                         lineages={k: Ratio(v.repaired, v.quarantined)
                                   for k, v in t.lineages.items()},
                         lines=t.lines, recent=deque(t.recent))


def _insert_recent(recent: deque[tuple[float, str]], at: float, outcome: str) -> None:
    # Lines arrive nearly in time order (several writers interleave by
    # milliseconds): append, and only walk back for the rare earlier one.
    if not recent or recent[-1][0] <= at:
        recent.append((at, outcome))
        return
    items = list(recent)
    items.insert(bisect_left([a for a, _ in items], at), (at, outcome))
    recent.clear()
    recent.extend(items)


def _expire(recent: deque[tuple[float, str]], cutoff: float) -> None:
    while recent and recent[0][0] < cutoff:
        recent.popleft()
