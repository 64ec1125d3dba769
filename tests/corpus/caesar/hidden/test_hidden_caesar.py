import string

from caesar import decode, encode


def test_rot13_known():
    assert encode("Hello, World!", 13) == "Uryyb, Jbeyq!"


def test_round_trip_all_shifts():
    text = string.ascii_letters + " 123 ?"
    for shift in range(-30, 30):
        assert decode(encode(text, shift), shift) == text
    assert encode("xyz", 3) == "abc"
