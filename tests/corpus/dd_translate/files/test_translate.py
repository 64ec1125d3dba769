from translate import translate


def test_german():
    assert translate("Save", "de") == "Speichern"


def test_missing_key_falls_back():
    assert translate("Cancel", "fr") == "Cancel"


def test_unknown_language():
    assert translate("Save", "xx") == "Save"
