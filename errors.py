"""The one tree of repairlab's own errors.

Every condition that repairlab detects and reports on purpose is a subclass of
`RepairlabError`, named for the condition. Anything else that escapes is a bug.
"""

from __future__ import annotations


class RepairlabError(Exception):
    """Root of every error repairlab raises on purpose."""


class ConfigError(RepairlabError):
    """The configuration cannot be used; the message names the key and the value."""


class HandoffInvalid(RepairlabError):
    """A handoff is not valid input.

    `reason` is a short machine-readable code (``"json"``, ``"field"``, ``"path"``,
    ``"limit"``, ``"file_type"`` ...) and the message says in words what is wrong.
    """

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class StateRootUnsafe(RepairlabError):
    """The state root is world-writable, owned by someone else, or a symlink."""


class QueueUnavailable(RepairlabError):
    """The queue directory cannot be read or written."""


class RepairBudgetExhausted(RepairlabError):
    """A bundle's wall-time or candidate budget ran out before a repair was found."""


class UsageError(RepairlabError):
    """A command line or operator request that cannot be carried out as asked."""


class SandboxUnavailable(RepairlabError):
    """The warm test server cannot be started (neither under bwrap nor without it)."""


class SchemaMismatch(RepairlabError):
    """The database's schema is missing or of a version this code does not know;
    the message says which and what to run (`run.py migrate`)."""
