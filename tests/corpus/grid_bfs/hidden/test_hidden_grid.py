from grid import shortest_path


def test_maze():
    grid = ["....#", ".##.#", "...#.", "#...."]
    assert shortest_path(grid, (0, 0), (3, 4)) == 7
    assert shortest_path(grid, (0, 0), (0, 0)) == 0
    assert shortest_path([".#."], (0, 0), (0, 2)) == -1
    assert shortest_path(["...."], (0, 0), (0, 3)) == 3
