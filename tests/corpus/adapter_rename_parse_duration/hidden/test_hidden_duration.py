import pytest

from duration import to_seconds


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), (" 1m1s ", 61), ("1h1m1s", 3661), ("0s", 0)])
def test_cases(text, seconds):
    assert to_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["", "1x", "h", "1h 2m"])
def test_bad(bad):
    with pytest.raises(ValueError):
        to_seconds(bad)
