"""Repair strategies, each a plain object that proposes candidate files.

A strategy is looked up by its SPEC name in `REGISTRY`. The engine gives it a
`Context` and it returns a `Fix` (files that passed the bundle's tests, as judged
through `Context.judge`) or None.
"""

from repairlab.repair.strategies.adapter import SignatureAdapter
from repairlab.repair.strategies.base import Context, Fix, Strategy
from repairlab.repair.strategies.external import ExternalAgent
from repairlab.repair.strategies.llm import LlmStrategy
from repairlab.repair.strategies.microfix import HeuristicMicrofix
from repairlab.repair.strategies.noop import Noop
from repairlab.repair.strategies.transplant import PatternTransplant

REGISTRY: dict[str, type[Strategy]] = {
    "noop": Noop,
    "signature_adapter": SignatureAdapter,
    "pattern_transplant": PatternTransplant,
    "heuristic_microfix": HeuristicMicrofix,
    "llm": LlmStrategy,
    "external_agent": ExternalAgent,
}

__all__ = ["REGISTRY", "Context", "Fix", "Strategy"]
