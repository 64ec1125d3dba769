from matchups import games_needed, matchups


def test_three_players():
    assert matchups(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_games_for_four():
    assert games_needed("wxyz") == 6


def test_one_player():
    assert matchups(["solo"]) == []
