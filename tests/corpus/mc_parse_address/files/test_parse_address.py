from parse_address import parse_address


def test_with_port():
    assert parse_address("db.local:5432") == ("db.local", 5432)


def test_default_port():
    assert parse_address("web") == ("web", 80)


def test_port_arithmetic():
    host, port = parse_address("x:8000")
    assert port + 1 == 8001
