from anti_diagonal import diagonal_winner, diagonals


def test_sizes():
    for n in range(1, 6):
        m = [[r * n + c for c in range(n)] for r in range(n)]
        main, anti = diagonals(m)
        assert main == [r * n + r for r in range(n)]
        assert anti == [r * n + (n - 1 - r) for r in range(n)]


def test_main_diagonal_win():
    board = [["X", "O", " "], ["O", "X", " "], [" ", " ", "X"]]
    assert diagonal_winner(board) == "X"


def test_blank_diagonal_is_no_win():
    assert diagonal_winner([[" "] * 3 for _ in range(3)]) is None
