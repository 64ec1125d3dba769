"""Split a text into its first paragraph."""


def read_until_blank(lines):
    """Return the lines before the first blank (or whitespace-only) line.

    If there is no blank line, every line is returned.
    """
    block = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            break
        block.append(line)
        index += 1
    return block
