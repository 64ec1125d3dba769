from task_queue import TaskQueue


def test_fifo_order():
    q = TaskQueue()
    q.add("a")
    q.add("b")
    assert q.pop() == "a"


def test_status_counts_done():
    q = TaskQueue()
    for t in "xyz":
        q.add(t)
    q.pop()
    q.pop()
    assert q.status() == {"pending": 1, "added": 3, "done": 2}


def test_fresh_status():
    assert TaskQueue().status() == {"pending": 0, "added": 0, "done": 0}


def test_done_after_one_pop():
    q = TaskQueue()
    q.add(1)
    q.pop()
    assert q.done == 1
