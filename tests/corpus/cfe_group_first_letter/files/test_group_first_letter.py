from group_first_letter import group_by_first_letter


def test_groups():
    assert group_by_first_letter(["apple", "Avocado", "banana"]) == {
        "a": ["apple", "Avocado"], "b": ["banana"]}


def test_single_word():
    assert group_by_first_letter(["kiwi"]) == {"k": ["kiwi"]}


def test_skips_empty():
    assert group_by_first_letter(["", "fig"]) == {"f": ["fig"]}
