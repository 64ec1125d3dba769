from parse_headers import parse_headers


def test_simple():
    assert parse_headers(["Content-Type: text/html"]) == {"content-type": "text/html"}


def test_value_with_colon():
    assert parse_headers(["Host: example.com:8080"]) == {"host": "example.com:8080"}


def test_url_value():
    assert parse_headers(["Referer: https://a.b/c"])["referer"] == "https://a.b/c"
