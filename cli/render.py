"""Terminal output for the operator commands: aligned tables with units, and a
progress bar on stderr that shows only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """Columns padded to their widest cell. `align` has one letter per column,
    `l` or `r` (default `l`); numbers read best right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            right = i < len(align) and align[i] == "r"
            out.append(cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]),
                      *(line(r) for r in rows)])


def seconds(value: float | None) -> str:
    """A duration with its unit: `820 ms`, `4.2 s`, `3 min 10 s`, `2 h 5 min`, `3 d 4 h`."""
    if value is None:
        return "-"
    sign, v = ("-" if value < 0 else ""), abs(value)
    if v < 1:
        return f"{sign}{v * 1000:.0f} ms"
    if v < 60:
        return f"{sign}{v:.1f} s"
    if v < 3600:
        return f"{sign}{int(v // 60)} min {int(v % 60)} s"
    if v < 86400:
        return f"{sign}{int(v // 3600)} h {int(v % 3600 // 60)} min"
    return f"{sign}{int(v // 86400)} d {int(v % 86400 // 3600)} h"


def size(n: int) -> str:
    """Bytes with a binary unit: `512 B`, `3.4 KiB`, `12.0 MiB`."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def percent(rate: float | None) -> str:
    """A 0..1 rate as `87.5 %` (`-` when undefined)."""
    return "-" if rate is None else f"{rate * 100:.1f} %"


def short(sha: str | None, n: int = 12) -> str:
    """The first `n` hex digits of a hash, `-` when absent."""
    return sha[:n] if sha else "-"


class Progress:
    """`label  42% 120.0 MiB / 285.3 MiB` redrawn in place on stderr, at most
    ten times a second, and only when stderr is a terminal (never in a pipe, a
    log or a test). `close()` clears the line."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label, self.total, self.done = label, max(total, 1), 0
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        share = min(1.0, self.done / self.total)
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {share * 100:3.0f}% "
                          f"{size(self.done)} / {size(self.total)}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
