from parse_headers import parse_headers


def test_several():
    lines = ["A: 1", "B:2", "Date: Tue, 01 Jan 2030 10:00:00 GMT", "X-Empty:"]
    assert parse_headers(lines) == {"a": "1", "b": "2", "date": "Tue, 01 Jan 2030 10:00:00 GMT", "x-empty": ""}


def test_none():
    assert parse_headers([]) == {}
