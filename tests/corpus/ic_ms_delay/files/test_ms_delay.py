from ms_delay import backoff_ms


def test_first_attempt():
    assert backoff_ms(0) == 500


def test_third_attempt():
    assert backoff_ms(2) == 2000


def test_capped():
    assert backoff_ms(20) == 30000
