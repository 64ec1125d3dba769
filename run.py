#!/usr/bin/env python3
"""repairlab's command line: `python run.py COMMAND [--config PATH]` (SPEC §7).

Installed, the same command line is the `repairlab` command (repairlab.cli.main).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def import_checkout_as_repairlab() -> None:
    """Make the checkout this file sits in the package `repairlab`, as pyproject.toml's
    package-dir does for an install, whether or not a `repairlab` is installed: a
    checkout's run.py runs the checkout's code. The checkout's directory leaves
    sys.path (Python puts a script's own directory first), so its folders are no
    top-level modules here either, as installed: an import that forgot the
    `repairlab.` prefix fails here as it would there. If `repairlab` is already
    imported (this file loaded twice) nothing changes."""
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        del sys.path[0]
    if "repairlab" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "repairlab", HERE / "__init__.py", submodule_search_locations=[str(HERE)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["repairlab"] = package
    spec.loader.exec_module(package)


if not __package__:  # a script (or run_path), not the installed module repairlab.run
    import_checkout_as_repairlab()

from repairlab.cli.main import main  # noqa: E402 - once the package is importable

if __name__ == "__main__":
    sys.exit(main())
