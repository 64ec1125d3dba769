from tally import tally, winner


def test_tally():
    assert tally(["Pizza", "sushi", "pizza "]) == [("pizza", 2), ("sushi", 1)]


def test_winner():
    assert winner(["a", "b", "b"]) == "b"


def test_nobody_voted():
    assert winner(["", "  "]) is None
