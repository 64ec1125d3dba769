"""Chaos run: N instances on one state root, random SIGKILLs, injected faults.

    .venv/bin/python bench/chaos.py [--instances 4] [--handoffs 2000] [--seed 1] [--poison 1]
    .venv/bin/python bench/chaos.py --backend postgres [--instances 3] [--handoffs 2000]

(`--backend postgres`: see bench/chaos_pg.py.)

Starts N `run.py run` instances (ids chaos0..chaosN-1) over one fresh root with M
handoffs (passing, fixable, hopeless and corrupt mixed), kills a random instance
with SIGKILL at random intervals and starts it again under the same id, with write
errors and actor crashes injected (`$REPAIRLAB_FAULTS`). When every handoff is
terminal (or the time limit passes) it stops the instances and checks: handoffs in,
in each terminal place, lost, in two places, duplicate challengers, metrics lines
that do not parse, kills survived, restarts, wall time. Exit 0 only when lost,
doubled, duplicate and unparsable are all 0.

`--poison N` makes N of the handoffs poison: bundles that pass their tests but
crash the repairer every time they are held (the fault point
`repairer.handoff[poison-*.json]=crash`). Each must end in `processed/hard_fail/`
with the reason `crashed the repairer: ...`, and no instance's supervisor may give
up (exit non-zero) because of them; both are part of the verdict then.

Every process it starts is in its own process group and is killed by that group's
id, never by name.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from repairlab.cli.submit import build_handoff, enqueue  # noqa: E402
from repairlab.state.layout import Layout  # noqa: E402

FAULTS = ",".join([
    "telemetry.metrics_write=enospc@0.01",
    "telemetry.challenger_write=eio@0.02",
    "telemetry.challenger_publish=eio@0.01",
    "telemetry.challenger_sync=eio@0.01",
    "failures.write=enospc@0.03",
    "quarantine.reason_write=eio@0.03",
    "actor.repairer=crash@0.003",
    "actor.telemetry=crash@0.002",
])

ADD = "def add(a, b):\n    return a {op} b\n"
ADD_TESTS = ("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
             "def test_more():\n    assert add(10, 5) == 15\n")
RENAMED = "def total(xs):\n    return sum(xs)\n"
RENAMED_TESTS = ("from agg import summed\n\n\n"
                 "def test_sum():\n    assert summed([1, 2, 3]) == 6\n\n\n"
                 "def test_empty():\n    assert summed([]) == 0\n")
HOPELESS = "def parse(text):\n    raise NotImplementedError\n"
HOPELESS_TESTS = ("from parse import parse\n\n\ndef test_parse():\n"
                  "    assert parse('1,2') == [1, 2]\n")


def workload(count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, handoff bytes): 50% passing (distinct), 25% fixable (from 20 distinct
    bundles, so most are duplicates of a repaired one), 15% hopeless (30 distinct),
    10% corrupt."""
    items = []
    for i in range(count):
        roll = rng.random()
        name = f"h{i:05d}.json"
        if roll < 0.5:
            files = {"calc.py": ADD.format(op="+") + f"# {i}\n", "test_calc.py": ADD_TESTS}
            data = build_handoff(files, "calc", "calc.py", "chaos-pass")
        elif roll < 0.75:
            k = rng.randrange(20)
            if k % 2:
                files = {"calc.py": ADD.format(op="-") + f"# fix {k}\n", "test_calc.py": ADD_TESTS}
                data = build_handoff(files, "calc", "calc.py", "chaos-fix")
            else:
                files = {"agg.py": RENAMED + f"# fix {k}\n", "test_agg.py": RENAMED_TESTS}
                data = build_handoff(files, "agg", "agg.py", "chaos-fix")
        elif roll < 0.9:
            k = rng.randrange(30)
            files = {"parse.py": HOPELESS + f"# {k}\n", "test_parse.py": HOPELESS_TESTS}
            data = build_handoff(files, "parse", "parse.py", "chaos-hopeless")
        else:
            data = rng.choice([b"", b"{", b"[]", b'{"schema": "nope"}', b"\xff\xfe"])
        items.append((name, data))
    return items


POISON_GLOB = "poison-*.json"
POISON_REASON = "crashed the repairer: "


def add_poison(items: list[tuple[str, bytes]], count: int, rng: random.Random) -> list[str]:
    """Turn `count` handoffs into poison: renamed `poison-NNNNN.json`, with a bundle
    that passes its tests (only the crash can quarantine it). Returns their names."""
    chosen = sorted(rng.sample(range(len(items)), count))
    names = []
    for i in chosen:
        files = {"calc.py": ADD.format(op="+") + f"# poison {i}\n", "test_calc.py": ADD_TESTS}
        name = f"poison-{i:05d}.json"
        items[i] = (name, build_handoff(files, "calc", "calc.py", "chaos-poison"))
        names.append(name)
    return names


