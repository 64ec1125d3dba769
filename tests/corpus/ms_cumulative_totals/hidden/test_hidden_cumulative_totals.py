import itertools

import pytest

from cumulative_totals import cumulative_totals


@pytest.mark.parametrize("amounts", [[], [0], [5], [-1, -1, -1], [3, -3, 3, -3], list(range(20))])
@pytest.mark.parametrize("opening", [0, 7, -10])
def test_matches_accumulate(amounts, opening):
    expected = list(itertools.accumulate(amounts, initial=opening))[1:]
    assert cumulative_totals(amounts, opening=opening) == expected


def test_floats():
    assert cumulative_totals([0.5, 0.25]) == [0.5, 0.75]
