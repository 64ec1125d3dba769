"""Round-robin schedule for the office table-tennis league."""

import itertools


def matchups(players):
    """Every pairing of two different players, each pairing once, in input order."""
    return list(itertools.combinations(players, 2))


def games_needed(players):
    """How many games a full round robin takes."""
    return len(matchups(players))
