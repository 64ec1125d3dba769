"""Supervision: child specs, the restart intensity window, the supervisor.

Modelled on Erlang/OTP's `supervisor`: one-for-one restarts by restart type,
and past `max_restarts` within `period_seconds` the supervisor stops every child
in reverse start order and reports failure, so the process exits non-zero and
systemd restarts it: escalate, never loop.
"""

from repairlab.supervision.child_spec import ChildSpec, Restart
from repairlab.supervision.restart_window import RestartWindow
from repairlab.supervision.supervisor import Supervisor

__all__ = ["ChildSpec", "Restart", "RestartWindow", "Supervisor"]
