from status_line import status_line


def test_known():
    assert status_line(404) == "404 Not Found"


def test_unknown():
    assert status_line(418) == "418 Unknown"


def test_ok():
    assert status_line(200) == "200 OK"
