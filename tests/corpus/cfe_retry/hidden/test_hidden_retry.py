import pytest

from retry import retry


@pytest.mark.parametrize("retries", [1, 2, 3, 4, 7, 10])
def test_exact_number_of_attempts(retries):
    calls = []

    def always_fails():
        calls.append(1)
        raise ValueError(len(calls))

    with pytest.raises(ValueError) as info:
        retry(always_fails, retries=retries)
    assert len(calls) == retries
    assert info.value.args == (retries,)


@pytest.mark.parametrize("retries", [2, 6, 9])
def test_succeeds_on_last_attempt(retries):
    calls = []

    def func():
        calls.append(1)
        if len(calls) < retries:
            raise RuntimeError
        return "ok"

    assert retry(func, retries=retries) == "ok"
