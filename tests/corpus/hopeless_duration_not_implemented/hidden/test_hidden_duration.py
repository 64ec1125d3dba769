import pytest

from duration import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("1m", 60), ("0s", 0), ("10h5s", 36005)])
def test_values(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "h", "1x", "1h-2m"])
def test_garbage(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)
