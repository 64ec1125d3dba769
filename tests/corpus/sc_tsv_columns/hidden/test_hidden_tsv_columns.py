from tsv_columns import column, read_tsv


def test_empty_fields():
    assert read_tsv("a\t\tc\n\n") == [["a", "", "c"]]


def test_first_column():
    assert column("k\tv\nx\t1\ny\t2", "k") == ["x", "y"]


def test_no_rows():
    assert column("k\tv\n", "v") == []
