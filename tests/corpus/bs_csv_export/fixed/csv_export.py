"""CSV export of the contacts table."""

import csv
import io


def to_csv(rows, header=("name", "email")):
    """The rows (tuples) as CSV text with a header line and \\n line endings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
