"""`run.py stats`: success rates and timings, streamed from the metrics files.

The metrics files (`metrics.jsonl` and its rotated `metrics.jsonl.*`) are read
in chunks of 1 MiB, each chunk decoded at once with msgspec
(`Decoder(MetricLine).decode_lines`); only a chunk that holds a bad line is
decoded line by line, skipping (and counting) what does not decode. Nothing but
the per-group aggregates is kept, so memory does not grow with the files:

- counters per group (a few integers and two small Counters), and
- for the percentiles, the `duration_s` values of each group in a compact
  `array('d')` (8 bytes a value), exact up to `RESERVOIR` values per group; past
  that, a uniform reservoir sample of that size (Vitter's algorithm R, seeded, so
  repeatable) estimates the median and p95. Memory is thus at most
  8 bytes x min(repairs, groups x RESERVOIR), plus, while the total's
  percentiles are computed, a uniform sample of at most `TOTAL_SAMPLE` values
  (all of them, exact, below that; see `_Group.merge`). The per-group pattern
  counts grow with the number of distinct pattern ids, which the pattern
  library bounds.

`--since` compares timestamps as strings when they have the daemon's own fixed
format (`rfc3339`, which sorts like time) and parses any other RFC 3339 form; a
rotated file last written before the cutoff is skipped unread.

The events come from a backend (`Backend.event_batches`): `stats_of` aggregates
any iterator of batches; an `EventBatches` (the filesystem's is `FileBatches`)
also says what it read (`files`, `lines`, `skipped` of the report) and takes
the progress callback and the `--since` hint.
"""

from __future__ import annotations

import math
import os
import random
import re
import statistics
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec

from repairlab.errors import UsageError
from repairlab.messages.records import MetricLine, parse_rfc3339, rfc3339
from repairlab.messages.reports import PatternCount, StatsReport, StatsRow

RESERVOIR = 100_000
TOTAL_SAMPLE = 200_000
CHUNK_BYTES = 1 << 20  # 4 MiB was no faster and peaked 20 MiB higher
TOP_PATTERNS = 5
NONE_GROUP = "(none)"
TOTAL_GROUP = "(all)"
GROUP_FIELDS = {"lineage": "lineage", "strategy": "repair_strategy", "tool": "tool"}
COUNTED = frozenset({"repaired", "quarantined", "corrupt", "repair_failed", "released"})
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw]?)")

_decoder = msgspec.json.Decoder(MetricLine)


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `7d`, `1w` (or a bare number of seconds) -> seconds.
    Raises UsageError naming the text when it is anything else or zero."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"bad duration {text!r}: use a number and a unit, e.g. 90s, 15m, 2h, 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


# -- reading ------------------------------------------------------------------------------


class LineReader:
    """Streams MetricLines from files, counting what it read and skipped.

    `on_bytes(n)` is called after each chunk with the bytes consumed (for a
    progress bar). A file that vanishes before it is opened (pruned meanwhile)
    is skipped; other OSErrors propagate.
    """

    def __init__(self, on_bytes: Callable[[int], None] | None = None) -> None:
        self.lines = 0
        self.skipped = 0
        self.on_bytes = on_bytes

    def read(self, path: Path) -> Iterator[list[MetricLine]]:
        """The lines of `path` in batches (one per chunk read)."""
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            return
        rest = b""
        with fh:
            while True:
                chunk = fh.read(CHUNK_BYTES)
                if not chunk:
                    break
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                if cut:
                    yield self._decode(data[:cut])
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
        if rest.strip():  # a last line without its newline: decode it if it is whole
            yield self._decode(rest)

    def _decode(self, block: bytes) -> list[MetricLine]:
        try:
            lines = _decoder.decode_lines(block)
        except msgspec.DecodeError:
            return self._decode_slowly(block)
        self.lines += len(lines)
        return lines

    def _decode_slowly(self, block: bytes) -> list[MetricLine]:
        good = []
        for raw in block.splitlines():
            if not raw.strip():
                continue
            try:
                good.append(_decoder.decode(raw))
            except msgspec.DecodeError:
                self.skipped += 1
        self.lines += len(good)
        return good


# -- aggregating --------------------------------------------------------------------------


