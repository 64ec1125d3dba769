from fizzbuzz import fizzbuzz, sequence


def test_first_hundred():
    for i in range(1, 101):
        expected = "FizzBuzz" if i % 15 == 0 else "Fizz" if i % 3 == 0 else "Buzz" if i % 5 == 0 else str(i)
        assert fizzbuzz(i) == expected
    assert len(sequence(30)) == 30
