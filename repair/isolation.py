"""What keeps a candidate from harming the daemon: found out, named, and required.

A candidate is untrusted code. The isolation that matters (SPEC §6, `[sandbox]`) is
that it cannot write the state root, cannot reach the network and cannot signal the
daemon. Which of those hold is never guessed from the environment (is bwrap on
PATH, are we root): `repair.warm_runner.probe_isolation` starts the real test server
the way the runners will, and a child confined exactly as a candidate is tries each
thing (repair/sandbox.py, `Server.probe_isolation`). This module turns those facts
into an `Isolation`, the one line that names it, and the one line that refuses to
start when `[sandbox] require = true` and it falls short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger

from repairlab.errors import RepairlabError

FIX = ("install bubblewrap (apt-get install bubblewrap); if it is installed but refused "
       "(Ubuntu 24.04 restricts unprivileged user namespaces through AppArmor), give "
       "/usr/bin/bwrap an AppArmor profile with `userns,` or set the sysctl "
       "kernel.apparmor_restrict_unprivileged_userns=0; or set [sandbox] require = false "
       "to run candidates without this isolation knowingly")


class SandboxRefused(RepairlabError):
    """`[sandbox] require = true` and candidates cannot be isolated here; the message
    is the one line that says what is missing and how to fix it."""


class Isolation(msgspec.Struct, frozen=True, kw_only=True):
    """The isolation candidates get on this machine, as probed.

    `mechanism` is "bwrap" (bubblewrap's user, pid, network and mount namespaces),
    "uid" (no bwrap: root hands each candidate its own uid, in a network namespace
    where root may make one), "none" (no bwrap and not root: candidates run as the
    daemon's uid), or "subprocess" (the reference runner, forced by
    REPAIRLAB_RUNNER=subprocess). The booleans are what a probing candidate could
    not do; `processes` is whether RLIMIT_NPROC bounds a candidate's processes.
    `why` says why bubblewrap is not in use, when it is not.
    """

    mechanism: str
    candidate_uid: str  # "ephemeral" (one fresh uid per candidate) or "daemon's"
    state_root: bool
    network: bool
    signals: bool
    processes: bool
    why: str = ""

    @property
    def sufficient(self) -> bool:
        """Whether `[sandbox] require = true` is met."""
        return self.state_root and self.network and self.signals

    def missing(self) -> list[str]:
        """What a candidate can do here that it must not, in words."""
        gaps = []
        if not self.state_root:
            gaps.append("write the state root")
        if not self.network:
            gaps.append("reach the network")
        if not self.signals:
            gaps.append("signal the daemon")
        return gaps

    def line(self) -> str:
        """One line for check-config, status and the log."""
        how = {
            "bwrap": "bubblewrap (own pid, network and mount namespaces; host read-only)",
            "uid": "no bubblewrap: a fresh uid per candidate as root",
            "none": "no bubblewrap: candidates run as the daemon's own uid",
            "subprocess": "none: the reference runner (REPAIRLAB_RUNNER=subprocess)",
        }.get(self.mechanism, self.mechanism)
        if self.mechanism == "bwrap":
            how += (", a fresh uid per candidate" if self.candidate_uid == "ephemeral"
                    else ", candidates as the daemon's uid in a user namespace of their own")
        verdict = ("candidates cannot write the state root, reach the network or signal "
                   "the daemon" if self.sufficient
                   else "INSUFFICIENT: candidates can " + ", ".join(self.missing()))
        limit = "process limit" if self.processes else "no process limit"
        why = f" (bubblewrap: {self.why})" if self.why and self.mechanism != "bwrap" else ""
        return f"{how}; {verdict}; {limit}{why}"

    def refusal(self) -> str:
        """The one line with which a daemon that requires isolation refuses to start."""
        why = f" ({self.why})" if self.why else ""
        return (f"[sandbox] require = true, but candidates here could "
                f"{', '.join(self.missing())}{why}: to fix, {FIX}")


def from_hello(hello: Mapping[str, Any], *, bwrap: bool, why: str = "") -> Isolation:
    """The `Isolation` a test server reported in its hello (see `Server.serve`);
    facts it did not report count as the worse answer."""
    facts = hello.get("isolation")
    facts = facts if isinstance(facts, Mapping) else {}
    writable = facts.get("writable", ["?"])
    uid_mode = str(hello.get("uid_mode", "none"))
    mechanism = "bwrap" if bwrap else ("uid" if uid_mode != "none" else "none")
    return Isolation(
        mechanism=mechanism,
        candidate_uid="ephemeral" if uid_mode != "none" else "daemon's",
        state_root=isinstance(writable, list) and not writable,
        network=facts.get("network") is False,
        signals=facts.get("signal") is False,
        processes=facts.get("processes") is True,
        why="" if bwrap else why,
    )


SUBPROCESS = Isolation(mechanism="subprocess", candidate_uid="daemon's", state_root=False,
                       network=False, signals=False, processes=False,
                       why="REPAIRLAB_RUNNER=subprocess")


def guards_of(directories: Sequence[Path]) -> list[str]:
    """The directories a probing candidate tries to write: each given one that
    exists, else its nearest existing parent (a candidate that could write there
    could make it)."""
    found: list[str] = []
    for directory in directories:
        path = Path(directory).absolute()
        while not path.exists() and path != path.parent:
            path = path.parent
        if str(path) not in found:
            found.append(str(path))
    return found


def enforce(require: bool, guards: Sequence[str]) -> Isolation:
    """Probe the isolation candidates get here (`probe_isolation`) and apply
    `[sandbox] require`: when it is required and falls short, raise SandboxRefused
    with the one line that says what is missing and how to fix it; when it is not
    required, log a warning (at every start) that names what candidates can do."""
    from repairlab.repair.warm_runner import probe_isolation

    isolation = probe_isolation(guards)
    log = logger.bind(actor="daemon")
    if not isolation.sufficient:
        if require:
            raise SandboxRefused(isolation.refusal())
        log.warning("[sandbox] require = false: candidates run with too little isolation, "
                    "they can {} ({}); to fix, {}", ", ".join(isolation.missing()),
                    isolation.why or isolation.mechanism, FIX.split("; or set")[0])
    log.info("candidates' isolation: {}", isolation.line())
    return isolation
