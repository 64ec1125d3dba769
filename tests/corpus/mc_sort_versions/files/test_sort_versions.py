from sort_versions import newest, sort_versions


def test_numeric_order():
    assert sort_versions(["1.10", "1.9", "1.2"]) == ["1.2", "1.9", "1.10"]


def test_newest():
    assert newest(["2.0", "10.0", "9.9"]) == "10.0"


def test_empty():
    assert newest([]) is None
