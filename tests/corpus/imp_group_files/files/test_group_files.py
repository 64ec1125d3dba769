from group_files import extension_counts, group_by_extension


def test_groups():
    assert group_by_extension(["b.py", "a.PY", "notes.txt"]) == {"py": ["a.PY", "b.py"], "txt": ["notes.txt"]}


def test_no_extension():
    assert group_by_extension(["Makefile", ".bashrc"]) == {"": [".bashrc", "Makefile"]}


def test_counts():
    assert extension_counts(["x.c", "y.c", "z.h"]) == {"c": 2, "h": 1}
