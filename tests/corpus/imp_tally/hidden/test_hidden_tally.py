from tally import tally, winner


def test_tie_goes_to_first_vote():
    assert tally(["x", "y", "y", "x", "z"]) == [("x", 2), ("y", 2), ("z", 1)]
    assert winner(["x", "y", "y", "x"]) == "x"


def test_empty():
    assert tally([]) == []
    assert winner([]) is None
