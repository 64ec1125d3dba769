"""Log rotation naming."""


def rotated_name(base, index):
    """Name of the index-th rotated file: ('app.log', 2) -> 'app.log.2'; index 0 is base."""
    if index == 0:
        return base
    return base + "." + index


def rotation_names(base, keep):
    """The names of the current file and `keep` rotated ones, newest first."""
    return [rotated_name(base, i) for i in range(keep + 1)]
