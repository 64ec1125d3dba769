import pytest

from grep import grep


LINES = ["Disk FULL", "disk ok", "", "net down", "DISK full again"]


@pytest.mark.parametrize(("pattern", "ic", "expected"), [
    ("disk", False, ["disk ok"]),
    ("disk", True, ["Disk FULL", "disk ok", "DISK full again"]),
    ("", False, LINES),
    ("full", True, ["Disk FULL", "DISK full again"]),
    (" ", False, ["Disk FULL", "disk ok", "net down", "DISK full again"]),
])
def test_cases(pattern, ic, expected):
    assert grep(LINES, pattern, ignore_case=ic) == expected
