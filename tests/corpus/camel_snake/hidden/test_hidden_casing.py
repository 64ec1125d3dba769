import pytest

from casing import camel_to_snake, snake_to_camel


@pytest.mark.parametrize(("camel", "snake"), [
    ("x", "x"), ("parseHttpRequest", "parse_http_request"), ("aB", "a_b"), ("value2Go", "value2_go"),
])
def test_cases(camel, snake):
    assert camel_to_snake(camel) == snake
    assert snake_to_camel(snake) == camel


def test_leading_capital():
    assert camel_to_snake("Name") == "name"
