import pytest

from strip_suffix import page_slug


@pytest.mark.parametrize(("name", "slug"), [
    ("text.txt", "text"), ("next.txt", "next"), ("a.txt.txt", "a.txt"), ("draft.md", "draft.md"), ("tt", "tt"),
])
def test_cases(name, slug):
    assert page_slug(name) == slug
