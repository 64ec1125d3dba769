"""Reading, checking and resolving the configuration."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from repairlab.config.schema import Config
from repairlab.errors import ConfigError

DEFAULT_FILE = Path(__file__).with_name("default.toml")
SCHEDULES = ("hourly", "daily", "weekly")
BACKENDS = ("filesystem", "postgres")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
KNOWN_STRATEGIES = (
    "noop", "signature_adapter", "pattern_transplant", "heuristic_microfix", "llm",
    "external_agent",
)
_LLM_KEYS = frozenset({
    "enabled", "base_url", "model", "api_key_env", "samples", "temperature", "max_tokens",
    "timeout_seconds", "max_retries", "max_requests_per_hour", "max_tokens_per_day",
    "circuit_failures", "circuit_open_seconds", "reserve_seconds",
})
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
FAULT_ACTIONS = re.compile(r"(crash|enospc|eio|einval|hang|slow)(:[0-9.]+)?(@[0-9.]+|#[0-9]+)?")
INSTANCE_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _defaults() -> dict[str, Any]:
    with DEFAULT_FILE.open("rb") as fh:
        return tomllib.load(fh)


def resolve_config_path(cli_path: str | None) -> Path | None:
    """`--config PATH`, else `$REPAIRLAB_CONFIG`, else None (built-in defaults)."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("REPAIRLAB_CONFIG")
    return Path(env) if env else None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# Values of these keys are never echoed in an error: a key pasted where its variable's
# name belongs, or a URL with a password in it, must not reach a log line.
_SECRET_PRONE = {("llm", "api_key_env"), ("llm", "base_url"), ("backend", "dsn")}


def _shown(section: str, key: str, value: Any) -> str:
    if (section, key) in _SECRET_PRONE or (section == "llm" and key not in _LLM_KEYS):
        return "<not shown>"
    return _show(value)


