from rotated_name import rotated_name, rotation_names


def test_first_rotation():
    assert rotated_name("app.log", 1) == "app.log.1"


def test_current_file():
    assert rotated_name("app.log", 0) == "app.log"


def test_all_names():
    assert rotation_names("x", 2) == ["x", "x.1", "x.2"]
