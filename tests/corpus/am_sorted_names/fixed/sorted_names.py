"""Leaderboard listing."""


def sorted_names(players):
    """Player names ordered by score (highest first), then by name."""
    ranked = sorted(players, key=lambda p: (-p["score"], p["name"]))
    return [p["name"] for p in ranked]
