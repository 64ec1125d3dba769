import pytest

from wrap import wrap


@pytest.mark.parametrize("width", [1, 3, 5, 8, 13, 40])
def test_lines_fit_and_keep_words(width):
    text = "lorem ipsum dolor sit amet consectetur adipiscing elit"
    lines = wrap(text, max_width=width)
    assert " ".join(lines).split() == text.split()
    assert all(len(line) <= width or " " not in line for line in lines)


def test_empty_and_positional():
    assert wrap("", max_width=5) == []
    assert wrap("a b", 1) == ["a", "b"]
