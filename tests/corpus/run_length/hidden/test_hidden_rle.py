import pytest

from rle import decode, encode


@pytest.mark.parametrize(("s", "pairs"), [
    ("", []), ("a", [("a", 1)]), ("aaab", [("a", 3), ("b", 1)]), ("abab", [("a", 1), ("b", 1), ("a", 1), ("b", 1)]),
    ("zzzzzzzzzz", [("z", 10)]),
])
def test_round_trip(s, pairs):
    assert encode(s) == pairs
    assert decode(encode(s)) == s
