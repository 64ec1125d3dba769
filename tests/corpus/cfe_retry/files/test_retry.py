import pytest

from retry import retry


def flaky(failures):
    calls = []

    def func():
        calls.append(1)
        if len(calls) <= failures:
            raise OSError("try again")
        return len(calls)
    return func, calls


def test_succeeds_after_four_failures_with_five_retries():
    func, calls = flaky(4)
    assert retry(func, retries=5) == 5


def test_gives_up_after_one():
    func, calls = flaky(1)
    with pytest.raises(OSError):
        retry(func, retries=1)
    assert len(calls) == 1


def test_default_three():
    func, _ = flaky(2)
    assert retry(func) == 3
