from tsv_columns import column, read_tsv


def test_rows():
    assert read_tsv("a\tb\n1\t2\n") == [["a", "b"], ["1", "2"]]


def test_column():
    assert column("id\tvalue\n1\t3.5\n2\t4.0\n", "value") == ["3.5", "4.0"]


def test_commas_are_data():
    assert read_tsv("x,y\tz") == [["x,y", "z"]]
