from join_cells import join_cells


def test_more_separators():
    assert join_cells([1, 2, 3], sep="") == "123"
    assert join_cells([], sep=",") == ""
    assert join_cells([0, None, False], sep="/") == "0//False"
    assert join_cells(["a", "b"], delimiter="+") == "a+b"
