"""The web window: scrape and render times on a large state, and its cost to the daemon.

    .venv/bin/python bench/web.py [--quick] [--reps 3] [--handoffs 2000]
                                  [--finished 100000] [--metrics-mb 50] [--part 1|2|both]

Part 1, on a generated state root: `--finished` finished handoffs (each one a
handoff in `processed/done/` and its challenger, with a diff), 200 quarantined
with their reason files, 1,000 waiting in `queue/`, and a `metrics.jsonl` of
`--metrics-mb` MB (one `repaired` line per finished handoff, then `repair_failed`
lines up to the size). The web server (`run.py web`, in a child process, as an
operator runs it) is asked for `/metrics` and `/` once each (the first
`/metrics` reads the whole history), then 20 times each: the table gives the
median and the slowest of those 20, and the time of one more scrape after
1,000 new lines were appended (what the incremental read costs).

Part 2: the daemon's throughput (bench/overhead.py's measure: `--handoffs`
passing handoffs, real engine and sandboxed warm runner, 2 workers) with a
`run.py web` child over the same root that is asked for `/metrics` every second
(a Prometheus at 1 s) and for the page's `/fragment` every 3 s (one dashboard
open), against the same without it; the order alternates between repetitions
and the ratio is taken within each, medians reported, with the CPU the web
server used meanwhile (a figure that the machine's load disturbs less).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    Row,
    describe,
    handoff_bytes,
    median,
    passing_files,
    run_main,
    say,
    spread,
    state_dir,
)
from overhead import daemon_rate

from repairlab.messages.records import rfc3339

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DIFF = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
        "-    return a - b\n+    return a + b\n")


def _get(url: str) -> float:
    """Seconds for one GET (body read whole); raises on a status other than 200."""
    started = time.perf_counter()
    with _opener.open(url, timeout=120) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WebChild:
    """The base URL of a `run.py web` child and its pid."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid


@contextmanager
def web_child(root: Path) -> Iterator[WebChild]:
    """`run.py web` over `root` in a child process."""
    toml = root.with_name(root.name + "-web.toml")
    toml.write_text(f'[paths]\nroot = "{root}"\n[log]\nlevel = "WARNING"\n')
    port = _free_port()
    with open(root.with_name(root.name + "-web.log"), "w") as log:
        proc = subprocess.Popen([sys.executable, str(REPO / "run.py"), "web", "--config",
                                 str(toml), "--listen", f"127.0.0.1:{port}"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("run.py web did not start") from None
                time.sleep(0.1)
        yield WebChild(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_state(root: Path, finished: int, metrics_mb: float) -> None:
    """The large state of part 1 (see the module doc)."""
    for sub in ("queue", "processed/done", "processed/hard_fail", "processed/corrupt",
                "challengers", "claims", "deferred", "instances"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    handoff = handoff_bytes(passing_files(0))
    now = time.time()
    stamp0 = now - finished  # one a second, up to now
    lines = []
    for i in range(finished):
        name = f"h{i:06d}.json"
        (root / "processed/done" / name).write_bytes(handoff)
        sha = f"{i:064x}"
        created = rfc3339(stamp0 + i)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(stamp0 + i)) + f"{i % 1000000:06d}Z"
        (root / "challengers" / f"challenger_{stamp}_{sha[:12]}.json").write_text(json.dumps({
            "schema": "repairlab.challenger/1", "tool": f"tool{i % 500}", "lineage":
            f"line{i % 40}", "handoff_id": None, "bundle_sha256": sha, "repaired_sha256": sha,
            "repair_strategy": "heuristic_microfix", "repair_pattern_id": None,
            "repair_attempts": 1, "repair_details": {}, "meta_repair": True,
            "files": {"calc.py": "def add(a, b):\n    return a + b\n"}, "diff": DIFF,
            "tests": {"passed": 2, "failed": 0, "duration_s": 0.1}, "instance": "bench",
            "created_at": created, "handoff_name": name}))
        lines.append(json.dumps({
            "ts": created, "event": "repaired", "instance": "bench", "meta_repair": True,
            "bundle_sha256": sha, "tool": f"tool{i % 500}", "lineage": f"line{i % 40}",
            "repair_strategy": "heuristic_microfix", "repair_attempts": 1,
            "duration_s": 0.5 + i % 7, "handoff": name, "challenger": "c"}))
    for i in range(200):
        name = f"q{i:04d}.json"
        (root / "processed/hard_fail" / name).write_bytes(handoff)
        (root / "processed/hard_fail" / f"q{i:04d}.reason.json").write_text(json.dumps({
            "handoff": name, "rule": "3 failures within 600 s", "bundle_sha256": "f" * 64,
            "failures": [{"ts": rfc3339(now), "instance": "bench", "reason": "tests fail"}] * 3,
            "quarantined_at": rfc3339(now), "tool": "calc", "lineage": f"line{i % 40}",
            "reason": "tests fail: 0 passed, 1 failed; first failure: ValueError: x"}))
    for i in range(1000):
        (root / "queue" / f"w{i:04d}.json").write_bytes(handoff)
    target = int(metrics_mb * 1024 * 1024)
    with open(root / "metrics.jsonl", "w") as fh:
        written = 0
        for line in lines:
            written += fh.write(line + "\n")
        filler = json.dumps({
            "ts": rfc3339(now - 7200), "event": "repair_failed", "instance": "bench",
            "meta_repair": False, "bundle_sha256": "e" * 64, "tool": "calc", "lineage": "x",
            "repair_attempts": 4, "duration_s": 1.5, "handoff": "x.json",
            "reason": "tests fail: 0 passed, 1 failed (exit 1)"}) + "\n"
        while written < target:
            written += fh.write(filler)


def part1(base: Path, finished: int, metrics_mb: float) -> list[Row]:
    root = base / "big"
    started = time.monotonic()
    build_state(root, finished, metrics_mb)
    size = (root / "metrics.jsonl").stat().st_size
    say(f"state: {finished} finished handoffs (+ challengers), 200 quarantined, 1000 queued, "
        f"metrics.jsonl {size / 2**20:.1f} MB; built in {time.monotonic() - started:.0f} s")
    with web_child(root) as child:
        url = child.url
        first_metrics = _get(url + "/metrics")
        first_page = _get(url + "/")
        scrapes = [_get(url + "/metrics") for _ in range(20)]
        pages = [_get(url + "/") for _ in range(20)]
        with open(root / "metrics.jsonl", "a") as fh:
            line = json.dumps({"ts": rfc3339(time.time()), "event": "repaired",
                               "instance": "bench", "meta_repair": True,
                               "repair_strategy": "noop", "duration_s": 0.1})
            fh.write((line + "\n") * 1000)
        after_append = _get(url + "/metrics")
    ms = 1000.0
    say(f"  /metrics: first {first_metrics * ms:.0f} ms, then median {median(scrapes) * ms:.0f} "
        f"ms (slowest {max(scrapes) * ms:.0f}), after +1000 lines {after_append * ms:.0f} ms; "
        f"/: first {first_page * ms:.0f} ms, then median {median(pages) * ms:.0f} ms "
        f"(slowest {max(pages) * ms:.0f})")
    how = f"{finished} finished, {size / 2**20:.0f} MB metrics"
    return [
        Row("7 web: first /metrics (whole history)", f"{first_metrics * ms:.0f} ms",
            note=f"{how}; reads every metrics line once"),
        Row("7 web: /metrics scrape", f"{median(scrapes) * ms:.0f} ms", "< 1 s",
            max(scrapes) < 1.0, note=f"{how}; median of 20, slowest {max(scrapes) * ms:.0f} ms"),
        Row("7 web: /metrics after +1000 lines", f"{after_append * ms:.0f} ms",
            note="incremental read"),
        Row("7 web: first / render", f"{first_page * ms:.0f} ms", note=how),
        Row("7 web: / render", f"{median(pages) * ms:.0f} ms", "< 1 s", max(pages) < 1.0,
            note=f"{how}; median of 20, slowest {max(pages) * ms:.0f} ms"),
    ]


class Scraper:
    """Asks `url` for /metrics every second (a Prometheus scraping at 1 s) and for
    /fragment every 3 s (one dashboard open), on a thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.requests = 0
        self.errors = 0
        self.first_error = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = 0
        while not self.stop.wait(1.0):
            tick += 1
            for path in ("/metrics", "/fragment") if tick % 3 == 0 else ("/metrics",):
                try:
                    _get(self.url + path)
                    self.requests += 1
                except Exception as exc:
                    self.errors += 1
                    self.first_error = self.first_error or f"{path}: {exc!r}"

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def part2(base: Path, n: int, reps: int) -> list[Row]:
    plain: list[float] = []
    scraped: list[float] = []
    ratios: list[float] = []
    requests = errors = 0
    shares: list[float] = []
    for rep in range(reps):
        items = [(f"h{rep}-{i:05d}.json", handoff_bytes(passing_files(rep * 100_000 + i)))
                 for i in range(n)]
        got: dict[str, float] = {}
        for side in (("plain", "scraped") if rep % 2 == 0 else ("scraped", "plain")):
            root = base / f"{side}{rep}"
            root.mkdir(parents=True)
            if side == "plain":
                got[side] = daemon_rate(root, items)
                continue
            with web_child(root) as child, Scraper(child.url) as scraper:
                cpu, wall = cpu_seconds(child.pid), time.monotonic()
                got[side] = daemon_rate(root, items)
                shares.append((cpu_seconds(child.pid) - cpu) / (time.monotonic() - wall))
            requests += scraper.requests
            errors += scraper.errors
            if scraper.first_error:
                log = root.with_name(root.name + "-web.log").read_text()
                say(f"  a request failed: {scraper.first_error}; the server's log:\n{log}")
        plain.append(got["plain"])
        scraped.append(got["scraped"])
        ratios.append(got["scraped"] / got["plain"])
        say(f"  rep {rep + 1}: without web {got['plain']:.1f}/s, scraped every second "
            f"{got['scraped']:.1f}/s, ratio {ratios[-1]:.1%}; the web server used "
            f"{shares[-1]:.1%} of a core")
    ratio = median(ratios)
    how = f"{n} handoffs, 2 workers, noop"
    return [
        Row("7 web: daemon rate, no web", f"{median(plain):.1f} handoffs/s",
            note=f"{how}; {spread(plain)}"),
        Row("7 web: daemon rate, scraped 1/s", f"{median(scraped):.1f} handoffs/s",
            note=f"{how}; /metrics every second, the page's /fragment every 3 s "
                 f"({requests} requests, {errors} failed)"),
        Row("7 web: web server's CPU meanwhile", f"{median(shares):.1%} of a core",
            note="user + system time of the run.py web child; "
                 f"{spread([x * 100 for x in shares])} %"),
        Row("7 web: scraped/not", f"{ratio:.1%}", "≥ 95%", ratio >= 0.95 and errors == 0,
            note=f"ratio within each run; {spread([r * 100 for r in ratios])} %"),
    ]


def measure(args: argparse.Namespace) -> list[Row]:
    """Part 1 on a large state, then part 2 (see the module doc)."""
    finished = 500 if args.quick else args.finished
    metrics_mb = 1.0 if args.quick else args.metrics_mb
    n = 20 if args.quick else args.handoffs
    with state_dir(args.dir, "web") as base:
        say(f"web: {finished} finished handoffs and {metrics_mb:g} MB of metrics; then "
            f"{n} handoffs x {args.reps} repetitions with and without scraping")
        say(describe(base))
        rows = part1(base, finished, metrics_mb) if args.part in ("1", "both") else []
        if args.part in ("2", "both"):
            rows += part2(base, n, args.reps)
    return rows


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=2000, help="handoffs per repetition (part 2)")
    p.add_argument("--finished", type=int, default=100_000, help="finished handoffs (part 1)")
    p.add_argument("--metrics-mb", type=float, default=50.0, help="metrics.jsonl size (part 1)")
    p.add_argument("--part", choices=["1", "2", "both"], default="both", help="which part")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
