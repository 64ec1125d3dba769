from slug import slugify


def test_plain_title():
    assert slugify("Hello World") == "hello-world"


def test_accents_and_punctuation():
    assert slugify("Crème Brûlée, again!") == "creme-brulee-again"


def test_custom_separator():
    assert slugify("a b c", "_") == "a_b_c"
