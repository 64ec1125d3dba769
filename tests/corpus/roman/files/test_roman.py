from roman import from_roman


def test_simple():
    assert from_roman("III") == 3


def test_subtractive():
    assert from_roman("IV") == 4


def test_year():
    assert from_roman("MCMXCIV") == 1994


def test_descending():
    assert from_roman("LXVI") == 66
