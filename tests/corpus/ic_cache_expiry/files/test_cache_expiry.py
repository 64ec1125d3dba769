from cache_expiry import expires_at, is_expired


def test_one_day():
    assert expires_at(0, 1) == 86400


def test_not_expired_after_two_hours():
    assert is_expired(1000, 1, 1000 + 7200) is False


def test_expired_after_a_week():
    assert is_expired(0, 7, 7 * 86400) is True
