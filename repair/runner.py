"""Running a bundle's tests in a child process.

`Runner` is the seam: the engine only ever calls `run(files, tests, timeout=...)`.
`make_runner()` is the one place to get a runner: the warm sandboxed
`repair.warm_runner.WarmRunner` when its server starts, else this module's
`SubprocessRunner`, the plain reference runner: a fresh ``python -m pytest`` per
candidate, in a scratch directory holding exactly the candidate's files, in its own
process group with resource limits, killed as a group on timeout.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from repairlab.repair.report import TestReport

# The report plugin goes into the child by a private name, from a directory of its own
# in the run's temp dir: the child's path holds nothing else of repairlab (the plugin
# imports only the standard library), so no module of ours shadows a bundle's.
_PLUGIN_FILE = Path(__file__).resolve().with_name("pytest_plugin.py")
_PLUGIN_NAME = "_repairlab_report_plugin"
_OUTPUT_LIMIT = 64 * 1024


class Runner(Protocol):
    """Runs a bundle's tests on candidate files and reports what happened."""

    def run(
        self,
        files: Mapping[str, str],
        tests: Sequence[str],
        *,
        timeout: float,
        coverage: bool = False,
    ) -> TestReport:
        """Run `tests` over `files` in isolation. Never raises for anything the
        candidate does: a hang, crash or bomb comes back as a failing report."""
        ...

    def close(self) -> None:
        """Release any warm process the runner keeps."""
        ...


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Write `files` under `root`. Paths were validated as relative and clean."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _limit_child() -> None:  # pragma: no cover - runs in the child
    os.setsid()
    gib = 1024**3
    for res, value in (
        (resource.RLIMIT_AS, 2 * gib),
        (resource.RLIMIT_FSIZE, 64 * 1024 * 1024),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class SubprocessRunner:
    """A fresh ``python -m pytest`` per run: simple and slow (about 150 ms).

    The warm sandboxed runner replaces it in production; this one stays as the
    reference the benchmarks compare against.
    """

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def close(self) -> None:
        """Nothing to release: every run starts and ends its own process."""

    def run(
        self,
        files: Mapping[str, str],
        tests: Sequence[str],
        *,
        timeout: float,
        coverage: bool = False,
    ) -> TestReport:
        """See `Runner.run`. `coverage` is not supported here and is ignored."""
        with tempfile.TemporaryDirectory(prefix="repairlab-run-") as tmp:
            scratch = Path(tmp) / "work"
            scratch.mkdir()
            write_tree(scratch, files)
            report_path = Path(tmp) / "report.json"
            plugin_dir = Path(tmp) / "plugin"
            plugin_dir.mkdir()
            shutil.copyfile(_PLUGIN_FILE, plugin_dir / f"{_PLUGIN_NAME}.py")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(scratch),
                "PYTHONPATH": str(plugin_dir),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0",
                "REPAIRLAB_REPORT": str(report_path),
            }
            argv = [
                self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-p", _PLUGIN_NAME, "-o", "addopts=", "--rootdir", str(scratch),
                *tests,
            ]
            start = time.monotonic()
            proc = subprocess.Popen(
                argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_limit_child,
            )
            timed_out = False
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                out, _ = proc.communicate()
            finally:
                _kill_group(proc)
            duration = time.monotonic() - start
            return parse_report(report_path, proc.returncode, out, duration, timed_out)


def parse_report(
    report_path: Path, exit_code: int, output: bytes, duration: float, timed_out: bool
) -> TestReport:
    """Build a `TestReport` from the plugin's JSON; a missing or broken report
    means the child died before pytest finished, and counts as a crash."""
    text = output[-_OUTPUT_LIMIT:].decode("utf-8", "replace")
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    return report_from_data(data, exit_code=exit_code, output=text, duration=duration,
                            timed_out=timed_out)


def report_from_data(
    data: Any,
    *,
    exit_code: int,
    output: str,
    duration: float,
    timed_out: bool,
    coverage: Any = None,
) -> TestReport:
    """Build a `TestReport` from the plugin's record (`ReportPlugin.data`).

    A record that is missing or malformed means the child died before pytest
    finished: the report is a crash (or a timeout, if it timed out). Malformed
    coverage is dropped rather than trusted.
    """
    try:
        outcomes = {str(k): bool(v) for k, v in data["outcomes"].items()}
        error_ids = {str(e) for e in data["errors"]}
    except (KeyError, TypeError, AttributeError):
        return TestReport(exit_code=exit_code, duration_s=duration, timed_out=timed_out,
                          crashed=not timed_out, output=output)
    passed = sum(1 for ok in outcomes.values() if ok)
    failed = sum(1 for nid, ok in outcomes.items() if not ok and nid not in error_ids)
    errors = len(error_ids)
    cov: dict[str, dict[str, list[int]]] | None = None
    if isinstance(coverage, dict):
        try:
            cov = {str(nid): {str(p): sorted(int(n) for n in lines)
                              for p, lines in per_file.items()}
                   for nid, per_file in coverage.items()}
        except (AttributeError, TypeError, ValueError):
            cov = None
    durations: dict[str, float] = {}
    raw = data.get("durations") if isinstance(data, dict) else None
    if isinstance(raw, dict):
        durations = {str(k): float(v) for k, v in raw.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return TestReport(
        passed=passed, failed=failed, errors=errors, duration_s=duration, exit_code=exit_code,
        timed_out=timed_out, output=output, outcomes=outcomes, coverage=cov,
        durations=durations,
    )


def make_runner(*, sandbox: bool | None = None, require: bool = False,
                guards: Sequence[str | os.PathLike[str]] = ()) -> Runner:
    """The best runner available: a started `WarmRunner` (sandboxed under bwrap when
    bwrap can run), else the reference `SubprocessRunner` with one warning.

    Call it once per worker thread: each WarmRunner runs one candidate at a time.
    `REPAIRLAB_RUNNER=subprocess` in the environment forces the reference runner
    (to tell a runner fault from anything else). With `require` (the daemon's
    `[sandbox] require = true`) there is no fallback: a runner whose candidates
    could write one of `guards`, reach the network or signal this process is never
    returned, SandboxUnavailable is raised instead.
    """
    from repairlab.repair.warm_runner import SandboxUnavailable, WarmRunner

    if os.environ.get("REPAIRLAB_RUNNER") == "subprocess":
        if require:
            raise SandboxUnavailable("[sandbox] require = true, but REPAIRLAB_RUNNER="
                                     "subprocess forces the reference runner, which "
                                     "isolates nothing")
        return SubprocessRunner()
    runner = WarmRunner(sandbox=sandbox, require=require, guards=guards)
    try:
        runner.start()
    except SandboxUnavailable as exc:
        if require:
            raise
        logger.warning("warm test server unavailable ({}); using a fresh pytest per "
                       "candidate", exc)
        return SubprocessRunner()
    return runner


def remove_tree(path: Path) -> None:
    """Remove a scratch tree, whatever a candidate left in it."""
    shutil.rmtree(path, ignore_errors=True)
