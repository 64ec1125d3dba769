"""`python run.py COMMAND` (SPEC §7). Exit 0 on success, 2 on usage or config errors."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from repairlab.config import Config, load_config, resolve_config_path
from repairlab.config.loader import masked_dsn
from repairlab.errors import ConfigError, RepairlabError, StateRootUnsafe, UsageError
from repairlab.state.layout import Layout

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a command handler under `name`."""
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn
    return register


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; `--config` is accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $REPAIRLAB_CONFIG, else built-in defaults)")
    common.add_argument("--log-json", action="store_true", default=argparse.SUPPRESS,
                        help="log one JSON object per line (for journald and shippers)")
    prog = "repairlab" if os.path.basename(sys.argv[0]) == "repairlab" else "run.py"
    parser = argparse.ArgumentParser(prog=prog, parents=[common],
                                     description="repairlab: the self-healing repair daemon")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run in the foreground until SIGTERM/SIGINT")
    drain = sub.add_parser("drain", parents=[common],
                           help="run until every handoff has reached a terminal state")
    drain.add_argument("--timeout", type=float, default=None, metavar="S")
    sub.add_parser("demo", parents=[common], help="the embedded example, start to finish")
    submit = sub.add_parser("submit", parents=[common], help="pack a directory and enqueue it")
    submit.add_argument("directory", metavar="DIR")
    submit.add_argument("--tool", required=True)
    submit.add_argument("--entrypoint", required=True, metavar="FILE")
    submit.add_argument("--lineage", default=None)
    status = sub.add_parser("status", parents=[common], help="queue, in flight, done, ...")
    status.add_argument("--json", action="store_true")
    quarantine = sub.add_parser("quarantine", parents=[common],
                                help="list, show or release quarantined handoffs")
    qsub = quarantine.add_subparsers(dest="action", metavar="ACTION", required=True)
    qlist = qsub.add_parser("list", parents=[common])
    qlist.add_argument("--json", action="store_true")
    qshow = qsub.add_parser("show", parents=[common])
    qshow.add_argument("name")
    qshow.add_argument("--json", action="store_true")
    qrel = qsub.add_parser("release", parents=[common])
    qrel.add_argument("name", nargs="?")
    qrel.add_argument("--all", action="store_true")
    prune = sub.add_parser("prune", parents=[common], help="prune now")
    prune.add_argument("--dry-run", action="store_true")
    prune.add_argument("--json", action="store_true")
    stats = sub.add_parser("stats", parents=[common], help="success rates and timings")
    stats.add_argument("--by", choices=["lineage", "strategy", "tool"], default="strategy")
    stats.add_argument("--since", default=None, metavar="DURATION")
    stats.add_argument("--json", action="store_true")
    lineage = sub.add_parser("lineage", parents=[common], help="a tool's chain of bundles")
    lineage.add_argument("tool")
    lineage.add_argument("--json", action="store_true")
    challengers = sub.add_parser("challengers", parents=[common],
                                 help="export the challengers as their SPEC section 3 files")
    csub = challengers.add_subparsers(dest="action", metavar="ACTION", required=True)
    cexport = csub.add_parser("export", parents=[common],
                              help="write every challenger not yet in DIR")
    cexport.add_argument("directory", metavar="DIR")
    sub.add_parser("check-config", parents=[common], help="validate and print the config")
    from repairlab.cli.web_cmd import add_parser as add_web
    add_web(sub, common)
    sub.add_parser("migrate", parents=[common],
                   help="create or upgrade the database schema (postgres backend)")
    return parser


def load(args: argparse.Namespace) -> Config:
    """The config named on the command line or in the environment."""
    return load_config(resolve_config_path(getattr(args, "config", None)))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn expected errors into one line and an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    name = args.command or "run"
    _import_commands()
    handler = COMMANDS.get(name)
    if handler is None:
        parser.error(f"command {name!r} is not available")
    try:
        return handler(args)
    except (ConfigError, UsageError) as exc:
        print(f"run.py {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StateRootUnsafe as exc:
        print(f"run.py {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RepairlabError as exc:
        print(f"run.py {name}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


def _import_commands() -> None:
    # Importing registers the commands: run, drain, demo, submit, check-config;
    # status, quarantine, prune, stats, lineage, challengers; migrate.
    import repairlab.cli.backend_cmds
    import repairlab.cli.daemon_cmds
    import repairlab.cli.operator_cmds
    import repairlab.cli.web_cmd  # noqa: F401


# -- small commands ---------------------------------------------------------------------


@command("check-config")
def check_config(args: argparse.Namespace) -> int:
    """Validate the config and print the effective values as TOML-like text, then
    the isolation candidates would get here, probed now as this user (run it as
    the daemon's user). Exit 2 when `[sandbox] require = true` and the daemon
    would refuse to start: the refusal line goes to stderr."""
    from repairlab.repair.isolation import guards_of
    from repairlab.repair.warm_runner import probe_isolation

    config = load(args)
    print(f"# effective configuration ({config.source or 'built-in defaults'})")
    data = msgspec.to_builtins(config)
    data.pop("source", None)
    for section, values in data.items():
        print(f"\n[{section}]")
        for key, value in values.items():
            if (section, key) == ("backend", "dsn"):
                value = masked_dsn(value)
            print(f"{key} = {_toml_value(value)}")
    layout = Layout.from_config(config)
    isolation = probe_isolation(guards_of([*layout.directories(), layout.metrics.parent]))
    print(f"\n# isolation of candidates (probed as uid {os.geteuid()}): {isolation.line()}")
    if config.sandbox.require and not isolation.sufficient:
        print(f"run.py check-config: {isolation.refusal()}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def install_stop_signals(stop: threading.Event,
                         on_hup: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT set `stop`; SIGHUP calls `on_hup` (a reload)."""
    def handler(signum: int, frame: Any) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if on_hup is not None:
        signal.signal(signal.SIGHUP, lambda s, f: on_hup())


def layout_of(config: Config) -> Layout:
    """The layout, with the root created and checked."""
    layout = Layout.from_config(config)
    layout.ensure()
    return layout


def wait_until(predicate: Callable[[], bool], timeout: float | None, poll: float = 0.1) -> bool:
    """Poll `predicate` until true (True) or the timeout passes (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not predicate():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def path_arg(text: str) -> Path:
    return Path(text).expanduser()
