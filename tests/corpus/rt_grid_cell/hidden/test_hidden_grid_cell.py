from grid_cell import bucket, cell_of


def test_cells_are_hashable():
    assert len({cell_of(x, x) for x in range(100)}) == 10


def test_custom_size():
    assert cell_of(2.5, 7.9, size=2.5) == (1, 3)
    assert bucket([], size=3) == {}
