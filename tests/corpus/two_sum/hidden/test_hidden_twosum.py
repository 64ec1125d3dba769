import pytest

from twosum import two_sum


@pytest.mark.parametrize(("nums", "target", "pair"), [
    ([2, 7, 11, 15], 9, (0, 1)), ([3, 3], 6, (0, 1)), ([3], 6, None), ([1, 5, 3, 3], 6, (0, 1)),
    ([4, 1, 2], 8, None), ([0, 4, 0], 0, (0, 2)), ([], 1, None),
])
def test_cases(nums, target, pair):
    assert two_sum(nums, target) == pair
