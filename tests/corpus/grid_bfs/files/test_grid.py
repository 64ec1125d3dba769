from grid import shortest_path

OPEN = ["....", "....", "....", "...."]
WALLED = ["..#.", "..#.", "..#.", "..#."]


def test_same_cell():
    assert shortest_path(OPEN, (0, 0), (0, 0)) == 0


def test_open_grid():
    assert shortest_path(OPEN, (0, 0), (3, 3)) == 6


def test_around_wall():
    grid = ["....", ".##.", "...."]
    assert shortest_path(grid, (1, 0), (1, 3)) == 5


def test_unreachable():
    assert shortest_path(WALLED, (0, 0), (0, 3)) == -1
