"""The repair engine: plain code with no actor in it.

`Engine.repair(bundle)` runs the bundle's tests, then the configured strategies in
order, judging every candidate only by the bundle's own tests in a sandboxed child
process. The repairer actor calls it; tests and benchmarks call it directly.
"""

from repairlab.repair.bundle import Bundle
from repairlab.repair.engine import Engine, RepairOutcome, RepairSettings
from repairlab.repair.report import TestReport
from repairlab.repair.runner import Runner, SubprocessRunner

__all__ = [
    "Bundle",
    "Engine",
    "RepairOutcome",
    "RepairSettings",
    "Runner",
    "SubprocessRunner",
    "TestReport",
]
