"""Formatting of user records for mail headers."""


def describe_user(user):
    """'Name <email>' for a user dict, or just 'Name' when the email is missing or blank."""
    email = user.get("email")
    if email.strip():
        return f"{user['name']} <{email.strip()}>"
    return user["name"]
