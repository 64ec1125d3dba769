import itertools

import pytest

from collapse_repeats import collapse_repeats


@pytest.mark.parametrize("items", [[], [0], [None, None], [1, 1, 1, 1], [1, 2, 1, 2],
                                   list("mississippi"), [0, 0.0, False, 1, True]])
def test_matches_groupby(items):
    assert collapse_repeats(items) == [k for k, _ in itertools.groupby(items)]


def test_accepts_a_generator():
    assert collapse_repeats(x // 2 for x in range(6)) == [0, 1, 2]
