import pytest

from as_list import as_list


@pytest.mark.parametrize(("value", "expected"), [
    (0, [0]), ("", [""]), ({"a": 1}, [{"a": 1}]), ([], []), ([None], [None]), (False, [False]),
])
def test_cases(value, expected):
    assert as_list(value) == expected


def test_list_is_copied():
    original = [1]
    got = as_list(original)
    assert got == [1] and got is not original
