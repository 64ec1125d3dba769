import pytest

from normalize_scores import normalize


@pytest.mark.parametrize(("scores", "expected"), [
    ([1], [100.0]), ([0, 3], [0.0, 100.0]), ([-5, 0, 5], [0.0, 50.0, 100.0]), ([1, 2, 4], [0.0, 33.3, 100.0]),
])
def test_cases(scores, expected):
    assert normalize(scores) == expected
