def encode(s):
    """Run-length encoding: 'aaab' -> [('a', 3), ('b', 1)]."""
    out = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append((s[i], j - i))
        i = j
    return out


def decode(pairs):
    return "".join(ch * n for ch, n in pairs)
