"""The backend's SQL statements, by name, from `queries.sql` (procrastinate's way:
every statement in one file, the code names them).

Each statement starts with a `-- name: NAME` line, then comment lines (its doc),
then the SQL up to the next name. A missing name is a KeyError at the call, a
duplicate name a ValueError at load: both are bugs, found by the first test.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """Name -> SQL (comments stripped, trailing `;` kept off)."""
    found: dict[str, str] = {}
    marks = list(_NAME.finditer(text))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = "\n".join(line for line in text[mark.end():end].splitlines()
                         if not line.lstrip().startswith("--")).strip()
        name = mark.group(1)
        if name in found:
            raise ValueError(f"queries.sql names {name!r} twice")
        found[name] = body.rstrip(";").strip()
    return found


@cache
def queries() -> dict[str, str]:
    """Every statement of the backend, loaded once."""
    return parse(resources.files("repairlab.state.pg").joinpath("queries.sql").read_text("utf-8"))


def query(name: str) -> str:
    """The SQL of `name`; KeyError names a statement queries.sql lacks."""
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"queries.sql has no statement named {name!r}") from None
