"""`run.py migrate`: create or upgrade the PostgreSQL schema (SPEC §7, §9).

Idempotent: a second run, or one on another host at the same time, applies
nothing twice (`state/pg/migrate.py`). Exit 0 when the schema is current
(including "nothing to do" on the filesystem backend), 1 when the database
cannot be reached or is newer than this code, 2 on a config error.
"""

from __future__ import annotations

import argparse
import sys

from repairlab.cli.logs import setup_logging
from repairlab.cli.main import EXIT_FAIL, EXIT_OK, command, load


@command("migrate")
def migrate(args: argparse.Namespace) -> int:
    """Apply every migration the database lacks; print what was done."""
    config = load(args)
    setup_logging("ERROR")  # the outcome is this command's own line; no daemon log
    if config.backend.kind != "postgres":
        print("run.py migrate: [backend] kind = \"filesystem\": no database schema to migrate")
        return EXIT_OK
    from repairlab.state.backend import BackendUnavailable
    from repairlab.state.pg.connector import PgConnector
    from repairlab.state.pg.migrate import latest
    from repairlab.state.pg.migrate import migrate as apply

    connector = PgConnector(config.backend.dsn, min_size=1, max_size=1)
    try:
        with connector:
            applied = apply(connector)
    except BackendUnavailable as exc:
        print(f"run.py migrate: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if applied:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied)
        print(f"migrated {connector.shown} to schema version {latest()} (applied {names})")
    else:
        print(f"schema of {connector.shown} is up to date (version {latest()})")
    return EXIT_OK
