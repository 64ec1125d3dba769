"""Quarantine: dead letters go to `processed/hard_fail/` or `processed/corrupt/`."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from actors.base import SupervisedActor
from messages.commands import MarkCorrupt, QuarantineBundle
from messages.records import ReasonFile, rfc3339
from state.fsops import rename_noreplace, unique_names, write_exclusive
from state.layout import Layout

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


def quarantine(layout: Layout, instance: str, q: QuarantineBundle, now: float) -> Path:
    """Move the claimed handoff of `q` to `processed/hard_fail/` with its reason
    file (see `place_with_reason` for what is raised)."""
    reason = ReasonFile(
        handoff=q.name, rule=q.rule, bundle_sha256=q.bundle_sha256,
        failures=list(q.failures), quarantined_at=rfc3339(now), tool=q.tool,
        lineage=q.lineage, reason=q.failures[-1].reason if q.failures else None,
        instance=instance, last_test_output=q.last_test_output[-20000:],
        last_attempt=q.last_attempt,
    )
    return place_with_reason(Path(q.claim), layout.hard_fail, q.name, reason)


class Quarantine(SupervisedActor):
    """Moves quarantined and corrupt handoffs to their terminal place, each with
    its reason file. Answers with the destination path."""

    kind = "quarantine"

    def handle(self, message: Any) -> Any:
        layout = self.runtime.layout
        now = time.time()
        match message:
            case QuarantineBundle() as q:
                target = quarantine(layout, self.runtime.instance, q, now)
                self.log.bind(bundle=q.bundle_sha256[:12]).info(
                    "quarantined {!r} after {} failures", target.name, len(q.failures))
                return str(target)
            case MarkCorrupt() as c:
                reason = ReasonFile(
                    handoff=c.name, rule="the handoff is not valid repairlab.handoff/1 input",
                    reason=f"{c.reason}: {c.message}", field=c.field,
                    instance=self.runtime.instance, corrupt_at=rfc3339(now),
                )
                target = place_with_reason(Path(c.claim), layout.corrupt, c.name, reason)
                self.log.info("corrupt handoff {!r}: {}", target.name, c.message)
                return str(target)
        raise TypeError(f"quarantine cannot handle {type(message).__name__}")
