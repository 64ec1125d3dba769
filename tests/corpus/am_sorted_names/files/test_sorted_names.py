from sorted_names import sorted_names


def test_by_score():
    players = [{"name": "a", "score": 1}, {"name": "b", "score": 3}]
    assert sorted_names(players) == ["b", "a"]


def test_tie_by_name():
    players = [{"name": "zed", "score": 2}, {"name": "amy", "score": 2}]
    assert sorted_names(players) == ["amy", "zed"]


def test_empty():
    assert sorted_names([]) == []
