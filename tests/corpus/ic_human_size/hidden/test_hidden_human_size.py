import pytest

from human_size import human_size


@pytest.mark.parametrize(("n", "expected"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1000, "1000 B"), (1024 ** 3, "1.0 GiB"),
    (1024 ** 5, "1024.0 TiB"), (1048575, "1024.0 KiB"),
])
def test_cases(n, expected):
    assert human_size(n) == expected
