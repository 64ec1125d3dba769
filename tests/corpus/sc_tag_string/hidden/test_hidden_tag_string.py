from tag_string import tags_to_text, text_to_tags


def test_tags_with_commas_survive():
    tags = ["c, c++", "go"]
    assert text_to_tags(tags_to_text(tags)) == tags


def test_empty():
    assert tags_to_text([]) == ""
    assert text_to_tags("") == []


def test_single():
    assert tags_to_text(["solo"]) == "solo"
