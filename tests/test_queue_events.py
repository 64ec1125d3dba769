"""The queue's inotify reader: every way a handoff becomes complete in `queue/` is
reported, and nothing else is."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import wait_for
from repairlab.state.queue_events import QueueNotifier


@pytest.fixture
def seen(tmp_path: Path):
    queue = tmp_path / "queue"
    queue.mkdir()
    names: list[str] = []
    lock = threading.Lock()

    def record(name: str) -> None:
        with lock:
            names.append(name)

    notifier = QueueNotifier(queue, record)
    notifier.start()
    yield queue, names
    notifier.stop()


def test_a_handoff_renamed_in_from_inside_or_outside_the_queue_is_reported(tmp_path, seen):
    queue, names = seen
    (queue / ".a.json.tmp").write_text("{}")
    os.rename(queue / ".a.json.tmp", queue / "a.json")
    outside = tmp_path / "staging"
    outside.mkdir()
    (outside / "b.json").write_text("{}")
    os.rename(outside / "b.json", queue / "b.json")  # watchdog's Observer called this "created"
    wait_for(lambda: sorted(names) == ["a.json", "b.json"], timeout=10, what=str(names))


def test_a_handoff_written_in_place_is_reported_once_closed(seen):
    queue, names = seen
    with open(queue / "c.json", "w") as fh:
        fh.write("{")
        fh.flush()
        assert names == []  # still open: may be half-written
        fh.write("}")
    wait_for(lambda: names == ["c.json"], timeout=10, what=str(names))


def test_temporary_names_and_moves_out_of_the_queue_are_not_reported(tmp_path, seen):
    queue, names = seen
    (queue / ".d.json.tmp").write_text("{}")
    (queue / "e.txt").write_text("{}")
    os.rename(queue / ".d.json.tmp", tmp_path / "d.json")  # a claim: out of the queue
    (queue / "f.json").write_text("{}")  # the marker that everything before was read
    wait_for(lambda: names == ["f.json"], timeout=10, what=str(names))


def test_stop_ends_the_reader_thread_and_closes_its_descriptors(tmp_path):
    before = set(os.listdir("/proc/self/fd"))
    notifier = QueueNotifier(tmp_path, lambda name: None)
    notifier.start()
    assert notifier.running
    notifier.stop()
    notifier.stop()  # twice is harmless
    assert not notifier.running
    wait_for(lambda: set(os.listdir("/proc/self/fd")) <= before, timeout=5,
             what="descriptors closed")


def test_a_real_inotify_queue_overflow_reaches_the_overflow_callback(tmp_path):
    # Events are queued from open() on but read only once start() runs the reader:
    # more renames than the kernel queues make it drop events and say so.
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 200_000:
        pytest.skip(f"max_queued_events is {limit}: too many renames to overflow it")
    overflows: list[bool] = []
    names: list[str] = []
    notifier = QueueNotifier(tmp_path, names.append, lambda: overflows.append(True))
    notifier.open()
    try:
        (tmp_path / "a.json").write_text("{}")
        for _ in range(limit // 2 + 10):  # two IN_MOVED_TO per round
            os.rename(tmp_path / "a.json", tmp_path / "b.json")
            os.rename(tmp_path / "b.json", tmp_path / "a.json")
        notifier.start()
        wait_for(lambda: overflows == [True], timeout=10, what="the overflow report")
    finally:
        notifier.stop()


def test_start_fails_with_oserror_on_a_missing_directory(tmp_path):
    with pytest.raises(OSError):
        QueueNotifier(tmp_path / "missing", lambda name: None).start()
