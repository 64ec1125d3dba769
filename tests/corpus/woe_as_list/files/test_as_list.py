from as_list import as_list


def test_none():
    assert as_list(None) == []


def test_tuple():
    assert as_list((1, 2)) == [1, 2]


def test_scalar():
    assert as_list("eth0") == ["eth0"]


def test_number():
    assert as_list(8080) == [8080]
