"""Price-change badges for the stock ticker."""


def percent_change(old, new):
    """Change from old to new in percent, one decimal; None when old is 0."""
    if old == 0:
        return None
    return round((new - old) / old * 100, 1)


def badge(old, new):
    """'+5.0%', '-2.5%' or 'new' when there is no old price."""
    change = percent_change(old, new)
    if change is None:
        return "new"
    return f"{change:+.1f}%"
