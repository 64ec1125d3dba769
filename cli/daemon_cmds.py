"""The commands that run the daemon: run, drain, demo, submit."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cli.logs import setup_logging
from cli.main import EXIT_FAIL, EXIT_OK, command, install_stop_signals, layout_of, load
from cli.submit import submit as submit_dir
from config.schema import Config
from supervision.daemon import Daemon, Escalate


def _logging(config: Config, args: argparse.Namespace) -> None:
    setup_logging(config.log.level, json=config.log.json or getattr(args, "log_json", False))


@command("run")
def run(args: argparse.Namespace) -> int:
    """Run in the foreground until SIGTERM/SIGINT (the service's ExecStart)."""
    config = load(args)
    _logging(config, args)
    daemon = Daemon(config)
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        daemon.start()
    except Escalate as exc:
        print(f"run.py run: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return daemon.run(stop)


def drain_daemon(config: Config, timeout: float | None,
                 progress: Callable[[Daemon], None] | None = None) -> int:
    """Run until every handoff (and any added meanwhile) is terminal; 0 then,
    1 on timeout or when the supervisor gives up."""
    daemon = Daemon(config)
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        daemon.start()
    except Escalate as exc:
        print(f"run.py drain: {exc}", file=sys.stderr)
        return EXIT_FAIL
    deadline = None if timeout is None else time.monotonic() + timeout
    state = {"timed_out": False, "idle_since": None}
    last_progress = 0.0

    def tick() -> None:
        nonlocal last_progress
        now = time.monotonic()
        if progress is not None and now - last_progress >= 0.5:
            last_progress = now
            progress(daemon)
        if daemon.idle():
            # Idle twice, 0.2 s apart: a handoff renamed into the queue meanwhile counts.
            if state["idle_since"] is None:
                state["idle_since"] = now
            elif now - state["idle_since"] >= 0.2:
                stop.set()
        else:
            state["idle_since"] = None
        if deadline is not None and now >= deadline:
            state["timed_out"] = True
            stop.set()

    code = daemon.run(stop, tick=tick, grace_seconds=0 if timeout is not None else None)
    if progress is not None:
        progress(daemon)
    if code != EXIT_OK:
        return code
    if state["timed_out"]:
        print(f"run.py drain: timed out after {timeout:g}s with work left", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


@command("drain")
def drain(args: argparse.Namespace) -> int:
    """Run until the queue is drained; non-zero on timeout."""
    config = load(args)
    _logging(config, args)
    return drain_daemon(config, args.timeout)


@command("submit")
def submit(args: argparse.Namespace) -> int:
    """Pack a directory into a handoff and enqueue it atomically."""
    config = load(args)
    layout = layout_of(config)
    path = submit_dir(layout, Path(args.directory), args.tool, args.entrypoint, args.lineage,
                      config.limits.max_handoff_bytes, config.limits.max_files)
    print(path)
    return EXIT_OK


@command("demo")
def demo(args: argparse.Namespace) -> int:
    """The embedded example: fresh root, example bundles, drain, summary."""
    from cli.demo import run_demo

    return run_demo(args)
