from trees import Tree, depth, size


def test_empty():
    assert depth(None) == 0


def test_leaf():
    assert depth(Tree(1)) == 1


def test_lopsided():
    t = Tree(1, Tree(2, Tree(3)), Tree(4))
    assert depth(t) == 3


def test_size():
    assert size(Tree(1, Tree(2), Tree(3))) == 3
