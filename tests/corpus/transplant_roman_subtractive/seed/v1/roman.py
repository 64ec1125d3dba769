"""Roman numerals (the first version: conversion to Roman only)."""


def to_roman(n):
    """The Roman numeral of 1 <= n <= 3999."""
    if not 1 <= n <= 3999:
        raise ValueError(n)
    table = [
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    ]
    out = []
    for value, letters in table:
        count, n = divmod(n, value)
        out.append(letters * count)
    return "".join(out)
