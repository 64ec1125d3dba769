from twostack import Queue


def test_fifo():
    q = Queue()
    for x in (1, 2, 3):
        q.push(x)
    assert [q.pop(), q.pop(), q.pop()] == [1, 2, 3]


def test_interleaved():
    q = Queue()
    q.push(1)
    q.push(2)
    assert q.pop() == 1
    q.push(3)
    assert [q.pop(), q.pop()] == [2, 3]


def test_len():
    q = Queue()
    q.push("a")
    q.push("b")
    q.pop()
    assert len(q) == 1
