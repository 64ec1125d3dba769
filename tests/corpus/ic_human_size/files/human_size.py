"""Human-readable file sizes for the file browser."""

UNITS = ["B", "KiB", "MiB", "GiB", "TiB"]


def human_size(num_bytes):
    """'1.5 KiB' style size with one decimal (bytes are shown whole)."""
    size = float(num_bytes)
    for unit in UNITS:
        if size < 1000 or unit == UNITS[-1]:
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
