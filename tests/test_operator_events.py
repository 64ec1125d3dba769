"""`Backend.events` on the filesystem: an incremental read of the metrics files.

A cursor is a byte offset in one file named by its inode, so a poll reads only
what is new, a rotation is followed (the rotated file to its end, then the new
one) and nothing is lost or read twice. What is read is measured by the kernel's
own count of this process's read bytes (`rchar` in /proc/self/io), never by time.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from repairlab.config import Config, load_config
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.state.backend import EventCursor
from repairlab.state.fs_reads import FilesystemReads
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog, metrics_files, rotate_metrics

pytestmark = pytest.mark.timeout(120)


def _config(root: Path) -> Config:
    return load_config(None, overrides={"paths": {"root": str(root)},
                                        "instance": {"id": "events"}})


@pytest.fixture
def reads(tmp_path: Path) -> FilesystemReads:
    config = _config(tmp_path / "state")
    Layout.from_config(config).ensure()
    return FilesystemReads.for_config(config, "events")


def _line(n: int, pad: int = 0) -> MetricLine:
    return MetricLine(ts=rfc3339(1.7e9 + n), event="repaired", instance="events",
                      meta_repair=True, handoff=f"h{n}.json",
                      reason="x" * pad if pad else None)


def _append(reads: FilesystemReads, *numbers: int) -> None:
    log = MetricsLog(reads.layout.metrics, "events")
    for n in numbers:
        log.append(_line(n))


def _handoffs(lines: list[MetricLine]) -> list[str | None]:
    return [line.handoff for line in lines]


def _rchar() -> int:
    """Bytes this process has read through read() and friends, by the kernel's count."""
    with open("/proc/self/io") as fh:
        for row in fh:
            if row.startswith("rchar:"):
                return int(row.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_a_cursor_after_n_lines_returns_only_the_lines_added_after_it(
        reads: FilesystemReads) -> None:
    assert reads.events(None) == ([], EventCursor())  # nothing recorded yet
    _append(reads, 0, 1, 2, 3, 4)
    first, cursor = reads.events(None)
    assert _handoffs(first) == [f"h{n}.json" for n in range(5)]
    assert cursor.position == reads.layout.metrics.stat().st_size
    _append(reads, 5, 6, 7)
    new, after = reads.events(cursor)
    assert _handoffs(new) == ["h5.json", "h6.json", "h7.json"]
    assert reads.events(after) == ([], after)  # nothing new: same cursor, nothing returned


def test_a_line_still_being_written_is_returned_once_when_whole(reads: FilesystemReads) -> None:
    _append(reads, 0)
    _, cursor = reads.events(None)
    whole = msgspec.json.encode(_line(1)) + b"\n"
    with open(reads.layout.metrics, "ab") as fh:
        fh.write(whole[:20])
    lines, cursor = reads.events(cursor)
    assert lines == []  # half a line is not a line yet
    with open(reads.layout.metrics, "ab") as fh:
        fh.write(whole[20:])
    lines, cursor = reads.events(cursor)
    assert _handoffs(lines) == ["h1.json"]
    assert reads.events(cursor)[0] == []


def test_after_rotations_nothing_is_lost_or_read_twice(reads: FilesystemReads) -> None:
    metrics = reads.layout.metrics
    _append(reads, 0, 1, 2)
    _, cursor = reads.events(None)
    _append(reads, 3, 4)  # written to the file that is then rotated
    first = rotate_metrics(metrics, 0, now=1.7e9)
    _append(reads, 5)  # a fresh live file, rotated again before anybody reads
    second = rotate_metrics(metrics, 0, now=1.7e9 + 1)
    _append(reads, 6, 7)
    assert first is not None and second is not None
    assert metrics_files(metrics) == [first, second, metrics]
    lines, cursor = reads.events(cursor)
    assert _handoffs(lines) == [f"h{n}.json" for n in (3, 4, 5, 6, 7)]
    assert reads.events(cursor)[0] == []
    _append(reads, 8)
    assert _handoffs(reads.events(cursor)[0]) == ["h8.json"]
    # A reader starting afresh reads every file, oldest first, each line once.
    assert _handoffs(reads.events(None)[0]) == [f"h{n}.json" for n in range(9)]


def test_a_rotation_with_no_live_file_yet_keeps_the_place(reads: FilesystemReads) -> None:
    _append(reads, 0, 1)
    _, cursor = reads.events(None)
    _append(reads, 2)
    rotate_metrics(reads.layout.metrics, 0, now=1.7e9)
    assert not reads.layout.metrics.exists()
    lines, cursor = reads.events(cursor)
    assert _handoffs(lines) == ["h2.json"]
    assert reads.events(cursor)[0] == []
    _append(reads, 3)
    assert _handoffs(reads.events(cursor)[0]) == ["h3.json"]


def test_when_the_cursors_file_was_pruned_the_files_written_after_it_are_read(
        reads: FilesystemReads) -> None:
    _append(reads, 0)
    _, cursor = reads.events(None)
    old = rotate_metrics(reads.layout.metrics, 0, now=1.7e9)
    assert old is not None
    _append(reads, 1, 2)
    old.unlink()  # pruned before the reader came back
    lines, cursor = reads.events(cursor)
    assert _handoffs(lines) == ["h1.json", "h2.json"]
    assert reads.events(cursor)[0] == []


def test_lines_that_do_not_decode_are_skipped_and_the_rest_returned(
        reads: FilesystemReads) -> None:
    _append(reads, 0)
    with open(reads.layout.metrics, "ab") as fh:
        fh.write(b'{"torn": \n' + b"[1, 2]\n")
    _append(reads, 1)
    lines, cursor = reads.events(None)
    assert _handoffs(lines) == ["h0.json", "h1.json"]
    assert cursor.position == reads.layout.metrics.stat().st_size


def test_a_50_mb_history_is_read_once_and_a_poll_reads_only_what_is_new(
        reads: FilesystemReads) -> None:
    if not Path("/proc/self/io").exists():
        pytest.skip("needs /proc/self/io (Linux) to count the bytes read")
    metrics = reads.layout.metrics
    line = msgspec.json.encode(_line(0, pad=900)) + b"\n"
    count = (50 << 20) // len(line) + 1
    with open(metrics, "wb") as fh:
        fh.write(line * count)
    size = metrics.stat().st_size
    assert size >= 50 << 20

    before = _rchar()
    lines, cursor = reads.events(None)
    first_read = _rchar() - before
    assert len(lines) == count and cursor.position == size
    assert first_read >= size  # the whole history, once
    del lines

    before = _rchar()
    for _ in range(20):  # a scraper's polls with nothing new
        assert reads.events(cursor) == ([], cursor)
    assert _rchar() - before < 64 << 10

    _append(reads, 1, 2)
    before = _rchar()
    new, cursor = reads.events(cursor)
    assert _handoffs(new) == ["h1.json", "h2.json"]
    assert _rchar() - before < 64 << 10  # the two new lines, not the 50 MB before them

    # Rotated: the old file's remainder (empty) and the new file, nothing re-read.
    rotate_metrics(metrics, 0, now=1.7e9)
    _append(reads, 3)
    before = _rchar()
    new, cursor = reads.events(cursor)
    assert _handoffs(new) == ["h3.json"]
    assert _rchar() - before < 64 << 10
    assert os.stat(metrics).st_size == cursor.position


def test_the_filesystem_reads_have_exactly_the_signatures_of_the_backend_seam() -> None:
    import inspect

    from repairlab.state.backend import Backend

    names = ["release", "release_all", "prune", "status", "quarantined", "quarantine_detail",
             "lineage", "challengers", "recent_challengers", "event_batches", "events"]
    for name in names:
        mine, seam = getattr(FilesystemReads, name), getattr(Backend, name)
        assert getattr(seam, "__isabstractmethod__", False), name
        assert inspect.signature(mine) == inspect.signature(seam), name
