"""What one test run of one candidate tells."""

from __future__ import annotations

import msgspec


class TestReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of running a bundle's tests once.

    `outcomes` maps each test's node id to whether it passed. `coverage`, when the
    run was asked for it, maps each node id to ``{path: [line, ...]}`` of the
    bundle's own (non-test) files that the test executed. `durations` holds each
    test's seconds (setup, call and teardown), where the runner measured them. A run that timed out,
    crashed or could not start has `timed_out` or `crashed` set and counts as
    failing whatever the counts say.
    """

    __test__ = False  # not a pytest test class, despite the name

    passed: int = 0
    failed: int = 0
    errors: int = 0
    duration_s: float = 0.0
    exit_code: int = -1
    timed_out: bool = False
    crashed: bool = False
    output: str = ""
    outcomes: dict[str, bool] = msgspec.field(default_factory=dict)
    coverage: dict[str, dict[str, list[int]]] | None = None
    durations: dict[str, float] = msgspec.field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every test that ran, whatever its result."""
        return self.passed + self.failed + self.errors

    @property
    def ok(self) -> bool:
        """The SPEC's pass: pytest exited 0 having run at least one test."""
        return (
            self.exit_code == 0
            and self.passed >= 1
            and self.failed == 0
            and self.errors == 0
            and not self.timed_out
            and not self.crashed
        )

    def summary(self) -> str:
        """One line for logs and failure reasons."""
        if self.timed_out:
            return f"tests timed out after {self.duration_s:.1f}s"
        if self.crashed:
            return f"test run crashed (exit {self.exit_code})"
        return (
            f"{self.passed} passed, {self.failed} failed, {self.errors} errors "
            f"(exit {self.exit_code})"
        )
