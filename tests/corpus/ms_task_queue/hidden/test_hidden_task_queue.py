import pytest

from task_queue import TaskQueue


def test_counters_over_a_long_run():
    q = TaskQueue()
    for i in range(50):
        q.add(i)
        if i % 3 == 0:
            assert q.pop() == i // 3
    st = q.status()
    assert st["added"] == 50
    assert st["done"] == 17
    assert st["pending"] == 33


def test_empty_pop_raises_and_counts_nothing():
    q = TaskQueue()
    with pytest.raises(IndexError):
        q.pop()
    assert q.status()["done"] == 0
