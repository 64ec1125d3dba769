"""Quarantine: dead letters go to `processed/hard_fail/` or `processed/corrupt/`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from actors.base import SupervisedActor
from messages.commands import MarkCorrupt, QuarantineBundle
from messages.records import ReasonFile, rfc3339
from state.fsops import atomic_write, rename_noreplace, unique_names

_encoder = msgspec.json.Encoder()


def place_with_reason(claim: Path, directory: Path, name: str, reason: ReasonFile) -> Path:
    """Write `STEM.reason.json`, then move the handoff beside it as `name` (or a
    unique variant of it). Nothing is overwritten: a name is taken only when
    neither the handoff nor its reason file exists there.

    Raises FileNotFoundError when the claim is gone (nothing is left behind),
    OSError when the disk refuses (the claim stays where it was).
    """
    for candidate in unique_names(name):
        target = directory / candidate
        reason_path = directory / (candidate.removesuffix(".json") + ".reason.json")
        if target.exists() or target.is_symlink() or reason_path.exists():
            continue
        if not claim.exists() and not claim.is_symlink():
            raise FileNotFoundError(str(claim))
        reason.handoff = candidate
        atomic_write(reason_path, _encoder.encode(reason), point="quarantine.reason_write")
        try:
            rename_noreplace(claim, target)
        except FileExistsError:
            reason_path.unlink(missing_ok=True)
            continue
        except BaseException:
            reason_path.unlink(missing_ok=True)
            raise
        return target
    raise AssertionError("unreachable")  # pragma: no cover


class Quarantine(SupervisedActor):
    """Moves quarantined and corrupt handoffs to their terminal place, each with
    its reason file. Answers with the destination path."""

    kind = "quarantine"

    def handle(self, message: Any) -> Any:
        layout = self.runtime.layout
        now = time.time()
        match message:
            case QuarantineBundle() as q:
                reason = ReasonFile(
                    handoff=q.name, rule=q.rule, bundle_sha256=q.bundle_sha256,
                    failures=list(q.failures), quarantined_at=rfc3339(now), tool=q.tool,
                    lineage=q.lineage, reason=q.failures[-1].reason if q.failures else None,
                    instance=self.runtime.instance, last_test_output=q.last_test_output[-20000:],
                )
                target = place_with_reason(Path(q.claim), layout.hard_fail, q.name, reason)
                self.log.bind(bundle=q.bundle_sha256[:12]).info(
                    "quarantined {} after {} failures", target.name, len(q.failures))
                return str(target)
            case MarkCorrupt() as c:
                reason = ReasonFile(
                    handoff=c.name, rule="the handoff is not valid repairlab.handoff/1 input",
                    reason=f"{c.reason}: {c.message}", field=c.field,
                    instance=self.runtime.instance, corrupt_at=rfc3339(now),
                )
                target = place_with_reason(Path(c.claim), layout.corrupt, c.name, reason)
                self.log.info("corrupt handoff {}: {}", target.name, c.message)
                return str(target)
        raise TypeError(f"quarantine cannot handle {type(message).__name__}")
