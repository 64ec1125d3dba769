from parse_payload import parse_payload


def test_valid():
    assert parse_payload('{"event": "push"}') == {"event": "push"}


def test_invalid():
    assert parse_payload("{oops") == {"error": "invalid json"}


def test_empty_body():
    assert parse_payload("") == {"error": "invalid json"}
