"""A pytest plugin loaded into the child that runs a bundle's tests.

`ReportPlugin` records each test's outcome and, when given a started
``coverage.Coverage``, switches its dynamic context to the test's node id for the
whole of that test (setup, call and teardown), so that per-test line coverage comes
out keyed by node id. The warm runner registers a fresh instance per candidate.

The module-level hooks serve the reference runner, which copies this file into a
directory of its own and loads it as ``-p _repairlab_report_plugin``: they record
into one module-wide instance and write its JSON to the file named by
``REPAIRLAB_REPORT`` when the session ends.

This module imports nothing but the standard library, because the sandbox's fork
server loads it by path under a private name: importing ``repair`` there would put
repairlab's own modules in the way of a bundle's modules of the same name.
"""

from __future__ import annotations

import json
import os
from typing import Any


class ReportPlugin:
    """Outcomes (node id -> passed) and errors of one pytest session.

    A test counts as failed if any of its phases failed; a failure outside the call
    (setup or teardown) also makes it an error. A module that fails to import is an
    error too, under its own node id, so a broken bundle never looks like zero tests.
    """

    def __init__(self, coverage: Any = None) -> None:
        self.outcomes: dict[str, bool] = {}
        self.errors: set[str] = set()
        self.durations: dict[str, float] = {}
        self.exit: int | None = None
        self._coverage = coverage
        self._measuring = False

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        """Attribute every line run from here to the end of this test to it.

        Coverage starts at the first test, not before: collection then runs at full
        speed, and what it executes (module bodies) belongs to no test anyway.
        """
        if self._coverage is not None:
            if not self._measuring:
                self._coverage.start()
                self._measuring = True
            self._coverage.switch_context(nodeid)

    def stop_coverage(self) -> None:
        """Stop measuring, if it ever started."""
        if self._coverage is not None and self._measuring:
            self._coverage.stop()
            self._measuring = False

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        """Lines run between tests (collection, session fixtures) belong to none."""
        if self._coverage is not None:
            self._coverage.switch_context("")

    def pytest_runtest_logreport(self, report: Any) -> None:
        """Record a test as failed if any phase failed, as passed if its call passed.

        A test skipped in its body, or xfailed, is left out like one skipped at setup:
        it neither passed nor failed.
        """
        nodeid = report.nodeid
        self.durations[nodeid] = self.durations.get(nodeid, 0.0) + float(report.duration)
        if report.failed:
            if report.when != "call":
                self.errors.add(nodeid)
            self.outcomes[nodeid] = False
        elif report.when == "call" and report.passed and nodeid not in self.outcomes:
            self.outcomes[nodeid] = True

    def pytest_collectreport(self, report: Any) -> None:
        """A module that fails to import is an error, not a silent zero."""
        if report.failed:
            self.errors.add(report.nodeid or "<collection>")

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        """Remember pytest's exit status for `data`."""
        self.exit = int(exitstatus)

    def data(self) -> dict[str, Any]:
        """The JSON-ready record the runners turn into a `TestReport`."""
        return {"outcomes": self.outcomes, "errors": sorted(self.errors), "exit": self.exit,
                "durations": self.durations}


_default = ReportPlugin()


def pytest_runtest_logreport(report: Any) -> None:
    """See `ReportPlugin.pytest_runtest_logreport`."""
    _default.pytest_runtest_logreport(report)


def pytest_collectreport(report: Any) -> None:
    """See `ReportPlugin.pytest_collectreport`."""
    _default.pytest_collectreport(report)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the outcomes to ``REPAIRLAB_REPORT`` for the parent to read; without
    that variable nothing is written (and a missing report reads as a crash)."""
    _default.pytest_sessionfinish(session, exitstatus)
    path = os.environ.get("REPAIRLAB_REPORT")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_default.data(), fh)
