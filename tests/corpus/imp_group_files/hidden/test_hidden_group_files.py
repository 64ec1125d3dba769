from group_files import extension_counts, group_by_extension


def test_empty():
    assert group_by_extension([]) == {}
    assert extension_counts([]) == {}


def test_double_extension_uses_last():
    assert group_by_extension(["a.tar.gz", "b.gz"]) == {"gz": ["a.tar.gz", "b.gz"]}


def test_trailing_dot():
    assert group_by_extension(["weird."]) == {"": ["weird."]}
