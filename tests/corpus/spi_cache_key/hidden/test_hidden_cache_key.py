import pytest

from cache_key import cache_key


@pytest.mark.parametrize(("args", "expected"), [
    ((0, 0), "user:0:page:0:en"), ((123456789, 10, "pt-BR"), "user:123456789:page:10:pt-BR"),
    (("u1", "p2"), "user:u1:page:p2:en"),
])
def test_cases(args, expected):
    assert cache_key(*args) == expected


def test_users_differ():
    assert len({cache_key(u, 1) for u in range(50)}) == 50
