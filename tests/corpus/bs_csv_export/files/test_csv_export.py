from csv_export import to_csv


def test_header_only():
    assert to_csv([]) == "name,email\n"


def test_rows():
    assert to_csv([("Ann", "a@x")]) == "name,email\nAnn,a@x\n"


def test_quoting():
    assert to_csv([("Doe, J", "j@x")]) == 'name,email\n"Doe, J",j@x\n'
