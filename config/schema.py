"""The typed shape of the configuration."""

from __future__ import annotations

from pathlib import Path

import msgspec


class Paths(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[paths]`: the state root and optional absolute overrides."""

    root: str
    queue: str = ""
    processed: str = ""
    challengers: str = ""
    metrics: str = ""
    patterns: str = ""


class FailureWindow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[failure_window]`."""

    window_seconds: float
    max_failures: int


class Backoff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[backoff]`."""

    base_seconds: float
    max_seconds: float

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure: base, doubled each
        time, never more than max."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, 60)
        return float(min(self.max_seconds, self.base_seconds * (2**exponent)))


class Prune(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[prune]`."""

    ttl_seconds: float
    schedule: str
    metrics_max_bytes: int = 67108864


class Repair(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[repair]`."""

    workers: int
    test_timeout_seconds: float
    strategies: tuple[str, ...]
    external_agent: tuple[str, ...]
    bundle_timeout_seconds: float
    max_candidates: int
    max_patterns: int


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[limits]`."""

    max_handoff_bytes: int
    max_files: int


class Instance(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[instance]`."""

    id: str
    lease_seconds: float


class Supervisor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[supervisor]`."""

    max_restarts: int
    period_seconds: float


class Sandbox(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[sandbox]`: whether candidates' isolation is required (SPEC §6)."""

    require: bool = True


class Watch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[watch]`: how often the queue is rescanned and the heartbeat written."""

    rescan_seconds: float
    heartbeat_seconds: float


class Log(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[log]`."""

    level: str
    json: bool


class Faults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[faults]`: named injection points and their actions (see faults module)."""

    seed: int
    points: dict[str, str]


class Llm(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[llm]`: the `llm` strategy's endpoint, sampling and budgets (off by default).

    `api_key_env` names the environment variable that holds the key; the key
    itself is read at request time and never stored here, so a dump of the
    config (`check-config`, the config digest) can never show it.
    """

    enabled: bool = False
    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    samples: int = 3
    temperature: float = 0.7
    max_tokens: int = 2048
    timeout_seconds: float = 60.0
    max_retries: int = 2
    max_requests_per_hour: int = 60
    max_tokens_per_day: int = 1000000
    circuit_failures: int = 5
    circuit_open_seconds: float = 600.0
    reserve_seconds: float = 60.0


class Backend(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[backend]`: where the state lives (SPEC §6, §9). `dsn` may hold a
    password: it is never shown (`check-config` prints it masked) nor logged."""

    kind: str = "filesystem"
    dsn: str = ""


class Web(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[web]`: `run.py web` (SPEC §10). Without a `token_file` it is read-only."""

    listen: str = "127.0.0.1:8470"
    token_file: str = ""


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration, paths already resolved to absolute ones.

    `source` is the file it came from (None for the built-in defaults).
    """

    paths: Paths
    failure_window: FailureWindow
    backoff: Backoff
    prune: Prune
    repair: Repair
    limits: Limits
    instance: Instance
    supervisor: Supervisor
    sandbox: Sandbox = Sandbox()
    watch: Watch
    log: Log
    faults: Faults
    llm: Llm = msgspec.field(default_factory=Llm)
    backend: Backend = Backend()
    web: Web = Web()
    source: str | None = None

    @property
    def root(self) -> Path:
        """The state root, absolute."""
        return Path(self.paths.root)
