import pytest

from parse_payload import parse_payload


@pytest.mark.parametrize("body", ["[", "nul", "{'a': 1}", "   "])
def test_invalid(body):
    assert parse_payload(body) == {"error": "invalid json"}


def test_bytes_body():
    assert parse_payload(b'{"a": [1, 2]}') == {"a": [1, 2]}
