"""What the daemon benchmarks share: the machine description, configs, handoffs,
stand-in repairers, an in-process daemon, RSS readings and the result table.

Every benchmark module has `measure(args) -> list[Row]` and `main(argv)`; `main`
prints what it measured, on what, and its rows as a table. `bench/run_all.py`
runs each module as a child process (`--rows FILE`) and prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loguru import logger  # noqa: E402

from repairlab.actors.base import SupervisedActor  # noqa: E402
from repairlab.cli.submit import build_handoff  # noqa: E402
from repairlab.config import Config, load_config  # noqa: E402
from repairlab.messages.commands import RepairBundle, WorkerFree  # noqa: E402
from repairlab.state.fsops import move_unique  # noqa: E402

PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": ("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
                     "def test_zero():\n    assert add(0, 0) == 0\n"),
}
FAILING = {
    "calc.py": "def add(a, b):\n    raise RuntimeError('no')\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


# -- results --------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the result table. `met` is None where there is no goal."""

    measure: str
    figure: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


def print_table(rows: Sequence[Row], out: Any = None) -> None:
    """The rows as an aligned text table."""
    out = out or sys.stdout
    head = ("measure", "figure", "goal", "met", "how")
    cells = [head] + [(r.measure, r.figure, r.goal,
                       "-" if r.met is None else ("yes" if r.met else "NO"), r.note)
                      for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    for cell in cells:
        line = "  ".join(cell[i].ljust(widths[i]) for i in range(4)) + "  " + cell[4]
        print(line.rstrip(), file=out)
    out.flush()


def write_rows(rows: Sequence[Row], path: str | None) -> None:
    """Save rows as JSON for `run_all.py` (nothing when `path` is None)."""
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in rows]))


def read_rows(path: Path) -> list[Row]:
    """Rows saved by `write_rows`."""
    return [Row(**r) for r in json.loads(path.read_text())]


def parser(doc: str | None, reps: int) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a tiny size, one repetition (tests)")
    p.add_argument("--reps", type=int, default=reps, help="repetitions (median reported)")
    p.add_argument("--dir", default=None, help="where state roots go (default: the system "
                   "temporary directory)")
    p.add_argument("--rows", default=None, help=argparse.SUPPRESS)  # for run_all.py
    return p


def run_main(doc: str | None, reps: int, measure: Callable[[argparse.Namespace], list[Row]],
             argv: Sequence[str] | None, configure: Callable[[argparse.ArgumentParser], None]
             | None = None) -> int:
    """Parse the options, measure, print the table (and save the rows)."""
    p = parser(doc, reps)
    if configure is not None:
        configure(p)
    args = p.parse_args(argv)
    if args.quick:
        args.reps = 1
    quiet_logs()
    rows = measure(args)
    print()
    print_table(rows)
    write_rows(rows, args.rows)
    return 0


# -- the machine ----------------------------------------------------------------------


def filesystem_of(path: Path) -> str:
    """`TYPE (device)` of the mount holding `path`, from /proc/self/mounts."""
    best, found = "", "unknown"
    target = str(Path(path).resolve())
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) \
                and len(mount) >= len(best):
            best, found = mount, f"{parts[2]} ({parts[0]} on {mount})"
    return found


