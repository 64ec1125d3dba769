"""The commands that run the daemon: run, drain, demo, submit."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from repairlab.cli.logs import setup_logging
from repairlab.cli.main import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    command,
    install_stop_signals,
    layout_of,
    load,
)
from repairlab.cli.submit import submit as submit_dir
from repairlab.config import load_config, resolve_config_path
from repairlab.config.schema import Config
from repairlab.errors import ConfigError
from repairlab.repair.isolation import SandboxRefused
from repairlab.state.census import take_census
from repairlab.supervision.daemon import Daemon, Escalate
from repairlab.supervision.sdnotify import Notifier, WatchdogPinger


def _logging(config: Config, args: argparse.Namespace) -> None:
    setup_logging(config.log.level, json=config.log.json or getattr(args, "log_json", False))


STATUS_SECONDS = 5.0


@command("run")
def run(args: argparse.Namespace) -> int:
    """Run in the foreground until SIGTERM/SIGINT (the service's ExecStart).

    Under systemd: READY=1 once every actor runs and the first scan is done,
    STATUS= every few seconds, WATCHDOG=1 while the health check passes,
    STOPPING=1 on shutdown. SIGHUP reloads the config file; a bad one is refused
    with one log line and the old one stays.
    """
    path = resolve_config_path(getattr(args, "config", None))
    config = load(args)
    _logging(config, args)
    notifier = Notifier.from_env(unset=True)
    daemon = Daemon(config)
    stop, hup = threading.Event(), threading.Event()
    install_stop_signals(stop, on_hup=hup.set)
    try:
        daemon.start()
    except SandboxRefused as exc:
        # Restarting cannot fix it (systemd: RestartPreventExitStatus=2).
        print(f"run.py run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Escalate as exc:
        print(f"run.py run: {exc}", file=sys.stderr)
        return EXIT_FAIL
    log = logger.bind(actor="daemon")
    pinger = WatchdogPinger(notifier, daemon.healthy)
    last_status = time.monotonic()
    ready = False

    def tick() -> None:
        nonlocal last_status, ready
        if not ready:
            # READY=1 once the watcher has done its first scan (asked without
            # blocking the supervisor loop for long).
            status = daemon.watcher_status(timeout=0.2)
            if status is None or not status.first_scan_done:
                return
            ready = True
            notifier.ready(status=take_census(daemon.layout).line())
            pinger.start()
        if hup.is_set():
            hup.clear()
            notifier.reloading()
            try:
                log.info("SIGHUP: {}", daemon.reload(load_config(path)))
            except ConfigError as exc:
                log.error("SIGHUP: new configuration refused, keeping the old one: {}", exc)
            notifier.ready()
        if time.monotonic() - last_status >= STATUS_SECONDS:
            last_status = time.monotonic()
            line = take_census(daemon.layout).line()
            watcher = daemon.watcher_status(timeout=0.2)
            if watcher is not None and watcher.disk_problem is not None:
                line = f"PAUSED: state root {watcher.disk_problem}; {line}"
            notifier.status(line)

    def stopping() -> None:
        notifier.stopping()
        pinger.stop(timeout=2)

    code = daemon.run(stop, tick=tick, on_stopping=stopping)
    notifier.close()
    return code


def drain_daemon(config: Config, timeout: float | None,
                 progress: Callable[[Daemon], None] | None = None) -> int:
    """Run until every handoff (and any added meanwhile) is terminal; 0 then,
    1 on timeout or when the supervisor gives up."""
    daemon = Daemon(config)
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        daemon.start()
    except SandboxRefused as exc:
        print(f"run.py drain: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Escalate as exc:
        print(f"run.py drain: {exc}", file=sys.stderr)
        return EXIT_FAIL
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    idle_since: float | None = None
    last_progress = 0.0

    def tick() -> None:
        nonlocal last_progress, idle_since, timed_out
        now = time.monotonic()
        if progress is not None and now - last_progress >= 0.5:
            last_progress = now
            progress(daemon)
        if daemon.idle():
            # Idle twice, 0.2 s apart: a handoff renamed into the queue meanwhile counts.
            if idle_since is None:
                idle_since = now
            elif now - idle_since >= 0.2:
                stop.set()
        else:
            idle_since = None
        if deadline is not None and now >= deadline:
            timed_out = True
            stop.set()

    code = daemon.run(stop, tick=tick, grace_seconds=0 if timeout is not None else None)
    if progress is not None:
        progress(daemon)
    if code != EXIT_OK:
        return code
    if timed_out:
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
    """Pack a directory into a handoff and enqueue it atomically: into the local
    `queue/` on the filesystem backend (prints its path), straight into the
    database on PostgreSQL (SPEC §9; prints the name it is queued as). Exit 1
    with one line when the database cannot be reached (nothing was queued)."""
    config = load(args)
    if config.backend.kind == "postgres":
        return _submit_to_backend(config, args)
    layout = layout_of(config)
    path = submit_dir(layout, Path(args.directory), args.tool, args.entrypoint, args.lineage,
                      config.limits.max_handoff_bytes, config.limits.max_files)
    print(path)
    return EXIT_OK


def _submit_to_backend(config: Config, args: argparse.Namespace) -> int:
    from repairlab.cli.submit import handoff_name, pack
    from repairlab.state.backend import BackendUnavailable, open_backend

    data = pack(Path(args.directory), args.tool, args.entrypoint, args.lineage,
                config.limits.max_handoff_bytes, config.limits.max_files)
    setup_logging("ERROR")  # the outcome is this command's own line
    try:
        backend = open_backend(config, config.instance.id)
        try:
            name = backend.submit(handoff_name(args.tool), data)
        finally:
            backend.close()
    except BackendUnavailable as exc:
        print(f"run.py submit: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(name)
    return EXIT_OK


@command("demo")
def demo(args: argparse.Namespace) -> int:
    """The embedded example: fresh root, example bundles, drain, summary."""
    from repairlab.cli.demo import run_demo

    return run_demo(args)
