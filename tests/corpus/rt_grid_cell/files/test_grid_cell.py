from grid_cell import bucket, cell_of


def test_cell():
    assert cell_of(15, 3) == (1, 0)


def test_bucket():
    assert bucket([(1, 1), (2, 2), (11, 1)]) == {(0, 0): [(1, 1), (2, 2)], (1, 0): [(11, 1)]}


def test_negative():
    assert cell_of(-1, -1) == (-1, -1)