def _overlay(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = {name: dict(table) for name, table in defaults.items()}
    for name, table in given.items():
        if name not in defaults:
            raise ConfigError(f"config: unknown section [{name}]")
        if not isinstance(table, dict):
            raise ConfigError(f"config: [{name}] must be a table, got {_show(table)}")
        for key, value in table.items():
            if key not in defaults[name]:
                raise ConfigError(
                    f"config: unknown key [{name}] {key} = {_shown(name, key, value)}")
            merged[name][key] = value
    return merged


def _check(ok: bool, section: str, key: str, value: Any, want: str) -> None:
    if not ok:
        raise ConfigError(
            f"config: bad value [{section}] {key} = {_shown(section, key, value)}: {want}")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_RULES: dict[tuple[str, str], tuple[Any, str]] = {
    ("failure_window", "window_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("failure_window", "max_failures"): (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("backoff", "base_seconds"): (lambda v: _number(v) and v >= 0, "a number >= 0"),
    ("backoff", "max_seconds"): (lambda v: _number(v) and v >= 0, "a number >= 0"),
    ("prune", "ttl_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("prune", "schedule"): (lambda v: v in SCHEDULES, "one of " + ", ".join(SCHEDULES)),
    ("prune", "metrics_max_bytes"): (lambda v: _integer(v) and v >= 4096, "an integer >= 4096"),
    ("repair", "workers"): (lambda v: _integer(v) and 1 <= v <= 64, "an integer from 1 to 64"),
    ("repair", "test_timeout_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("repair", "bundle_timeout_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("repair", "max_candidates"): (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("repair", "max_patterns"): (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("repair", "strategies"): (
        lambda v: isinstance(v, list) and all(s in KNOWN_STRATEGIES for s in v)
        and len(set(v)) == len(v),
        "a list of distinct names among " + ", ".join(KNOWN_STRATEGIES),
    ),
    ("repair", "external_agent"): (
        lambda v: isinstance(v, list) and all(isinstance(s, str) and s for s in v),
        "a list of non-empty strings (argv)",
    ),
    ("limits", "max_handoff_bytes"): (lambda v: _integer(v) and v >= 64, "an integer >= 64"),
    ("limits", "max_files"): (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("instance", "id"): (
        lambda v: isinstance(v, str) and (v == "" or INSTANCE_ID_RE.fullmatch(v) is not None),
        "empty, or 1-64 of [A-Za-z0-9_.-]",
    ),
    ("instance", "lease_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("supervisor", "max_restarts"): (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("supervisor", "period_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("watch", "rescan_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("watch", "heartbeat_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("backend", "kind"): (lambda v: v in BACKENDS, "one of " + ", ".join(BACKENDS)),
    ("backend", "dsn"): (lambda v: isinstance(v, str) and len(v) <= 4096,
                         "a libpq connection string or postgresql:// URL"),
    ("web", "listen"): (lambda v: isinstance(v, str) and _host_port(v), "HOST:PORT, e.g. "
                        "127.0.0.1:8470 or [::1]:8470"),
    ("web", "token_file"): (lambda v: isinstance(v, str), "a path string (\"\" = read-only)"),
    ("llm", "enabled"): (lambda v: isinstance(v, bool), "true or false"),
    ("llm", "base_url"): (lambda v: isinstance(v, str) and (v == "" or _http_url(v)),
                          "empty, or an http:// or https:// URL without user:password"),
    ("llm", "model"): (lambda v: isinstance(v, str) and len(v) <= 256, "a model name"),
    ("llm", "api_key_env"): (
        lambda v: isinstance(v, str) and (v == "" or ENV_NAME_RE.fullmatch(v) is not None),
        "the NAME of an environment variable (the key itself never goes in a config), or empty",
    ),
    ("llm", "samples"): (lambda v: _integer(v) and 1 <= v <= 16, "an integer from 1 to 16"),
    ("llm", "temperature"): (lambda v: _number(v) and 0 <= v <= 2, "a number from 0 to 2"),
    ("llm", "max_tokens"): (lambda v: _integer(v) and 16 <= v <= 65536,
                            "an integer from 16 to 65536"),
    ("llm", "timeout_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("llm", "max_retries"): (lambda v: _integer(v) and 0 <= v <= 10, "an integer from 0 to 10"),
    ("llm", "max_requests_per_hour"): (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("llm", "max_tokens_per_day"): (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("llm", "circuit_failures"): (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    ("llm", "circuit_open_seconds"): (lambda v: _number(v) and v > 0, "a number > 0"),
    ("llm", "reserve_seconds"): (lambda v: _number(v) and v >= 0, "a number >= 0"),
    ("log", "level"): (lambda v: v in LOG_LEVELS, "one of " + ", ".join(LOG_LEVELS)),
    ("log", "json"): (lambda v: isinstance(v, bool), "true or false"),
    ("sandbox", "require"): (lambda v: isinstance(v, bool), "true or false"),
    ("faults", "seed"): (_integer, "an integer"),
    ("faults", "points"): (
        lambda v: isinstance(v, dict)
        and all(isinstance(a, str) and FAULT_ACTIONS.fullmatch(a) for a in v.values()),
        "a table of point = \"crash|enospc|eio|einval|hang|slow[:seconds][@probability|#nth]\"",
    ),
}


def parse_listen(value: str) -> tuple[str, int] | None:
    """`HOST:PORT` (IPv6 in brackets) -> (host, port), or None when it is not one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or c in "/[]" for c in host):
        return None
    return host, int(port)


_URL_PASSWORD = re.compile(r"(://[^:/?#@]*):[^@/?#]*@")
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def masked_dsn(dsn: str) -> str:
    """`dsn` with any password replaced by `***` (URL or key=value form), for
    `check-config`, `status` and log lines."""
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", dsn))


def _host_port(value: str) -> bool:
    """HOST:PORT with a port from 1 to 65535 (an IPv6 host in brackets)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return False
    if host.startswith("["):
        return host.endswith("]") and len(host) > 2
    return ":" not in host


def _http_url(value: str) -> bool:
    """An http(s) URL with a host and no credentials in it (a key in the URL would
    be printed by check-config and written into provenance)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and parts.username is None and parts.password is None)


def _resolve(base: Path, value: str) -> str:
    if value == "":
        return ""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


def default_instance_id() -> str:
    """Host name and process id: unique per process on one shared disk."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


def load_config(path: Path | None, *, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Built-in defaults overlaid with the TOML file at `path` (if any) and then
    with `overrides` (used by tests and the demo).

    Raises ConfigError with one line naming the key and the value when the file
    cannot be read, is not TOML, names an unknown key or holds a bad value.
    """
    given: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            with open(path, "rb") as fh:
                given = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
        base = Path(path).absolute().parent
    merged = _overlay(_defaults(), given)
    if overrides:
        merged = _overlay(merged, overrides)
    for (section, key), (rule, want) in _RULES.items():
        value = merged[section][key]
        _check(bool(rule(value)), section, key, value, want)
    for key, value in merged["paths"].items():
        _check(isinstance(value, str) and (key != "root" or value != ""), "paths", key, value,
               "a path string" + (" (not empty)" if key == "root" else ""))
        if key != "root" and value and not Path(value).is_absolute():
            raise ConfigError(f"config: bad value [paths] {key} = {_show(value)}: an absolute path")
    bw = merged["backoff"]
    if bw["max_seconds"] < bw["base_seconds"]:
        raise ConfigError(
            f"config: bad value [backoff] max_seconds = {_show(bw['max_seconds'])}: "
            f"must be >= base_seconds ({bw['base_seconds']})"
        )
    llm = merged["llm"]
    if llm["enabled"]:
        for key in ("base_url", "model"):
            if not llm[key]:
                raise ConfigError(f"config: bad value [llm] {key} = {_show(llm[key])}: "
                                  "must be set when [llm] enabled = true")
    merged["paths"] = {k: _resolve(base, v) for k, v in merged["paths"].items()}
    if merged["web"]["token_file"]:
        merged["web"]["token_file"] = _resolve(base, merged["web"]["token_file"])
    env_dsn = os.environ.get("REPAIRLAB_DSN")
    if env_dsn:
        merged["backend"]["dsn"] = env_dsn
    if merged["backend"]["kind"] == "postgres" and not merged["backend"]["dsn"]:
        raise ConfigError("config: bad value [backend] dsn = '': must be set (or $REPAIRLAB_DSN) "
                          "when [backend] kind = \"postgres\"")
    if not merged["instance"]["id"]:
        merged["instance"]["id"] = default_instance_id()
    merged["source"] = str(Path(path).absolute()) if path is not None else None
    try:
        return msgspec.convert(merged, Config)
    except msgspec.ValidationError as exc:  # a type the rules above missed
        raise ConfigError(f"config: {exc}") from None


def config_digest(config: Config) -> str:
    """SHA-256 of the effective configuration, for provenance; the instance id
    and source file are left out so that peers with one config share a digest."""
    data = msgspec.to_builtins(config)
    data.pop("source", None)
    data.get("instance", {}).pop("id", None)
    data.pop("web", None)  # where the dashboard listens has no bearing on a repair
    return hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()