class _Group:
    """The running aggregate of one group (plain dicts, not Counters: this is
    the inner loop over every metrics line)."""

    __slots__ = (
        "corrupt",
        "duplicates",
        "durations",
        "failed",
        "llm_tokens",
        "patterns",
        "quarantined",
        "released",
        "repaired",
        "rng",
        "strategies",
        "timed",
    )

    def __init__(self) -> None:
        self.repaired = self.duplicates = self.quarantined = self.corrupt = 0
        self.failed = self.released = self.timed = self.llm_tokens = 0
        self.durations = array("d")
        self.strategies: dict[str, int] = {}
        self.patterns: dict[str, int] = {}
        self.rng: random.Random | None = None

    def add(self, line: MetricLine) -> None:
        event = line.event
        if line.llm_tokens:
            self.llm_tokens += line.llm_tokens
        if event == "repaired":
            self.repaired += 1
            if line.duplicate:
                self.duplicates += 1
                return
            strategy = line.repair_strategy
            if strategy is not None:
                self.strategies[strategy] = self.strategies.get(strategy, 0) + 1
            pattern = line.repair_pattern_id
            if pattern is not None:
                self.patterns[pattern] = self.patterns.get(pattern, 0) + 1
            seconds = line.duration_s
            if seconds is not None:
                self.timed += 1
                if len(self.durations) < RESERVOIR:
                    self.durations.append(seconds)
                else:
                    self._sample(seconds)
        elif event == "quarantined":
            self.quarantined += 1
        elif event == "repair_failed":
            self.failed += 1
        elif event == "corrupt":
            self.corrupt += 1
        elif event == "released":
            self.released += 1

    def _sample(self, seconds: float) -> None:
        """Algorithm R: the kept values stay a uniform sample of all seen."""
        if self.rng is None:
            self.rng = random.Random(0)
        slot = self.rng.randrange(self.timed)
        if slot < RESERVOIR:
            self.durations[slot] = seconds

    @property
    def sampled(self) -> bool:
        return self.timed > len(self.durations)

    @classmethod
    def merge(cls, groups: Iterable[_Group]) -> _Group:
        """The total of `groups`. Its durations are all of theirs when no group
        was sampled and they are at most `TOTAL_SAMPLE`: the percentiles are
        exact. Otherwise each group contributes a random share of its kept
        values in proportion to its repairs (one rate for all, so the result is
        again a uniform sample of every repair), at most `TOTAL_SAMPLE` in all."""
        total = cls()
        groups = list(groups)
        timed = sum(g.timed for g in groups)
        rate = min([1.0, TOTAL_SAMPLE / timed if timed else 1.0]
                   + [len(g.durations) / g.timed for g in groups if g.timed])
        rng = random.Random(0)
        for g in groups:
            total.repaired += g.repaired
            total.duplicates += g.duplicates
            total.quarantined += g.quarantined
            total.corrupt += g.corrupt
            total.failed += g.failed
            total.released += g.released
            total.timed += g.timed
            total.llm_tokens += g.llm_tokens
            for name, n in g.strategies.items():
                total.strategies[name] = total.strategies.get(name, 0) + n
            for name, n in g.patterns.items():
                total.patterns[name] = total.patterns.get(name, 0) + n
            if rate >= 1.0:
                total.durations.extend(g.durations)
            else:
                share = min(len(g.durations), round(g.timed * rate))
                total.durations.extend(array("d", rng.sample(list(g.durations), share)))
        return total

    def row(self, name: str) -> StatsRow:
        decided = self.repaired + self.quarantined
        fresh = self.repaired - self.duplicates
        values = sorted(self.durations)
        llm_fixes = self.strategies.get("llm", 0)
        return StatsRow(
            group=name, handoffs=self.repaired + self.quarantined + self.corrupt,
            repaired=self.repaired, duplicates=self.duplicates, quarantined=self.quarantined,
            corrupt=self.corrupt, repair_failed=self.failed, released=self.released,
            success_rate=self.repaired / decided if decided else None, timed=self.timed,
            median_s=statistics.median(values) if values else None,
            p95_s=nearest_rank(values, 95.0),
            strategies={s: n / fresh for s, n in sorted(self.strategies.items())}
            if fresh else {},
            top_patterns=[PatternCount(pattern_id=p, fixes=n)
                          for p, n in sorted(self.patterns.items(),
                                             key=lambda kv: (-kv[1], kv[0]))[:TOP_PATTERNS]],
            llm_tokens=self.llm_tokens,
            llm_tokens_per_fix=self.llm_tokens / llm_fixes if llm_fixes else None,
        )


