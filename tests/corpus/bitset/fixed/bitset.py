class BitSet:
    """A set of small non-negative integers kept in one int."""

    def __init__(self):
        self.bits = 0

    def add(self, i):
        self.bits |= 1 << i

    def discard(self, i):
        self.bits &= ~(1 << i)

    def __contains__(self, i):
        return (self.bits >> i) & 1 == 1

    def __len__(self):
        return bin(self.bits).count("1")
