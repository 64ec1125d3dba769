"""Shared fixtures: real state roots under tmp_path, real daemons, fault injection.

Fault injection uses the code's own named points (`faults.inject`), switched on
through the `[faults]` config table, exactly as an operator would.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import faults
from cli.submit import build_handoff, enqueue
from config import Config, load_config
from repair.runner import Runner, make_runner
from state.layout import Layout
from supervision.daemon import Daemon

PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": (
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    ),
}

FAILING = {
    "calc.py": "def add(a, b):\n    raise RuntimeError('no')\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def spec_sha256(files: dict[str, str]) -> str:
    """SPEC §2's bundle_sha256, written out independently of the product code."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.encode()):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def variant(files: dict[str, str], n: int) -> dict[str, str]:
    """The same bundle with a distinct hash (a trailing comment)."""
    out = dict(files)
    out["calc.py"] = files["calc.py"] + f"# variant {n}\n"
    return out


@pytest.fixture(autouse=True)
def _faults_off() -> Iterator[None]:
    faults.reset()
    yield
    faults.reset()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    """The production runner (`make_runner`: the warm sandboxed one), shared by a
    module's tests. REPAIRLAB_RUNNER=subprocess swaps in the reference runner, to
    tell a strategy's fault from the runner's."""
    chosen = make_runner()
    yield chosen
    chosen.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A config over `tmp_path/state`, quick settings, with per-test overrides:
    `make_config(backoff={"base_seconds": 0.1})`."""

    def make(**sections: dict[str, Any]) -> Config:
        base: dict[str, dict[str, Any]] = {
            "paths": {"root": str(tmp_path / "state")},
            "instance": {"id": "test-a"},
            "backoff": {"base_seconds": 0.05, "max_seconds": 0.2},
            "repair": {"workers": 2, "test_timeout_seconds": 20, "bundle_timeout_seconds": 30,
                       "strategies": ["noop"]},
            "watch": {"rescan_seconds": 0.5, "heartbeat_seconds": 1},
        }
        for name, values in sections.items():
            base.setdefault(name, {}).update(values)
        return load_config(None, overrides=base)

    return make


def submit(layout: Layout, files: dict[str, str], name: str, *, tool: str = "calc",
           entrypoint: str = "calc.py", lineage: str | None = "calc-line") -> Path:
    """Enqueue a handoff the way a producer does (temp name, then rename)."""
    layout.ensure()
    return enqueue(layout, build_handoff(files, tool, entrypoint, lineage), tool, name)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll until `predicate()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


def names(directory: Path, suffix: str = ".json") -> list[str]:
    """Visible names in a directory ending with `suffix`, sorted."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if p.name.endswith(suffix) and not p.name.startswith("."))


def metric_lines(layout: Layout) -> list[dict[str, Any]]:
    """Every metrics line, decoded as plain JSON (as an external reader would)."""
    if not layout.metrics.exists():
        return []
    return [json.loads(line) for line in layout.metrics.read_text().splitlines()]


@contextmanager
def running(config: Config, **kwargs: Any) -> Iterator[Daemon]:
    """A real daemon with real actors, supervised on a background thread."""
    daemon = Daemon(config, **kwargs)
    daemon.start()
    stop = threading.Event()
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(code=daemon.run(stop, grace_seconds=5)),
                              daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        stop.set()
        thread.join(timeout=30)
        daemon.exit_code = result.get("code")  # type: ignore[attr-defined]
