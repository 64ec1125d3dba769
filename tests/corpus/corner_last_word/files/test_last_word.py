from last_word import completion_prefix, last_word


def test_last():
    assert last_word("git comm") == "comm"


def test_blank():
    assert last_word("   ") == ""


def test_prefix_of_empty():
    assert completion_prefix("") == ""