def poison_outcome(layout: Layout, poison: list[str]) -> int:
    """How many poison handoffs are in hard_fail/ with a crash reason."""
    good = 0
    for name in poison:
        reason = layout.hard_fail / (name.removesuffix(".json") + ".reason.json")
        try:
            doc = json.loads(reason.read_text())
        except (OSError, ValueError):
            continue
        good += str(doc.get("reason") or "").startswith(POISON_REASON)
    return good


def write_config(root: Path, instance: str, path: Path) -> None:
    # The reference runner (REPAIRLAB_RUNNER=subprocess, to tell a runner fault from
    # anything else) isolates nothing: the daemon runs it only when told so knowingly.
    reference = os.environ.get("REPAIRLAB_RUNNER") == "subprocess"
    path.write_text(
        f'[paths]\nroot = "{root}"\n[instance]\nid = "{instance}"\nlease_seconds = 3\n'
        "[backoff]\nbase_seconds = 0.2\nmax_seconds = 1\n"
        "[repair]\nworkers = 2\ntest_timeout_seconds = 10\nbundle_timeout_seconds = 60\n"
        "[watch]\nrescan_seconds = 1\nheartbeat_seconds = 1\n"
        "[supervisor]\nmax_restarts = 5\nperiod_seconds = 30\n"
        + ("[sandbox]\nrequire = false\n" if reference else "")
    )