def nearest_rank(sorted_values: list[float], percent: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def _leaderboard_key(row: StatsRow) -> tuple[float, int, float, str]:
    rate = -1.0 if row.success_rate is None else row.success_rate
    median = math.inf if row.median_s is None else row.median_s
    return (-rate, -row.repaired, median, row.group)


def aggregate(lines: Iterable[MetricLine], by: str, since: float | None = None
              ) -> tuple[list[StatsRow], StatsRow]:
    """Group `lines` by `by` (`lineage`, `strategy` or `tool`) from `since` (a
    POSIX time; None: everything). Returns the rows and the total.
    `aggregate_batches` is the same over batches of lines (faster).
    """
    return aggregate_batches((lines,), by, since)


def aggregate_batches(batches: Iterable[Iterable[MetricLine]], by: str,
                      since: float | None = None) -> tuple[list[StatsRow], StatsRow]:
    """Group the lines of `batches` (see `aggregate`).

    Rows for `lineage` are a leaderboard: best success rate first, then most
    repairs, then the faster median. Other groupings come by handoffs, most
    first. Lines lacking the grouping field fall in `(none)` (a quarantined
    bundle has no strategy; a corrupt handoff has no tool or lineage).
    Raises UsageError for an unknown `by`.
    """
    field = GROUP_FIELDS.get(by)
    if field is None:
        raise UsageError(f"cannot group by {by!r}: use one of {', '.join(GROUP_FIELDS)}")
    cutoff_text = rfc3339(since) if since is not None else None
    groups: dict[str, _Group] = {}
    counted = COUNTED
    for batch in batches:
        for line in batch:
            if line.event not in counted:
                continue
            if cutoff_text is not None and not _at_or_after(line.ts, cutoff_text, since):
                continue
            key = getattr(line, field) or NONE_GROUP
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group()
            group.add(line)
    total = _Group.merge(groups.values())
    rows = [g.row(name) for name, g in groups.items()]
    if by == "lineage":
        rows.sort(key=_leaderboard_key)
    else:
        rows.sort(key=lambda r: (-r.handoffs, -r.repaired, r.group))
    return rows, total.row(TOTAL_GROUP)


def _at_or_after(ts: str, cutoff_text: str, cutoff: float | None) -> bool:
    if len(ts) == len(cutoff_text) and ts.endswith("Z"):
        return ts >= cutoff_text  # the daemon's fixed format sorts like time
    try:
        return parse_rfc3339(ts) >= (cutoff or 0.0)
    except ValueError:
        return False


class EventBatches(Iterator[list[MetricLine]]):
    """What `Backend.event_batches` returns: the events in batches, oldest first,
    and what reading them found, for `run.py stats` to report.

    `sources` names what was read (metrics files; a database's events), `lines`
    counts the lines decoded, `skipped` those that did not decode. Before the first
    batch is taken a caller may set `on_bytes` (called with the bytes consumed, for
    a progress bar over `total_bytes`) and `newer_than` (a POSIX time: a source
    wholly older may be skipped unread; its lines would be filtered out anyway).
    Reading starts at the first `next()`."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.lines = 0
        self.skipped = 0
        self.total_bytes = 0
        self.on_bytes: Callable[[int], None] | None = None
        self.newer_than: float | None = None
        self._batches: Iterator[list[MetricLine]] | None = None

    def __iter__(self) -> EventBatches:
        return self

    def __next__(self) -> list[MetricLine]:
        if self._batches is None:
            self._batches = self._read()
        return next(self._batches)

    def _read(self) -> Iterator[list[MetricLine]]:
        raise NotImplementedError  # each source says how it is read


class FileBatches(EventBatches):
    """The lines of metrics files (oldest first, see `state.metrics.metrics_files`),
    in chunks (`LineReader`). A file that vanishes meanwhile is skipped; with
    `newer_than`, so is a file last written before it (counted as consumed)."""

    def __init__(self, files: list[Path],
                 on_bytes: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.files = files
        self.on_bytes = on_bytes
        for path in files:
            try:
                self.total_bytes += os.stat(path).st_size
            except FileNotFoundError:
                pass

    def _read(self) -> Iterator[list[MetricLine]]:
        reader = LineReader(self.on_bytes)
        for path in self.files:
            if self.newer_than is not None:
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                if st.st_mtime < self.newer_than:  # every line in it is older
                    if self.on_bytes is not None:
                        self.on_bytes(st.st_size)
                    continue
            self.sources.append(str(path))
            for batch in reader.read(path):
                self.lines, self.skipped = reader.lines, reader.skipped
                yield batch
            self.lines, self.skipped = reader.lines, reader.skipped


def stats_of(batches: Iterator[list[MetricLine]], by: str,
             since_seconds: float | None = None, now: float | None = None) -> StatsReport:
    """Stats over `batches` (a backend's `event_batches()`) for events no older
    than `since_seconds` before `now`. `files`, `lines` and `skipped` of the
    report come from an `EventBatches`; of any other iterator, `lines` counts
    what it yielded. Raises UsageError for a bad `by`."""
    now = time.time() if now is None else now
    since = now - since_seconds if since_seconds is not None else None
    counted = 0
    if isinstance(batches, EventBatches):
        batches.newer_than = since

    def counting() -> Iterator[list[MetricLine]]:
        nonlocal counted
        for batch in batches:
            counted += len(batch)
            yield batch

    rows, total = aggregate_batches(counting(), by, since)
    if isinstance(batches, EventBatches):
        files, lines, skipped = list(batches.sources), batches.lines, batches.skipped
    else:
        files, lines, skipped = [], counted, 0
    return StatsReport(by=by, since=rfc3339(since) if since is not None else None, rows=rows,
                       total=total, files=files, lines=lines, skipped=skipped)


def compute_stats(files: list[Path], by: str, since_seconds: float | None = None,
                  now: float | None = None,
                  on_bytes: Callable[[int], None] | None = None) -> StatsReport:
    """Stats over `files` (oldest first, see `state.metrics.metrics_files`),
    for events no older than `since_seconds` before `now`.

    Undecodable lines are skipped and counted in `skipped`; files that vanish
    meanwhile are skipped. Raises UsageError for a bad `by`.
    """
    return stats_of(FileBatches(files, on_bytes), by, since_seconds, now)
