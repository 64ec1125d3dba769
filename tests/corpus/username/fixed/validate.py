def valid_username(name):
    """3 to 12 letters or digits, starting with a letter."""
    return 3 <= len(name) <= 12 and name.isalnum() and name[0].isalpha()
