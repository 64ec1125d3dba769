"""A pytest plugin loaded into the child that runs a bundle's tests.

It records each test's outcome and writes them as JSON to the file named by
``REPAIRLAB_REPORT`` when the session ends. It lives outside the scratch
directory, so the bundle's own files are exactly what the producer sent.
"""

from __future__ import annotations

import json
import os
from typing import Any

_outcomes: dict[str, bool] = {}
_errors: set[str] = set()


def pytest_runtest_logreport(report: Any) -> None:
    """Record a test as failed if any phase failed, as passed if its call passed."""
    nodeid = report.nodeid
    if report.failed:
        if report.when == "call":
            _outcomes[nodeid] = False
        else:
            _errors.add(nodeid)
            _outcomes[nodeid] = False
    elif report.when == "call" and nodeid not in _outcomes:
        _outcomes[nodeid] = bool(report.passed)


def pytest_collectreport(report: Any) -> None:
    """A module that fails to import is an error, not a silent zero."""
    if report.failed:
        _errors.add(report.nodeid or "<collection>")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the outcomes for the parent to read."""
    path = os.environ.get("REPAIRLAB_REPORT")
    if not path:
        return
    data = {"outcomes": _outcomes, "errors": sorted(_errors), "exit": int(exitstatus)}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
