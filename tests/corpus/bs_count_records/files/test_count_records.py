from count_records import count_records, too_big


def test_counts_lines():
    assert count_records(b"a,1\nb,2\nc,3\n") == 3


def test_skips_blank():
    assert count_records(b"a\n\n  \nb") == 2


def test_limit():
    assert too_big(b"x\n" * 5, limit=4) is True
