"""A daemon in a child process of its own, for the latency, backlog and memory benchmarks.

    .venv/bin/python bench/_daemon_child.py SPEC.json

`run.py run` cannot take a stand-in repairer, so this runs the same `Daemon`
(every real actor) with the repairers swapped through `extra_actors`:

- `standin`: `StandInRepairer` (see `_common.py`): no repair engine at all;
- `trivial`: the real `Repairer` and the real `repair.Engine`, over a runner that
  answers from the bundle's text instead of running pytest (a `raise` in
  `calc.py` fails, anything else passes two tests);
- `real`: nothing swapped: the real repairers, engine and sandboxed runner.

SPEC is JSON: `root`, `sections` (config overrides), `repairer`, `ready` (a file
written once every actor answers), `stop` (a file whose appearance stops the
daemon), `results` (JSON written at exit: claim clocks, VmHWM, timestamps) and
optionally `prune_every` (seconds between `PruneNow`s told to the pruner).

Developer's aids for finding what grows (`bench/memory.py` signals at each mark):
`BENCH_OBJECTS=1` prints live objects by type on SIGUSR2; `BENCH_TRACEMALLOC=1`
snapshots on SIGUSR1 and prints the largest differences, last against first, at exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CLOCK, StandInRepairer, bench_config, proc_status_kb, quiet_logs

from repairlab.actors.base import SupervisedActor
from repairlab.actors.repairer import Repairer, make_patterns
from repairlab.messages.commands import PruneNow
from repairlab.repair.report import TestReport
from repairlab.supervision.daemon import Daemon


class TextRunner:
    """A stand-in for the sandboxed test runner: judges a bundle by its text."""

    def run(self, files: Mapping[str, str], tests: Sequence[str], *, timeout: float,
            coverage: bool = False) -> TestReport:
        """Two passing tests, or one failing test when `calc.py` raises."""
        if "raise" in files.get("calc.py", ""):
            return TestReport(failed=1, exit_code=1, duration_s=0.001,
                              outcomes={"test_calc.py::test_add": False}, output="F")
        return TestReport(passed=2, exit_code=0, duration_s=0.001, output="..",
                          outcomes={"test_calc.py::test_add": True,
                                    "test_calc.py::test_zero": True})

    def close(self) -> None:
        """Nothing to release."""


class TrivialEngineRepairer(Repairer):
    """The real repairer and engine over `TextRunner` (no child processes)."""

    def start_up(self) -> None:
        runtime = self.runtime
        self.backend = runtime.backend
        self.runner = TextRunner()
        self.patterns = make_patterns(runtime.layout.patterns)


def main(argv: Sequence[str]) -> int:
    """Run until the stop file appears (or SIGTERM), then write the results."""
    spec: dict[str, Any] = json.loads(Path(argv[0]).read_text())
    quiet_logs()
    config = bench_config(Path(spec["root"]), **spec.get("sections", {}))
    cls = StandInRepairer if spec["repairer"] == "standin" else TrivialEngineRepairer
    workers = config.repair.workers
    constructed = time.time()
    swapped: dict[str, type[SupervisedActor]] = (
        {} if spec["repairer"] == "real" else {f"repairer-{i}": cls for i in range(workers)})
    daemon = Daemon(config, extra_actors=swapped)
    daemon.start()
    started = time.time()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch() -> None:
        while not daemon.healthy(timeout=10):
            time.sleep(0.05)
        Path(spec["ready"]).write_text(str(time.time()))
        stop_file = Path(spec["stop"])
        every = spec.get("prune_every")
        last_prune = time.monotonic()
        while not stop.wait(0.05):
            if stop_file.exists():
                stop.set()
            if every and time.monotonic() - last_prune >= every:
                daemon.runtime.peers.tell("pruner", PruneNow())
                last_prune = time.monotonic()

    threading.Thread(target=watch, daemon=True).start()
    def count_objects(*_: object) -> None:  # a developer's aid: live objects by type
        import collections
        import gc

        counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
        print(sum(counts.values()), counts.most_common(12), file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR2, count_objects)
    trace = bool(os.environ.get("BENCH_TRACEMALLOC"))  # a developer's aid: what grows
    if trace:
        import tracemalloc

        tracemalloc.start(12)
        marks: list[Any] = []
        signal.signal(signal.SIGUSR1, lambda *_: marks.append(tracemalloc.take_snapshot()))
    code = daemon.run(stop, grace_seconds=10)
    if trace and marks:
        for stat in marks[-1].compare_to(marks[0], "traceback")[:12]:
            print(stat, *stat.traceback.format(), sep="\n", file=sys.stderr)
    with CLOCK.lock:
        claimed = dict(CLOCK.claimed)
    Path(spec["results"]).write_text(json.dumps({
        "constructed": constructed, "started": started, "code": code,
        "claimed": claimed, "vmhwm_kb": proc_status_kb("VmHWM"),
        "vmrss_kb": proc_status_kb("VmRSS"),
    }))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
