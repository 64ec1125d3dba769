import pytest

from translate import translate


@pytest.mark.parametrize(("key", "lang", "expected"), [
    ("Cancel", "de", "Abbrechen"), ("Save", "fr", "Enregistrer"), ("Quit", "de", "Quit"),
    ("", "de", ""), ("save", "de", "save"),
])
def test_cases(key, lang, expected):
    assert translate(key, lang) == expected
