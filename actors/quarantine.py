"""Quarantine: an invalid handoff goes to `processed/corrupt/` with its reason.

The move itself is the backend's (`Backend.mark_corrupt`: on the filesystem the
reason file and the rename of `state/dead_letters.py`, with the `corrupt`
event). A handoff whose failure window filled goes to `processed/hard_fail/` in
the same step as its failure is recorded (`Backend.fail`, called by the
failure_window actor), so no second actor can half-do it.
"""

from __future__ import annotations

from typing import Any

from repairlab.actors.base import SupervisedActor
from repairlab.messages.commands import MarkCorrupt
from repairlab.state.backend import Claim, Corrupt


class Quarantine(SupervisedActor):
    """Moves corrupt handoffs to their terminal place, with their reason file
    and `corrupt` event. Answers with the name the handoff has there; raises
    `Vanished` (a FileNotFoundError) when the claim is no longer ours, OSError
    when the store refused (the claim stays where it was)."""

    kind = "quarantine"

    def handle(self, message: Any) -> Any:
        match message:
            case MarkCorrupt() as c:
                placed = self.runtime.backend.mark_corrupt(Corrupt(
                    claim=Claim(ref=c.claim, name=c.name), reason=c.reason,
                    message=c.message, field=c.field))
                self.log.info("corrupt handoff {!r}: {}", placed, c.message)
                return placed
        raise TypeError(f"quarantine cannot handle {type(message).__name__}")
