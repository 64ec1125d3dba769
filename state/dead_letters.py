"""Dead letters: a handoff placed in `processed/hard_fail/` or `processed/corrupt/`
beside its reason file, never overwriting anything (the filesystem backend's
`fail` and `mark_corrupt`, `state/fs_backend.py`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec

from repairlab.messages.records import ReasonFile
from repairlab.state.fsops import rename_noreplace, unique_names, write_exclusive

_encoder = msgspec.json.Encoder()
# A reason file is `STEM.reason.json`, written through `.STEM.reason.json.<12 hex>.tmp`:
# a stem up to this many bytes keeps both (and a `.N` suffix) within NAME_MAX (255).
MAX_STEM_BYTES = 200


def fit_name(name: str) -> str:
    """`name`, or a shortened `STEM~HASH.json` when its reason file's name (or that
    file's temporary name) would not fit in a directory entry. The hash of the
    whole name keeps distinct long names distinct."""
    stem = name.removesuffix(".json")
    raw = stem.encode("utf-8", "surrogateescape")
    if len(raw) <= MAX_STEM_BYTES:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    short = raw[:MAX_STEM_BYTES - 13].decode("utf-8", "ignore")
    return f"{short}~{digest}.json"


def place_with_reason(claim: Path, directory: Path, name: str, reason: ReasonFile) -> Path:
    """Create `STEM.reason.json` exclusively, then move the handoff beside it as
    `name` (or a unique variant of it). Nothing is overwritten and nothing of
    another writer's is removed: a reason file is created only where no file of
    its name exists (`write_exclusive`: of two instances quarantining handoffs of
    one name at once, one gets `STEM.reason.json`, the other the next unique
    name), and when the handoff's own name turns out taken, only this call's
    reason file is removed before the next name is tried.

    A name too long to carry a `.reason.json` beside it is shortened (`fit_name`).
    Raises FileNotFoundError when the claim is gone (nothing is left behind),
    OSError when the disk refuses (the claim stays where it was).
    """
    for candidate in unique_names(fit_name(name)):
        target = directory / candidate
        reason_path = directory / (candidate.removesuffix(".json") + ".reason.json")
        if os.path.lexists(target) or os.path.lexists(reason_path):
            continue
        if not os.path.lexists(claim):
            raise FileNotFoundError(str(claim))
        reason.handoff = candidate
        try:
            write_exclusive(reason_path, _encoder.encode(reason),
                            point="quarantine.reason_write")
        except FileExistsError:
            continue  # another instance took this name a moment ago
        try:
            rename_noreplace(claim, target)
        except FileExistsError:
            reason_path.unlink(missing_ok=True)  # ours: nobody replaces an existing name
            continue
        except BaseException:
            reason_path.unlink(missing_ok=True)
            raise
        return target
    raise AssertionError("unreachable")  # pragma: no cover
