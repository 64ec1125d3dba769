"""Unit conversions for the weather widget."""


def to_celsius(fahrenheit):
    """Degrees Fahrenheit to degrees Celsius, rounded to two decimals."""
    return round((fahrenheit - 32) * 9 / 5, 2)


def to_fahrenheit(celsius):
    """Degrees Celsius to degrees Fahrenheit, rounded to two decimals."""
    return round(celsius * 9 / 5 + 32, 2)
