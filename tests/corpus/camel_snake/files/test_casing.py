from casing import camel_to_snake, snake_to_camel


def test_camel_to_snake():
    assert camel_to_snake("parseHttpRequest") == "parse_http_request"


def test_leading_capital():
    assert camel_to_snake("Name") == "name"


def test_plain():
    assert camel_to_snake("plain") == "plain"


def test_snake_to_camel():
    assert snake_to_camel("parse_http_request") == "parseHttpRequest"
