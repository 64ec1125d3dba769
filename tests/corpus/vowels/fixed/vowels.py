VOWELS = "aeiou"


def count_vowels(s):
    """Number of vowels in s, either case."""
    return sum(1 for c in s.lower() if c in VOWELS)


def strip_vowels(s):
    return "".join(c for c in s if c.lower() not in VOWELS)
