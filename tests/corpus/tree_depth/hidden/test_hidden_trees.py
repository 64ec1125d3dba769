from trees import Tree, depth, size


def test_depths():
    assert depth(None) == 0
    assert depth(Tree(1)) == 1
    chain = None
    for i in range(20):
        chain = Tree(i, chain)
    assert depth(chain) == 20
    t = Tree(1, Tree(2, None, Tree(3)), Tree(4))
    assert depth(t) == 3
    assert size(t) == 4
