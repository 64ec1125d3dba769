"""What the supervisor needs to know to start and restart one child."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pykka

Restart = Literal["permanent", "transient", "temporary"]


@dataclass(frozen=True)
class ChildSpec:
    """One supervised actor.

    - `factory(fresh)` starts the actor and returns its ref; `fresh` is False
      when it is a restart after a crash.
    - `restart`: `permanent` children are always restarted, `transient` ones
      only after a crash (not after a normal stop), `temporary` ones never.
    - `shutdown_seconds`: how long a stop may take before it is abandoned.
    """

    name: str
    factory: Callable[[bool], pykka.ActorRef[Any]]
    restart: Restart = "permanent"
    shutdown_seconds: float = 5.0
