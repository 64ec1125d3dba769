"""Checking the corpus itself: many short pytest runs of the corpus's own code, fast.

Whether a case's given tests fail on its bug, and whether its reference fix passes both
the given and the hidden tests, takes two pytest runs per case: some three hundred for
the whole corpus. A fresh interpreter per run costs a few hundred milliseconds on a busy
machine, so instead each worker process imports pytest once and forks a child per run;
the child changes into the run's scratch directory, runs ``pytest.main`` there and exits
with its status. The children run the corpus's own files, which the repository ships,
not untrusted bundles (those go through `repair.runner`), yet each is still bounded: by
pytest-timeout per test and by a wall-clock kill.

    python -m repair.corpus_check < jobs.json    # the worker; see `run_many`

The worker is started by its import name, so it needs repairlab installed (as the
tests and benchmarks that use it have it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from repairlab.repair.runner import write_tree

KILLED = -9
"""The status of a run killed at its wall-clock limit."""

_PRELOAD = ("base64", "bisect", "collections", "csv", "datetime", "hashlib", "io",
            "itertools", "json", "math", "random", "re", "statistics", "string",
            "unicodedata", "heapq")


@dataclass(frozen=True)
class Run:
    """One pytest run: `tests` over `files`, each test bounded by `timeout` seconds;
    `first_failure` stops at the first failing test (pytest -x)."""

    files: Mapping[str, str]
    tests: tuple[str, ...]
    timeout: float = 10.0
    first_failure: bool = False


def run_many(runs: Sequence[Run], *, workers: int = 2, wall: float = 60.0) -> list[int]:
    """The pytest exit status of each run, in order (0 passed, 1 tests failed, 2
    collection errors, 5 nothing collected, KILLED past `wall` seconds).

    The runs are shared among `workers` worker processes. Raises RuntimeError when a
    worker itself fails (its stderr is in the message), never for what a run does.
    """
    if not runs:
        return []
    with tempfile.TemporaryDirectory(prefix="repairlab-corpus-check-") as tmp:
        jobs = []
        for i, run in enumerate(runs):
            where = Path(tmp) / str(i)
            write_tree(where, run.files)
            jobs.append([str(where), list(run.tests), run.timeout, run.first_failure, wall])
        share = max(1, min(workers, len(jobs)))
        env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "repairlab.repair.corpus_check"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp,
            )
            for _ in range(share)
        ]
        outputs = [p.communicate(json.dumps(jobs[k::share])) for k, p in enumerate(procs)]
        codes: list[int] = [0] * len(jobs)
        for k, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
            if proc.returncode != 0:
                raise RuntimeError(f"corpus check worker failed ({proc.returncode}): {err[-2000:]}")
            for j, code in enumerate(json.loads(out)):
                codes[k + j * share] = int(code)
        return codes


def _run_one(where: str, tests: list[str], timeout: float, first: bool, wall: float,
             *, fork: bool = True) -> int:
    import pytest

    pid = os.fork() if fork else 0
    if pid == 0:  # pragma: no cover - the child
        code = 99
        saved = os.dup(1), os.dup(2), os.getcwd()
        try:
            if fork:
                os.setsid()
            os.chdir(where)
            sys.path.insert(0, where)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            args = ["-q", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
                    "-p", "no:threadexception", "-p", "pytest_timeout",
                    f"--timeout={timeout}", "--rootdir", where, "-o", "addopts=", "--assert=plain",
                    *(["-x"] if first else []), *tests]
            code = int(pytest.main(args))
        finally:
            if fork:
                os._exit(code)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.chdir(saved[2])
            sys.path.remove(where)
    if not fork:
        return code
    deadline = time.monotonic() + wall
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return KILLED
        time.sleep(0.002)


def main() -> int:
    """The worker: a JSON list of jobs on stdin, their exit statuses as JSON on stdout."""
    import pytest  # noqa: F401 - imported once here, inherited by every forked run
    import pytest_timeout  # noqa: F401

    for name in _PRELOAD:  # what corpus tools and tests import most, also inherited
        __import__(name)
    with tempfile.TemporaryDirectory() as empty:  # pytest imports much lazily: warm it
        _run_one(empty, [], 5.0, False, 30.0, fork=False)

    jobs = json.load(sys.stdin)
    codes = [_run_one(where, tests, timeout, first, wall)
             for where, tests, timeout, first, wall in jobs]
    sys.stdout.write(json.dumps(codes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
