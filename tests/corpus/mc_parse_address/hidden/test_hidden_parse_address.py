import pytest

from parse_address import parse_address


@pytest.mark.parametrize(("text", "expected"), [
    (" a:1 ", ("a", 1)), ("b:", ("b", 80)), ("c:065535", ("c", 65535)),
])
def test_cases(text, expected):
    got = parse_address(text)
    assert got == expected and type(got[1]) is int


def test_custom_default():
    assert parse_address("d", default_port=443) == ("d", 443)


def test_bad_port():
    with pytest.raises(ValueError):
        parse_address("e:http")
