from slugify import slugify


def test_basic():
    assert slugify("Hello, World!") == "hello-world"


def test_separator():
    assert slugify("a b c", sep="_") == "a_b_c"


def test_empty():
    assert slugify("  ") == ""
