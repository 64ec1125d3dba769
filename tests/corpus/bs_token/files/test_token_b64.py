from token_b64 import make_token, read_token


def test_token_is_text():
    assert make_token("ann", "pw") == "YW5uOnB3"


def test_round_trip():
    assert read_token(make_token("bob", "s3cret")) == ("bob", "s3cret")


def test_fits_in_a_header():
    assert "Bearer " + make_token("c", "d") == "Bearer Yzpk"
