from edit_distance import edit_distance, suggest


def test_substitution():
    assert edit_distance("cat", "cut") == 1


def test_insertion_at_front():
    assert edit_distance("ommit", "commit") == 1


def test_deletion_in_middle():
    assert edit_distance("statsus", "status") == 1


def test_suggest():
    assert suggest("psuh", ["push", "pull", "status"]) == "push"