class Processes:
    """Instances run as process groups of their own (`procs`), killed by group id,
    never by name; a subclass starts them (`start(k)`) and counts `starts`."""

    procs: list[subprocess.Popen[bytes] | None]
    kills: int
    exits_nonzero: int

    def start(self, k: int) -> None:
        raise NotImplementedError

    def kill(self, k: int) -> bool:
        """SIGKILL instance k's process group; False when it was not running."""
        proc = self.procs[k]
        if proc is None or proc.poll() is not None:
            return False
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.kills += 1
        return True

    def kill_one(self, rng: random.Random, kill_every: float) -> float:
        """SIGKILL a random instance, start it again after a short pause (as
        systemd would), and return when (monotonic) the next kill is due."""
        victim = rng.randrange(len(self.procs))
        self.kill(victim)
        time.sleep(rng.uniform(0.1, 2.0))
        self.start(victim)
        return time.monotonic() + rng.expovariate(1 / kill_every)

    def revive_dead(self) -> None:
        """An instance whose supervisor gave up exits 1: systemd would restart it."""
        for k, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is not None:
                if proc.returncode != 0:
                    self.exits_nonzero += 1
                self.start(k)

    def stop_all(self, timeout: float = 60) -> list[int | None]:
        """SIGTERM every running instance and wait (SIGKILL past `timeout`);
        their exit codes."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for proc in self.procs:
            if proc is None:
                codes.append(None)
                continue
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            codes.append(proc.returncode)
        return codes


class Fleet(Processes):
    """The instances: start, kill -9 by process group, restart."""

    def __init__(self, root: Path, count: int, seed: int, log_dir: Path,
                 faults: str = FAULTS) -> None:
        self.root = root
        self.faults = faults
        self.seed = seed
        self.faults = faults
        self.log_dir = log_dir
        self.configs = []
        for k in range(count):
            path = log_dir / f"chaos{k}.toml"
            write_config(root, f"chaos{k}", path)
            self.configs.append(path)
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.starts = 0
        self.kills = 0
        self.exits_nonzero = 0

    def start(self, k: int) -> None:
        env = {key: v for key, v in os.environ.items() if not key.startswith("REPAIRLAB_")}
        env["REPAIRLAB_FAULTS"] = self.faults
        env["REPAIRLAB_FAULTS_SEED"] = str(self.seed * 1000 + self.starts)
        if os.environ.get("REPAIRLAB_RUNNER"):
            env["REPAIRLAB_RUNNER"] = os.environ["REPAIRLAB_RUNNER"]
        log = open(self.log_dir / f"chaos{k}.log", "ab")
        self.procs[k] = subprocess.Popen(
            [sys.executable, str(REPO / "run.py"), "run", "--config", str(self.configs[k])],
            stdout=log, stderr=log, env=env, start_new_session=True)
        log.close()
        self.starts += 1

def terminal_places(layout: Layout) -> dict[str, list[str]]:
    places: dict[str, list[str]] = {}
    for label, directory in (("done", layout.done), ("hard_fail", layout.hard_fail),
                             ("corrupt", layout.corrupt)):
        places[label] = [n for n in os.listdir(directory)
                         if n.endswith(".json") and not n.endswith(".reason.json")]
    return places


def original_name(name: str) -> str:
    """`h00012.json` from itself or from a unique-suffixed `h00012.1.json`."""
    parts = name.split(".")
    return f"{parts[0]}.json"


def check(layout: Layout, submitted: list[str]) -> dict[str, int]:
    places = terminal_places(layout)
    seen: Counter[str] = Counter()
    for names in places.values():
        seen.update(original_name(n) for n in names)
    lost = sum(1 for n in submitted if seen[n] == 0)
    doubled = sum(1 for n in submitted if seen[n] > 1)
    pairs: Counter[tuple[str, str]] = Counter()
    for name in os.listdir(layout.challengers):
        if name.startswith("challenger_"):
            doc = json.loads((layout.challengers / name).read_text())
            pairs[(doc["bundle_sha256"], doc["repaired_sha256"])] += 1
    duplicates = sum(c - 1 for c in pairs.values() if c > 1)
    bad_lines = 0
    restarts = 0
    for raw in layout.metrics.read_bytes().splitlines():
        try:
            line = json.loads(raw)
            restarts += line.get("event") == "actor_restarted"
        except ValueError:
            bad_lines += 1
    return {
        "handoffs in": len(submitted),
        "done": len(places["done"]), "hard_fail": len(places["hard_fail"]),
        "corrupt": len(places["corrupt"]),
        "lost": lost, "in two terminal states": doubled,
        "duplicate challengers": duplicates, "metrics lines that fail to parse": bad_lines,
        "actor restarts": restarts,
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if ("--backend" in argv and argv[argv.index("--backend") + 1:][:1] == ["postgres"]) \
            or "--backend=postgres" in argv:
        from chaos_pg import main as chaos_on_postgres  # bench/chaos_pg.py

        return chaos_on_postgres(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["filesystem", "postgres"], default="filesystem",
                        help="postgres: 3 instances with roots of their own on one throwaway "
                             "database (bench/chaos_pg.py)")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=4.0,
                        help="mean seconds between SIGKILLs")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--keep", action="store_true", help="keep the state root")
    parser.add_argument("--no-renameat2", action="store_true",
                        help="refuse renameat2 as NFS or FUSE do (fsops.renameat2=einval): "
                             "every no-replace move takes the link-then-unlink fallback")
    parser.add_argument("--poison", type=int, default=0, metavar="N",
                        help=f"N handoffs crash the repairer whenever held ({POISON_GLOB})")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="repairlab-chaos-"))
    layout = Layout.at(work / "state")
    layout.ensure()
    items = workload(args.handoffs, rng)
    poison = add_poison(items, args.poison, rng) if args.poison else []
    faults = FAULTS + (f",repairer.handoff[{POISON_GLOB}]=crash" if poison else "")
    faults += ",fsops.renameat2=einval" if args.no_renameat2 else ""
    fleet = Fleet(layout.root, args.instances, args.seed, work, faults)
    started = time.monotonic()
    for k in range(args.instances):
        fleet.start(k)
    submitted = []
    # Half the handoffs before the fleet warms up, the rest while it runs.
    for i, (name, data) in enumerate(items):
        enqueue(layout, data, "chaos", name)
        submitted.append(name)
        if i == len(items) // 2:
            time.sleep(1)
    next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
    last_report = 0.0
    try:
        while time.monotonic() - started < args.timeout:
            places = terminal_places(layout)
            finished = sum(len(v) for v in places.values())
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                print(f"  {time.monotonic() - started:6.1f}s  terminal {finished}/{len(items)}"
                      f"  kills {fleet.kills}  starts {fleet.starts}", flush=True)
            if finished >= len(items):
                break
            if time.monotonic() >= next_kill:
                next_kill = fleet.kill_one(rng, args.kill_every)
            fleet.revive_dead()
            time.sleep(0.2)
    finally:
        fleet.stop_all()
    wall = time.monotonic() - started
    figures = check(layout, submitted)
    figures["kills survived"] = fleet.kills
    figures["instance starts"] = fleet.starts
    figures["instance exits non-zero (supervisor gave up)"] = fleet.exits_nonzero
    figures["supervisor give-ups (in the logs)"] = sum(
        log.read_text(errors="replace").count("giving up") for log in work.glob("chaos*.log"))
    if poison:
        figures["poison handoffs"] = len(poison)
        figures["poison quarantined with the crash reason"] = poison_outcome(layout, poison)
    print(f"\nchaos: {args.instances} instances, {args.handoffs} handoffs, seed {args.seed}, "
          f"faults {faults}")
    for key, value in figures.items():
        print(f"  {key:<46} {value}")
    print(f"  {'wall time':<46} {wall:.1f}s")
    ok = all(figures[k] == 0 for k in ("lost", "in two terminal states", "duplicate challengers",
                                        "metrics lines that fail to parse"))
    if poison:
        ok = ok and figures["poison quarantined with the crash reason"] == len(poison) \
            and fleet.exits_nonzero == 0 and figures["supervisor give-ups (in the logs)"] == 0
    print("  verdict: " + ("OK" if ok else "FAILED"))
    if args.keep:
        print(f"  state root kept at {layout.root}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
