"""The shipped systemd units: they verify clean, meet the exposure target, and say
what the daemon relies on (notify, watchdog, restart policy, hardening).

`systemd-analyze verify` wants the unit's executables to exist, so it runs with
`--root=` pointing at a scratch tree holding the host's unit directory, the units
and stand-ins for /opt/repairlab/.venv/bin/python and /bin/kill: the unit files
are checked exactly as shipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "systemd"
MAIN = UNITS / "repairlab.service"
TEMPLATE = UNITS / "repairlab@.service"
EXAMPLE = UNITS / "repairlab.toml.example"
EXPOSURE_TARGET = 1.5

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
)
needs_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed on this host"
)

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(path: Path) -> Unit:
    """Sections → (key, value) pairs in order; repeated keys kept, as systemd reads them."""
    sections: Unit = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: setting outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a setting: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: Unit, section: str, key: str) -> str:
    got = values(unit, section, key)
    assert len(got) == 1, f"[{section}] {key}= should be set once, found {got}"
    return got[0]


def seconds(value: str) -> float:
    """A systemd time span ("30", "30s", "1min 30s") in seconds."""
    scale = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * scale[unit]
    return total


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root for `systemd-analyze --root=`: the host's units, ours, and executables."""
    host_units = next(
        (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
        None,
    )
    if host_units is None:
        pytest.skip("no systemd unit directory on this host to verify against")
    root = tmp_path_factory.mktemp("sysroot")
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in (MAIN, TEMPLATE):
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    for unit_path in (MAIN, TEMPLATE):
        for key in ("ExecStart", "ExecReload"):
            for command in values(parse_unit(unit_path), "Service", key):
                exe = root / command.split()[0].lstrip("-@:+!").lstrip("/")
                exe.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy("/bin/true", exe)
    return root


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False
    )


# -- systemd-analyze --------------------------------------------------------------


@needs_analyze
@pytest.mark.parametrize("name", ["repairlab.service", "repairlab@a.service"])
def test_unit_verifies_without_errors_or_warnings(fake_root: Path, name: str) -> None:
    result = analyze("verify", "--man=no", f"--root={fake_root}", name)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if "repairlab" in line], output


@needs_analyze
@pytest.mark.parametrize("unit", [MAIN, TEMPLATE], ids=lambda p: p.name)
def test_exposure_is_at_most_the_target(unit: Path) -> None:
    result = analyze("security", "--offline=true", str(unit))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    assert exposure <= EXPOSURE_TARGET, result.stdout


# -- what the daemon relies on ------------------------------------------------------


@pytest.mark.parametrize("unit_path", [MAIN, TEMPLATE], ids=lambda p: p.name)
def test_unit_runs_the_daemon_as_a_notify_service_with_a_watchdog(unit_path: Path) -> None:
    unit = parse_unit(unit_path)
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert seconds(one(unit, "Service", "WatchdogSec")) == 30
    assert one(unit, "Service", "Restart") == "on-failure"
    assert seconds(one(unit, "Service", "RestartSec")) > 0
    assert "2" in one(unit, "Service", "RestartPreventExitStatus").split()
    assert seconds(one(unit, "Unit", "StartLimitIntervalSec")) > 0
    assert int(one(unit, "Unit", "StartLimitBurst")) > 0
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > 0
    assert one(unit, "Service", "KillMode") in {"mixed", "control-group"}
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    argv = one(unit, "Service", "ExecStart").split()
    assert argv[0] == "/opt/repairlab/.venv/bin/python"
    assert argv[1:3] == ["/opt/repairlab/run.py", "run"]
    config = argv[argv.index("--config") + 1]
    config_dir = one(unit, "Service", "ConfigurationDirectory")
    assert config.startswith(f"/etc/{config_dir}/")


@pytest.mark.parametrize("unit_path", [MAIN, TEMPLATE], ids=lambda p: p.name)
def test_unit_is_hardened(unit_path: Path) -> None:
    unit = parse_unit(unit_path)
    expected = {
        "User": "repairlab",
        "StateDirectory": "repairlab",
        "ConfigurationDirectory": "repairlab",
        "UMask": "0077",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "PrivateNetwork": "yes",
        "PrivateUsers": "yes",
        "IPAddressDeny": "any",
        "MemoryDenyWriteExecute": "yes",
        "LockPersonality": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "SystemCallArchitectures": "native",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "ProtectProc": "invisible",
        "DevicePolicy": "closed",
        "KeyringMode": "private",
        "RemoveIPC": "yes",
    }
    got = {key: one(unit, "Service", key) for key in expected}
    assert got == expected
    families = set(one(unit, "Service", "RestrictAddressFamilies").split())
    assert families <= {"AF_UNIX", "AF_NETLINK"}
    # Namespaces are allowed only for what the test sandbox (bwrap) creates.
    namespaces = set(one(unit, "Service", "RestrictNamespaces").split())
    assert namespaces <= {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}
    filters = values(unit, "Service", "SystemCallFilter")
    assert filters[0].split()[0] == "@system-service"
    assert any(f.startswith("~") and "@privileged" in f for f in filters)
    for key in ("TasksMax", "MemoryMax", "LimitNOFILE"):
        assert one(unit, "Service", key)


def test_template_differs_from_the_main_unit_only_in_instance_settings() -> None:
    main, template = parse_unit(MAIN), parse_unit(TEMPLATE)
    instance_keys = {"Description", "ExecStart", "SyslogIdentifier"}

    def common(unit: Unit) -> dict[str, list[tuple[str, str]]]:
        return {s: [kv for kv in kvs if kv[0] not in instance_keys] for s, kvs in unit.items()}

    assert common(template) == common(main)
    assert "--config /etc/repairlab/%i.toml" in one(template, "Service", "ExecStart")
    assert "%i" in one(template, "Unit", "Description")
    assert "%i" in one(template, "Service", "SyslogIdentifier")


# -- the example config ------------------------------------------------------------

SPEC_KEYS = {
    "paths": {"root"},
    "failure_window": {"window_seconds", "max_failures"},
    "backoff": {"base_seconds", "max_seconds"},
    "prune": {"ttl_seconds", "schedule"},
    "repair": {
        "workers", "test_timeout_seconds", "strategies", "external_agent",
        "bundle_timeout_seconds", "max_candidates", "max_patterns",
    },
    "limits": {"max_handoff_bytes", "max_files"},
    "instance": {"id", "lease_seconds"},
    "supervisor": {"max_restarts", "period_seconds"},
    "sandbox": {"require"},
}


def test_example_config_uses_exactly_the_spec_keys_and_the_units_state_directory() -> None:
    config = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert {section: set(keys) for section, keys in config.items()} == SPEC_KEYS
    unit = parse_unit(MAIN)
    state = f"/var/lib/{one(unit, 'Service', 'StateDirectory')}"
    assert config["paths"]["root"] == state
    assert one(unit, "Service", "WorkingDirectory") == state


def test_example_config_is_accepted_by_the_daemons_own_loader() -> None:
    from repairlab.config import load_config

    config = load_config(EXAMPLE)
    assert config.paths.root == "/var/lib/repairlab"
