from strip_suffix import page_slug


def test_simple():
    assert page_slug("Hello World.txt") == "hello-world"


def test_word_ending_in_t():
    assert page_slug("First Post.txt") == "first-post"


def test_no_suffix():
    assert page_slug("notes") == "notes"
