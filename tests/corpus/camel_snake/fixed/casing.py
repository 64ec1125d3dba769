def camel_to_snake(name):
    """'parseHttpRequest' -> 'parse_http_request'."""
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0:
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def snake_to_camel(name):
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)
