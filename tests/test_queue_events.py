"""The queue's inotify reader: every way a handoff becomes complete in `queue/` is
reported, and nothing else is."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import wait_for
from state.queue_events import QueueNotifier


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
    os.rename(outside / "b.json", queue / "b.json")  # watchdog called this "created"
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


def test_watchdogs_overflow_report_reaches_the_overflow_callback(tmp_path):
    # A real IN_Q_OVERFLOW cannot be forced reliably (the reader drains faster
    # than a test can rename), so the hook watchdog calls is called directly;
    # that nothing is lost after a real overflow is tested in test_instances.
    overflows: list[bool] = []
    notifier = QueueNotifier(tmp_path, lambda name: None, lambda: overflows.append(True))
    notifier._callback.on_queue_overflow()
    assert overflows == [True]


def test_start_fails_with_oserror_on_a_missing_directory(tmp_path):
    with pytest.raises(OSError):
        QueueNotifier(tmp_path / "missing", lambda name: None).start()
