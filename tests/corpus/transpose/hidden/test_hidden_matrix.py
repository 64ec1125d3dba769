from matrix import matmul, transpose


def test_shapes():
    assert transpose([[1]]) == [[1]]
    assert transpose([[1, 2, 3]]) == [[1], [2], [3]]
    assert transpose([[1, 2], [3, 4], [5, 6]]) == [[1, 3, 5], [2, 4, 6]]
    assert matmul([[1, 2]], [[3], [4]]) == [[11]]
    assert matmul([[1, 0], [0, 1]], [[5, 6], [7, 8]]) == [[5, 6], [7, 8]]
