from unique_tags import unique_tags


def test_many():
    posts = [{"tags": [c, c.upper()]} for c in "zyxabc"]
    assert unique_tags(posts) == list("abcxyz")


def test_no_posts():
    assert unique_tags([]) == []
