import pytest

from status_line import status_line


@pytest.mark.parametrize(("code", "expected"), [
    (500, "500 Internal Server Error"), (301, "301 Moved Permanently"), (0, "0 Unknown"), (999, "999 Unknown"),
])
def test_cases(code, expected):
    assert status_line(code) == expected
