"""Print pip constraints that pin every dependency to its declared floor.

Reads `pyproject.toml`: each requirement of `[project] dependencies` and of the
extras named on the command line (default: `test`) must carry a `>=X` floor, and
comes out as `name==X`. CI installs the project with these constraints in a
second virtualenv and runs the suite again, so the floors stay true. A
requirement without a `>=` floor is an error (exit 1): every dependency has one.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def floors(pyproject: Path, extras: list[str]) -> list[str]:
    """`name==floor` for each requirement; ValueError names one without a floor."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {})[extra]
    pins = []
    for requirement in requirements:
        match = _FLOOR.match(requirement)
        if match is None:
            raise ValueError(f"{requirement!r} declares no '>=' floor")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    try:
        pins = floors(root / "pyproject.toml", argv or ["test"])
    except ValueError as exc:
        print(f"floors: {exc}", file=sys.stderr)
        return 1
    print("\n".join(pins))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
