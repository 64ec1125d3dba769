from grep import grep


def test_plain():
    assert grep(["error: x", "ok", "another error"], "error") == ["error: x", "another error"]


def test_ignore_case():
    assert grep(["ERROR", "fine"], "error", ignore_case=True) == ["ERROR"]


def test_no_match():
    assert grep(["a", "b"], "zzz") == []
