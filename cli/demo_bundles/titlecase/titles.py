SMALL = {"a", "an", "the", "of", "and", "or", "in"}


def make_title(text):
    words = text.lower().split()
    out = [w if (i and w in SMALL) else w.capitalize() for i, w in enumerate(words)]
    return " ".join(out)
