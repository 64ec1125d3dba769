def fizzbuzz(n):
    """The word for n: Fizz, Buzz, FizzBuzz or the number itself."""
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)


def sequence(n):
    return [fizzbuzz(i) for i in range(1, n + 1)]
