import csv
import io

from csv_export import to_csv


def test_round_trip():
    rows = [("Zoë", "z@x"), ('say "hi"', "h@x"), ("multi\nline", "m@x")]
    text = to_csv(rows)
    assert isinstance(text, str)
    assert list(csv.reader(io.StringIO(text))) == [["name", "email"]] + [list(r) for r in rows]


def test_custom_header():
    assert to_csv([(1, 2)], header=("a", "b")) == "a,b\n1,2\n"
