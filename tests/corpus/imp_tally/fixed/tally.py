"""Vote tallying for the team poll bot."""

from collections import Counter


def tally(votes):
    """(option, count) pairs, most votes first; ties in order of first vote."""
    return Counter(v.strip().lower() for v in votes if v.strip()).most_common()


def winner(votes):
    """The option with most votes, or None when nobody voted."""
    ranking = tally(votes)
    return ranking[0][0] if ranking else None
