from tag_string import tags_to_text, text_to_tags


def test_to_text():
    assert tags_to_text(["python", " web "]) == "python;web"


def test_round_trip():
    assert text_to_tags(tags_to_text(["a", "b", "c"])) == ["a", "b", "c"]


def test_drops_empty():
    assert tags_to_text(["", "x"]) == "x"
