from join_cells import join_cells


def test_default():
    assert join_cells(["a", 1]) == "a | 1"


def test_custom_sep():
    assert join_cells(["a", "b"], sep=",") == "a,b"


def test_none_cell():
    assert join_cells([None, "x"], sep=";") == ";x"
