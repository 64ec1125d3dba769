"""`run.py demo`: a fresh state root, the shipped example bundles, a drain with
progress, and a summary of where everything went."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import msgspec

from repairlab.cli.daemon_cmds import drain_daemon
from repairlab.cli.logs import setup_logging
from repairlab.cli.submit import build_handoff, enqueue, pack_directory
from repairlab.config import load_config
from repairlab.messages.records import Challenger, ReasonFile
from repairlab.state.census import take_census
from repairlab.state.layout import Layout
from repairlab.state.metrics import read_metrics
from repairlab.supervision.daemon import Daemon

BUNDLES = Path(__file__).with_name("demo_bundles")


def demo_config(root: Path) -> dict[str, dict[str, object]]:
    """Settings that make the demo quick: short backoff, short timeouts."""
    return {
        "paths": {"root": str(root)},
        "backoff": {"base_seconds": 0.2, "max_seconds": 1.0},
        "repair": {"workers": 2, "test_timeout_seconds": 10, "bundle_timeout_seconds": 60},
        "prune": {"schedule": "weekly"},
    }


def run_demo(args: argparse.Namespace) -> int:
    """Enqueue the examples into a new root, drain, print a summary. Exit 0 when
    every handoff reached a terminal state."""
    setup_logging("WARNING")
    root = Path("var") / f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    config = load_config(None, overrides=demo_config(root.absolute()))
    config_file = write_demo_config(root.with_suffix(".toml"), demo_config(root.absolute()))
    layout = Layout.from_config(config)
    layout.ensure()
    print(f"repairlab demo: fresh state root {layout.root}")
    submitted: dict[str, str] = {}
    for bundle_dir in sorted(p for p in BUNDLES.iterdir() if p.is_dir()):
        meta = json.loads((bundle_dir / "meta.json").read_text())
        files = {k: v for k, v in pack_directory(bundle_dir).items() if k != "meta.json"}
        data = build_handoff(files, meta["tool"], meta["entrypoint"], meta.get("lineage"))
        path = enqueue(layout, data, meta["tool"], f"{bundle_dir.name}.json")
        submitted[path.name] = meta["expect"]
    # The same files again: both end in done/ with one challenger between them (the
    # two are claimed together, so either may be the one that points at the other's).
    first = BUNDLES / "slugify"
    files = {k: v for k, v in pack_directory(first).items() if k != "meta.json"}
    dup = enqueue(layout, build_handoff(files, "slugify", "slugify.py", "text-tools"), "slugify",
                  "slugify-again.json")
    submitted[dup.name] = "same files as slugify: one challenger for both"
    bad = enqueue(layout, b'{"schema": "repairlab.handoff/1", "tool": ', "broken",
                  "truncated.json")
    submitted[bad.name] = "corrupt: truncated JSON"
    print(f"enqueued {len(submitted)} handoffs; draining (Ctrl-C stops)\n")

    def progress(daemon: Daemon) -> None:
        census = take_census(layout)
        print(f"\r  {census.line()}   ", end="", flush=True)

    started = time.monotonic()
    code = drain_daemon(config, timeout=300, progress=progress)
    elapsed = time.monotonic() - started
    print("\n")
    _summary(layout, submitted)
    print(f"\ndrained in {elapsed:.1f}s (exit {code})")
    print("where to look:")
    for label, path in (("challengers", layout.challengers), ("done", layout.done),
                        ("quarantined", layout.hard_fail), ("corrupt", layout.corrupt),
                        ("metrics", layout.metrics)):
        print(f"  {label:<12} {path}")
    listen = config.web.listen
    print(f"\nthe dashboard and /metrics of this root (then open http://{listen}/):\n"
          f"  (from this checkout: python run.py web --config {config_file})\n"
          f"  repairlab web --config {config_file}")
    return code


def write_demo_config(path: Path, settings: dict[str, dict[str, object]]) -> Path:
    """The demo's settings as a TOML file beside its root, so that other commands
    (`web`, `status`, `quarantine`) can be pointed at it. Returns its path."""
    lines = []
    for section, values in settings.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path.absolute()


def _summary(layout: Layout, submitted: dict[str, str]) -> None:
    outcome: dict[str, tuple[str, str, str]] = {}
    for line in read_metrics(layout.metrics):
        if line.handoff is None:
            continue
        if line.event == "repaired":
            detail = line.repair_strategy or "?"
            if line.duplicate:
                detail += f" (existing {line.challenger})"
            outcome[line.handoff] = ("done", detail, f"{line.duration_s or 0:.2f}s")
        elif line.event == "quarantined":
            outcome[line.handoff] = ("hard_fail", f"{line.failures} failures", "")
        elif line.event == "corrupt":
            outcome[line.handoff] = ("corrupt", (line.reason or "")[:40], "")
        elif line.event == "repair_failed" and line.handoff not in outcome:
            outcome[line.handoff] = ("waiting", "failed once", "")
    width = max(len(n) for n in submitted)
    print(f"{'handoff':<{width}}  {'ended in':<10} {'how':<46} {'time':>7}  expected")
    print("-" * (width + 90))
    for name, expect in submitted.items():
        place, how, took = outcome.get(name, ("?", "", ""))
        print(f"{name:<{width}}  {place:<10} {how[:46]:<46} {took:>7}  {expect}")
    census = take_census(layout)
    print(f"\ntotals: done {census.done}, quarantined {census.quarantined}, "
          f"corrupt {census.corrupt}, challengers {census.challengers}")
    _ = (Challenger, ReasonFile, msgspec, sys)
