import pytest

from progress import progress_message


@pytest.mark.parametrize(("done", "total", "expected"), [
    (0, 5, "0/5 files (0%)"), (1, 3, "1/3 files (33%)"), (2, 3, "2/3 files (66%)"),
    (999, 1000, "999/1000 files (99%)"),
])
def test_cases(done, total, expected):
    assert progress_message(done, total) == expected
