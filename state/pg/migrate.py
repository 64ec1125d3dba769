"""The versioned schema: `state/pg/migrations/NNNN_name.sql`, applied in order.

`migrate` applies each migration newer than the database's `schema_version` in a
transaction of its own together with its version row, under an advisory lock, so
running it twice, or on two hosts at once, applies each migration once. `check`
is what `run` does at start: it refuses a database with no schema or a version
this code does not know (newer code ran `migrate`), with one line saying which.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import NamedTuple

from repairlab.errors import SchemaMismatch
from repairlab.state.pg.connector import PgConnector, Tx

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Migration(NamedTuple):
    """One schema step."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped, by version; a gap or a duplicate is a ValueError."""
    found = []
    for entry in resources.files("repairlab.state.pg").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2),
                                   entry.read_text("utf-8")))
    found.sort()
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations are not numbered 1..n: {[m.version for m in found]}")
    return found


def latest() -> int:
    """The schema version this code speaks."""
    return migrations()[-1].version


def current(tx: Tx) -> int:
    """The database's schema version (0: none applied)."""
    present = tx.one("schema_table_present")
    if not present or not present["present"]:
        return 0
    row = tx.one("schema_version")
    return int(row["version"]) if row else 0


def migrate(connector: PgConnector) -> list[Migration]:
    """Create or upgrade the schema; returns the migrations applied now (none when
    it is up to date). A database newer than this code is refused (SchemaMismatch).
    DatabaseUnavailable propagates; an interrupted run applied whole migrations
    only and is simply run again."""
    applied: list[Migration] = []
    for migration in migrations():
        def step(tx: Tx, migration: Migration = migration) -> bool:
            tx.execute("lock_migrations")
            tx.execute("create_schema_version")
            version = current(tx)
            if version > latest():
                raise SchemaMismatch(_too_new(version))
            if version >= migration.version:
                return False
            tx.conn.execute(migration.sql.encode())
            tx.execute("record_version", version=migration.version, name=migration.name)
            return True
        if connector.run(step):
            applied.append(migration)
    return applied


def check(connector: PgConnector) -> int:
    """The database's schema version, when it is the one this code speaks;
    SchemaMismatch (one line: which version, what to do) otherwise."""
    version = connector.run(current)
    if version == 0:
        raise SchemaMismatch("the database has no repairlab schema: run `run.py migrate` first")
    if version > latest():
        raise SchemaMismatch(_too_new(version))
    if version < latest():
        raise SchemaMismatch(f"the database's schema is version {version}, this repairlab "
                             f"needs {latest()}: run `run.py migrate`")
    return version


def _too_new(version: int) -> str:
    return (f"the database's schema is version {version}, newer than this repairlab knows "
            f"({latest()}): upgrade repairlab on this host")
