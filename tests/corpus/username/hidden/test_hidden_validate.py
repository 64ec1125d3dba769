import pytest

from validate import valid_username


@pytest.mark.parametrize(("name", "ok"), [
    ("abc", True), ("Abc", True), ("ABC123", True), ("a" * 12, True), ("a" * 13, False), ("ab", False),
    ("1abc", False), ("ab_c", False), ("", False), ("MixedCase9", True),
])
def test_cases(name, ok):
    assert valid_username(name) is ok
