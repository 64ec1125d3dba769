from count_records import count_records, too_big


def test_empty():
    assert count_records(b"") == 0


def test_crlf():
    assert count_records(b"a\r\nb\r\n") == 2


def test_non_ascii_bytes():
    assert count_records("é,1\nü,2".encode("latin-1")) == 2


def test_under_limit():
    assert too_big(b"x\n" * 4, limit=4) is False
