import os

import pytest

from common_prefix import common_prefix


@pytest.mark.parametrize("paths", [[], ["one"], ["", "a"], ["ab", "abc", "abd"], ["same", "same"], ["/x/y", "/x", "/x/z"]])
def test_matches_os_path(paths):
    assert common_prefix(paths) == os.path.commonprefix(paths)
