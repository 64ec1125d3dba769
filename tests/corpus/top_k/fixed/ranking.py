def top_k(scores, k):
    """The k (name, score) pairs with the highest scores, best first."""
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    return ranked[:k]
