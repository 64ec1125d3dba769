import pytest

from bump_version import bump_patch


@pytest.mark.parametrize(("version", "expected"), [
    ("10.20.99", "10.20.100"), ("2.0.009", "2.0.10"), ("0.1.1", "0.1.2"),
])
def test_cases(version, expected):
    assert bump_patch(version) == expected


@pytest.mark.parametrize("bad", ["1.2.x", "1.2.3.4", ""])
def test_bad(bad):
    with pytest.raises(ValueError):
        bump_patch(bad)
