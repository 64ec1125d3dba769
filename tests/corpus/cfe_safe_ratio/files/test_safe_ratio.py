from safe_ratio import safe_ratio


def test_plain_ratio():
    assert safe_ratio(1, 4) == 0.25


def test_zero_gives_none_when_asked():
    assert safe_ratio(3, 0, default=None) is None


def test_zero_gives_custom_default():
    assert safe_ratio(3, 0, default=-1) == -1
