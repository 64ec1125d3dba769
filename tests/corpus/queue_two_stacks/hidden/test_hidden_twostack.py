import pytest

from twostack import Queue


def test_interleaved_fifo():
    q, model = Queue(), []
    for i in range(40):
        q.push(i)
        model.append(i)
        if i % 3 == 2:
            assert q.pop() == model.pop(0)
            assert q.pop() == model.pop(0)
        assert len(q) == len(model)
    while model:
        assert q.pop() == model.pop(0)
    with pytest.raises(IndexError):
        q.pop()
