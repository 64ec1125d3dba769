import pytest

from token_b64 import make_token, read_token


@pytest.mark.parametrize(("user", "secret"), [("", ""), ("üser", "pässwort"), ("a", "b:c"), ("x" * 50, "?")])
def test_round_trips(user, secret):
    token = make_token(user, secret)
    assert isinstance(token, str)
    assert read_token(token) == (user, secret)


def test_url_safe_alphabet():
    token = make_token("~~~", ">>>?")
    assert "+" not in token and "/" not in token
