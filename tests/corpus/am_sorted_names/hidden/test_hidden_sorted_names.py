from sorted_names import sorted_names


def test_input_not_reordered():
    players = [{"name": "b", "score": 1}, {"name": "a", "score": 5}]
    sorted_names(players)
    assert [p["name"] for p in players] == ["b", "a"]


def test_tuple_input():
    players = ({"name": "x", "score": 0}, {"name": "y", "score": -1})
    assert sorted_names(players) == ["x", "y"]
