def two_sum(nums, target):
    """Indices (i, j), i < j, of two numbers adding up to target, or None."""
    seen = {}
    for j, x in enumerate(nums):
        if target - x in seen:
            return seen[target - x], j
        seen[x] = j
    return None
