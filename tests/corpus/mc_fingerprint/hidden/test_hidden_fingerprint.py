import hashlib

import pytest

from fingerprint import fingerprint


@pytest.mark.parametrize("text", ["", "ünïcödé", "a  b", "\t"])
def test_matches_reference(text):
    expected = hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:12]
    assert fingerprint(text) == expected


def test_distinct():
    assert fingerprint("a") != fingerprint("b")
