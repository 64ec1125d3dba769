"""`run.py web [--listen HOST:PORT]`: serve the dashboard and /metrics until SIGTERM/SIGINT.

The listen address is `--listen`, else `[web] listen` (loopback by default).
The token file of `[web] token_file` must exist and hold a token when it is
set; otherwise the window starts read-only and says so. Listening beyond
loopback is allowed (the operator asked for it) with a warning in the log.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

from loguru import logger

from repairlab.cli.logs import setup_logging
from repairlab.cli.main import EXIT_OK, command, install_stop_signals, load
from repairlab.config.loader import parse_listen
from repairlab.errors import UsageError

if TYPE_CHECKING:
    from repairlab.config.schema import Config
    from repairlab.web.auth import Guard
    from repairlab.web.source import StateSource


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The `web` subcommand's arguments."""
    web = sub.add_parser("web", parents=[common],
                         help="serve the dashboard and Prometheus metrics")
    web.add_argument("--listen", default=None, metavar="HOST:PORT",
                     help="address to serve on (default: [web] listen)")


def guard_for(token_file: str, host: str) -> Guard:
    """The guard for `[web] token_file` (empty: read-only). Raises UsageError
    when a token file is named but cannot be read or is empty."""
    from repairlab.web.auth import Guard, is_loopback

    path = Path(token_file) if token_file else None
    if path is not None:
        try:
            token = path.read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"[web] token_file {path}: {exc.strerror or exc}") from None
        if not token:
            raise UsageError(f"[web] token_file {path} is empty: put a token in it, or set "
                             "token_file = \"\" for a read-only window")
    return Guard(path, loopback_only_hosts=is_loopback(host))


def source_for(config: Config) -> StateSource:
    """What the window reads: the backend `[backend] kind` names, opened as the
    operator commands open it (`open_operator_backend`), so `/api/*` is their
    JSON and a release is theirs. Raises UsageError for a filesystem root that
    does not exist, and what `open_backend` raises for an unreachable database."""
    from repairlab.cli.operator_cmds import open_operator_backend
    from repairlab.web.source import BackendSource, SeamReads

    # A `Backend`, or `FilesystemReads` on a root without a daemon's backend: both
    # have the whole read side of the seam, not only what the commands declare.
    return BackendSource(cast(SeamReads, open_operator_backend(config, reading=True)), config)


@command("web")
def web(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; exit 2 for a bad --listen or token file."""
    # Imported here: waitress and prometheus_client are not needed by other commands.
    from repairlab.web import WebApp, WebServer
    from repairlab.web.auth import is_loopback

    config = load(args)
    setup_logging(config.log.level, json=config.log.json or getattr(args, "log_json", False))
    listen = args.listen or config.web.listen
    parsed = parse_listen(listen)
    if parsed is None:
        raise UsageError(f"--listen {listen!r}: use HOST:PORT, e.g. 127.0.0.1:8470")
    host, port = parsed
    guard = guard_for(config.web.token_file, host)
    app = WebApp(source_for(config), guard)
    try:
        server = WebServer(app, host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    stop = threading.Event()
    install_stop_signals(stop)
    server.start()
    mode = "read-only" if guard.read_only else f"actions need the token of {guard.token_file}"
    print(f"repairlab web: {server.url}/ (metrics at {server.url}/metrics; {mode})",
          file=sys.stderr, flush=True)
    if not is_loopback(host):
        logger.warning("web: listening on {}, beyond loopback: anyone who reaches it reads "
                       "the dashboard", listen)
    stop.wait()
    server.stop()
    return EXIT_OK
