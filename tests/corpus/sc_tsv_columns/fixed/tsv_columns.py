"""Reader for the tab-separated exports of the lab instrument."""


def read_tsv(text):
    """Rows of a TSV text as lists of fields; blank lines are skipped."""
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def column(text, name):
    """The values of the column called `name` (the first row is the header)."""
    header, *rows = read_tsv(text)
    index = header.index(name)
    return [row[index] for row in rows]
