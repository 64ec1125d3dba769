"""Colour utilities for the theme editor."""


def hex_to_rgb(color):
    """'#ff8800' (or 'ff8800') -> (255, 136, 0)."""
    color = color.lstrip("#")
    if len(color) != 6:
        raise ValueError(f"not a 6-digit hex colour: {color!r}")
    return tuple(int(color[i:i + 2], 10) for i in (0, 2, 4))
