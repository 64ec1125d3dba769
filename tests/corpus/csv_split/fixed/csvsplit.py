def split_row(line):
    """Fields of one CSV line; double quotes protect commas and are dropped."""
    fields = []
    cur = ""
    in_quotes = False
    for ch in line:
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            fields.append(cur)
            cur = ""
        else:
            cur += ch
    fields.append(cur)
    return fields
