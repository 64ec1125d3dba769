"""`noop`: the tests already pass."""

from __future__ import annotations

from typing import ClassVar

from repairlab.repair.strategies.base import Context, Fix


class Noop:
    """Passes the bundle on unchanged when its first test run already passed."""

    name: ClassVar[str] = "noop"

    def attempt(self, ctx: Context) -> Fix | None:
        """The engine's first run decides; no candidate is run."""
        if ctx.accepts(ctx.first_run):
            return Fix(changed={}, report=ctx.first_run, details={"note": "already passing"})
        return None
