from describe_user import describe_user


def test_with_email():
    assert describe_user({"name": "Ada", "email": "ada@x.org"}) == "Ada <ada@x.org>"


def test_without_email_key():
    assert describe_user({"name": "Bob"}) == "Bob"


def test_email_none():
    assert describe_user({"name": "Cy", "email": None}) == "Cy"
