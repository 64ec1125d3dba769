from common_prefix import common_prefix


def test_shared_dir():
    assert common_prefix(["/srv/a/x", "/srv/a/y"]) == "/srv/a/"


def test_no_paths():
    assert common_prefix([]) == ""


def test_nothing_shared():
    assert common_prefix(["abc", "xyz"]) == ""
