from unique_tags import unique_tags


def test_sorted_unique():
    posts = [{"tags": ["Python", "web"]}, {"tags": ["python"]}]
    assert unique_tags(posts) == ["python", "web"]


def test_no_tags():
    assert unique_tags([{}]) == []


def test_first_is_alphabetical():
    assert unique_tags([{"tags": ["b", "a"]}])[0] == "a"
