"""The benchmarks of bench/ run at a tiny size and print their tables.

No figure is asserted: timings on a shared test machine say nothing. Each
benchmark runs as an operator runs it, in a child process of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = {
    "overhead": ["1 overhead: daemon rate", "1 overhead: engine loop rate",
                 "1 overhead: daemon/loop"],
    "latency": ["2 latency: rename→claim p50", "2 latency: rename→claim p99"],
    "backlog": ["3 backlog: first claim", "3 backlog: claims/s", "3 backlog: peak RSS"],
    "memory": ["4 memory: RSS at", "4 memory: growth"],
    "rawfiles": ["5 raw file ops ceiling"],
    "candidates": ["6 runner: warm per candidate", "6 runner: fresh/warm"],
    "web": ["7 web: first /metrics", "7 web: /metrics scrape", "7 web: / render",
            "7 web: daemon rate, no web", "7 web: scraped/not"],
}


def _run(tmp_path: Path, script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _table_rows(out: str) -> list[str]:
    lines = out.splitlines()
    header = max(i for i, line in enumerate(lines) if line.startswith("measure "))
    assert lines[header].split()[:4] == ["measure", "figure", "goal", "met"]
    return lines[header + 1:]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_each_benchmark_runs_quick_and_prints_its_table(tmp_path, name):
    out = _run(tmp_path, f"{name}.py", "--quick", "--dir", str(tmp_path))
    assert "on: " in out and " cpus, python " in out  # says what it ran on
    rows = _table_rows(out)
    for measure in BENCHMARKS[name]:
        assert any(row.startswith(measure) for row in rows), (measure, out)
    assert list(tmp_path.iterdir()) == []  # its state roots are cleaned up


@pytest.mark.timeout(120)
def test_run_all_gathers_every_row_into_one_table(tmp_path):
    out = _run(tmp_path, "run_all.py", "--quick", "--only", "rawfiles,backlog",
               "--dir", str(tmp_path))
    rows = _table_rows(out)
    wanted = BENCHMARKS["rawfiles"] + BENCHMARKS["backlog"]
    for measure in wanted:
        assert any(row.startswith(measure) for row in rows), (measure, out)
    assert not any(" FAILED " in row for row in rows)
