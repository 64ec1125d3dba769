from url_scheme import normalize_url


def test_adds_scheme():
    assert normalize_url("example.com") == "https://example.com"


def test_keeps_http():
    assert normalize_url("http://a.org/x") == "http://a.org/x"


def test_strips():
    assert normalize_url("  https://b.net ") == "https://b.net"
