import pytest

from slug import make_slug, slugify


@pytest.mark.parametrize(("text", "slug"), [("", ""), ("  --  ", ""), ("Ünïcödé Täst 2", "unicode-tast-2"), ("a.b", "a-b")])
def test_cases(text, slug):
    assert slugify(text) == slug
    assert make_slug(text) == slug


def test_separator_keyword():
    assert slugify("x y", sep=".") == "x.y"
