from anti_diagonal import diagonal_winner, diagonals


def test_diagonals_3x3():
    m = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert diagonals(m) == ([1, 5, 9], [3, 5, 7])


def test_anti_diagonal_win():
    board = [[" ", " ", "O"], [" ", "O", " "], ["O", "X", "X"]]
    assert diagonal_winner(board) == "O"


def test_no_win():
    board = [["X", " ", " "], [" ", "O", " "], [" ", " ", "X"]]
    assert diagonal_winner(board) is None
