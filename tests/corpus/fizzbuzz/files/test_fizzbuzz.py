from fizzbuzz import fizzbuzz, sequence


def test_fizz():
    assert fizzbuzz(9) == "Fizz"


def test_buzz():
    assert fizzbuzz(10) == "Buzz"


def test_fizzbuzz():
    assert fizzbuzz(30) == "FizzBuzz"


def test_plain():
    assert fizzbuzz(7) == "7"


def test_sequence():
    assert sequence(5) == ["1", "2", "Fizz", "4", "Buzz"]
