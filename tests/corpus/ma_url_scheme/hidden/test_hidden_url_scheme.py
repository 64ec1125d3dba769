import pytest

from url_scheme import normalize_url


@pytest.mark.parametrize(("url", "expected"), [
    ("", "https://"), ("ftp.example.com", "https://ftp.example.com"),
    ("https://x", "https://x"), ("\thttp://y\n", "http://y"), ("www.httpbin.org", "https://www.httpbin.org"),
])
def test_cases(url, expected):
    assert normalize_url(url) == expected
