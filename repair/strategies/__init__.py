"""Repair strategies, each a plain object that proposes candidate files.

A strategy is looked up by its SPEC name in `REGISTRY`. The engine gives it a
`Context` and it returns a `Fix` (files that passed the bundle's tests, as judged
through `Context.judge`) or None.
"""

from repair.strategies.adapter import SignatureAdapter
from repair.strategies.base import Context, Fix, Strategy
from repair.strategies.external import ExternalAgent
from repair.strategies.llm import LlmStrategy
from repair.strategies.microfix import HeuristicMicrofix
from repair.strategies.noop import Noop
from repair.strategies.transplant import PatternTransplant

REGISTRY: dict[str, type[Strategy]] = {
    "noop": Noop,
    "signature_adapter": SignatureAdapter,
    "pattern_transplant": PatternTransplant,
    "heuristic_microfix": HeuristicMicrofix,
    "llm": LlmStrategy,
    "external_agent": ExternalAgent,
}

__all__ = ["REGISTRY", "Context", "Fix", "Strategy"]
