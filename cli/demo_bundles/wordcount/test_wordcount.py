from wordcount import top_words


def test_top_two():
    assert top_words("b a b c a b", 2) == ["b", "a"]


def test_ties_alphabetical():
    assert top_words("x y z", 2) == ["x", "y"]
