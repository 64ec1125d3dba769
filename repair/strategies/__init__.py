"""Repair strategies, each a plain object that proposes candidate files.

A strategy is looked up by its SPEC name in `REGISTRY`. The engine gives it a
`Context` and it returns a `Fix` (files that passed the bundle's tests, as judged
through `Context.judge`) or None.
"""

from repair.strategies.base import Context, Fix, Strategy
from repair.strategies.noop import Noop

REGISTRY: dict[str, type[Strategy]] = {"noop": Noop}

__all__ = ["REGISTRY", "Context", "Fix", "Strategy"]
