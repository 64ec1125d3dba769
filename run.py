#!/usr/bin/env python3
"""repairlab's command line: `python run.py COMMAND [--config PATH]` (SPEC §7)."""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing: the packages sit beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
