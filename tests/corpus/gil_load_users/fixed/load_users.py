"""Import users from a CSV export (rows of [id, name, email])."""


def load_users(rows):
    """User dicts from rows; rows whose id is not a number (such as a header) are skipped."""
    users = []
    for row in rows:
        if not row[0].strip().isdigit():
            continue
        users.append({"id": int(row[0]), "name": row[1].strip(), "email": row[2].strip()})
    return users
