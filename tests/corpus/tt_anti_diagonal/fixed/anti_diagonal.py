"""Board checks for a tic-tac-toe engine."""


def diagonals(matrix):
    """The main and the anti diagonal of a square matrix, as two lists."""
    size = len(matrix)
    main = [matrix[i][i] for i in range(size)]
    anti = [matrix[i][size - 1 - i] for i in range(size)]
    return main, anti


def diagonal_winner(board):
    """The mark ('X' or 'O') filling a whole diagonal of the board, or None."""
    for line in diagonals(board):
        if line[0] != " " and all(cell == line[0] for cell in line):
            return line[0]
    return None
