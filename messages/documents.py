"""The one JSON form of a report, shared by the command line's `--json` and the web's `/api/*`.

Both print `document(report)`, so `run.py status --json` and `GET /api/status`
(and `quarantine list --json` and `GET /api/quarantine`) are the same document
for the same state, field for field and byte for byte.
"""

from __future__ import annotations

import msgspec


def document(value: object) -> bytes:
    """`value` (a Struct, or builtins holding Structs) as JSON indented by two
    spaces, with a final newline. Raises TypeError for a value msgspec cannot encode."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n"
