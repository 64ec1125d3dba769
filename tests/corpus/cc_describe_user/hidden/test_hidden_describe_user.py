import pytest

from describe_user import describe_user


@pytest.mark.parametrize(("user", "expected"), [
    ({"name": "A", "email": ""}, "A"),
    ({"name": "A", "email": "   "}, "A"),
    ({"name": "A", "email": None}, "A"),
    ({"name": "A"}, "A"),
    ({"name": "A", "email": " a@b.c "}, "A <a@b.c>"),
])
def test_cases(user, expected):
    assert describe_user(user) == expected