def describe(root: Path) -> str:
    """CPU count, Python, kernel, load, and the filesystem of `root`."""
    load = os.getloadavg()
    return (f"on: {os.cpu_count()} cpus, python {platform.python_version()}, "
            f"linux {platform.release()}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"state root {root} on {filesystem_of(root)}")


def say(text: str) -> None:
    """One progress or description line, at once."""
    print(text, flush=True)


def quiet_logs() -> None:
    """Log to a file-like sink at INFO, as a service does (the cost of formatting
    each line is part of the daemon's cost), but keep the terminal for the table."""
    logger.remove()
    sink = open(os.devnull, "w")  # lives as long as the process
    logger.add(sink, level="INFO", backtrace=False, diagnose=False)


@contextmanager
def state_dir(base: str | None, prefix: str) -> Iterator[Path]:
    """A fresh temporary directory under `base` (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix=f"repairlab-bench-{prefix}-", dir=base) as tmp:
        yield Path(tmp)


# -- statistics -----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0 < q <= 100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """`median (min-max over n)` for the how-column."""
    if len(values) == 1:
        return f"n=1: {fmt.format(values[0])}"
    return (f"median of {len(values)}: {fmt.format(median(values))} "
            f"[{fmt.format(min(values))}-{fmt.format(max(values))}]")


# -- memory ---------------------------------------------------------------------------


def proc_status_kb(field: str, pid: int | str = "self") -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# -- configs and handoffs ---------------------------------------------------------------


def bench_config(root: Path, **sections: dict[str, Any]) -> Config:
    """The built-in defaults over `root`, with a fixed instance id, changed by
    `sections` (`repair={"workers": 2}`)."""
    base: dict[str, dict[str, Any]] = {
        "paths": {"root": str(root)},
        "instance": {"id": "bench"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return load_config(None, overrides=base)


def passing_files(n: int) -> dict[str, str]:
    """A passing two-test bundle with a hash of its own (a trailing comment)."""
    out = dict(PASSING)
    out["calc.py"] = PASSING["calc.py"] + f"# variant {n}\n"
    return out


def failing_files(n: int) -> dict[str, str]:
    """A hopeless bundle with a hash of its own."""
    out = dict(FAILING)
    out["calc.py"] = FAILING["calc.py"] + f"# variant {n}\n"
    return out


def handoff_bytes(files: dict[str, str]) -> bytes:
    """A valid handoff of `files` (tool `calc`, entrypoint `calc.py`)."""
    return build_handoff(files, "calc", "calc.py", "bench")


def write_files(directory: Path, items: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write each (name, data) into `directory` (no fsync: a staging area)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in items:
        path = directory / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def count_entries(directory: Path) -> int:
    """Visible entries of `directory`."""
    try:
        with os.scandir(directory) as it:
            return sum(1 for e in it if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def newest_ctime(directory: Path) -> float:
    """The latest ctime (seconds) of the visible files in `directory`: when the
    last of them was renamed in."""
    latest = 0.0
    with os.scandir(directory) as it:
        for e in it:
            if not e.name.startswith("."):
                latest = max(latest, e.stat(follow_symlinks=False).st_ctime)
    return latest


# -- stand-in repairers -------------------------------------------------------------------


class ClaimClock:
    """Per handoff name: the claim's ctime (ns; the claim is a rename, which sets
    the ctime) and when the stand-in repairer got it (ns, wall clock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claimed: dict[str, tuple[int, int]] = {}


CLOCK = ClaimClock()


class StandInRepairer(SupervisedActor):
    """Stands in for the repair engine (always said in the output): notes when the
    claim happened, then moves it straight to done/, so that the watcher, the
    claims and the actor messages are measured alone."""

    kind = "repairer"

    def handle(self, message: Any) -> Any:
        match message:
            case RepairBundle(claim=claim, name=name):
                got = time.time_ns()
                try:
                    ctime = os.lstat(claim).st_ctime_ns
                except FileNotFoundError:
                    ctime = 0
                with CLOCK.lock:
                    CLOCK.claimed[name] = (ctime, got)
                move_unique(Path(claim), self.runtime.layout.done, name)
                self.settled(claim)
                self.runtime.peers.tell(
                    "watcher", WorkerFree(worker=self.name, name=name))
        return None


@contextmanager
def running_daemon(config: Config, **kwargs: Any) -> Iterator[Any]:
    """A real daemon (real actors) supervised on a background thread."""
    from repairlab.supervision.daemon import Daemon

    daemon = Daemon(config, **kwargs)
    daemon.start()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: daemon.run(stop, grace_seconds=10), daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        stop.set()
        thread.join(timeout=60)


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


# -- a daemon in a child process ----------------------------------------------------------


class ChildDaemon:
    """`bench/_daemon_child.py` over `root`, in its own process group.

    Use as a context manager: entering waits until every actor answers; leaving
    asks it to stop (a stop file), waits, and kills the group if it hangs. Then
    `results` holds what the child wrote and `maxrss_kb` its ru_maxrss (wait4).
    """

    def __init__(self, root: Path, repairer: str, sections: dict[str, Any] | None = None,
                 prune_every: float | None = None) -> None:
        self.root = root
        self.work = root.parent / f"{root.name}.child"
        self.work.mkdir(parents=True, exist_ok=True)
        self.spec = {
            "root": str(root), "sections": sections or {}, "repairer": repairer,
            "ready": str(self.work / "ready"), "stop": str(self.work / "stop"),
            "results": str(self.work / "results.json"), "prune_every": prune_every,
        }
        self.results: dict[str, Any] = {}
        self.maxrss_kb = 0
        self.spawned = 0.0
        self.pid = 0

    def __enter__(self) -> ChildDaemon:
        import subprocess

        spec_path = self.work / "spec.json"
        spec_path.write_text(json.dumps(self.spec))
        self.spawned = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_daemon_child.py")), str(spec_path)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.work / "stderr", "wb"),  # the child owns it
            start_new_session=True)
        self.pid = self.proc.pid
        if not wait_until(lambda: Path(self.spec["ready"]).exists()
                          or self.proc.poll() is not None, timeout=120, poll=0.02):
            self._kill()
            raise RuntimeError("the child daemon did not come up")
        if self.proc.poll() is not None:
            raise RuntimeError(f"the child daemon exited: {self.stderr()[-2000:]}")
        return self

    def alive(self) -> bool:
        """The child is still running."""
        return self.proc.poll() is None

    def check(self) -> None:
        """Raise RuntimeError (with its stderr) if the child has died."""
        if not self.alive():
            raise RuntimeError(f"the child daemon died: {self.stderr()[-2000:]}")

    def stderr(self) -> str:
        """What the child wrote on stderr."""
        return (self.work / "stderr").read_text(errors="replace")

    def _kill(self) -> None:
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __exit__(self, *exc: object) -> None:
        Path(self.spec["stop"]).write_text("stop")
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.maxrss_kb = usage.ru_maxrss
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.05)
        if status is None:
            self._kill()
            self.proc.wait()
            raise RuntimeError("the child daemon did not stop")
        try:
            self.results = json.loads(Path(self.spec["results"]).read_text())
        except (OSError, ValueError):
            raise RuntimeError(f"the child daemon left no results: {self.stderr()[-2000:]}") \
                from None
