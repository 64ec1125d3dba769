from timeout_setting import client_options


def test_only_timeout():
    assert client_options({"timeout": "2.5"}) == {"timeout": 2.5, "retries": 0}


def test_extra_keys_ignored():
    assert client_options({"proxy": "x"}) == {"timeout": 30.0, "retries": 0}


def test_zero_timeout_kept():
    assert client_options({"timeout": 0})["timeout"] == 0.0
