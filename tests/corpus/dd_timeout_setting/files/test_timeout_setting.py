from timeout_setting import client_options


def test_explicit():
    assert client_options({"timeout": 5, "retries": 2}) == {"timeout": 5.0, "retries": 2}


def test_defaults():
    assert client_options({}) == {"timeout": 30.0, "retries": 0}


def test_only_retries():
    assert client_options({"retries": "3"}) == {"timeout": 30.0, "retries": 3}
