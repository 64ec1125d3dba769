"""Configuration: SPEC §6 defaults, one clear line for every bad key or value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repairlab.config import load_config
from repairlab.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

SPEC_DEFAULTS = {
    ("failure_window", "window_seconds"): 600,
    ("failure_window", "max_failures"): 3,
    ("backoff", "base_seconds"): 30,
    ("backoff", "max_seconds"): 600,
    ("prune", "ttl_seconds"): 604800,
    ("prune", "schedule"): "weekly",
    ("repair", "workers"): 2,
    ("repair", "test_timeout_seconds"): 30,
    ("repair", "strategies"): ("noop", "signature_adapter", "pattern_transplant",
                               "heuristic_microfix", "external_agent"),
    ("repair", "external_agent"): (),
    ("repair", "bundle_timeout_seconds"): 120,
    ("repair", "max_candidates"): 5000,
    ("repair", "max_patterns"): 5,
    ("limits", "max_handoff_bytes"): 1048576,
    ("limits", "max_files"): 1000,
    ("instance", "lease_seconds"): 30,
    ("supervisor", "max_restarts"): 5,
    ("supervisor", "period_seconds"): 60,
    ("backend", "kind"): "filesystem",
    ("backend", "dsn"): "",
    ("web", "listen"): "127.0.0.1:8470",
    ("web", "token_file"): "",
}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}


def test_built_in_defaults_are_the_specs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    for (section, key), value in SPEC_DEFAULTS.items():
        assert getattr(getattr(config, section), key) == value, (section, key)
    assert config.root == tmp_path / "var" / "repairlab"
    assert config.instance.id  # unique per process when empty


def test_relative_paths_are_relative_to_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "r.toml").write_text('[paths]\nroot = "state"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(folder / "r.toml").root == folder / "state"


def test_durations_may_be_decimal_and_tune_the_window_and_ttl(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("[failure_window]\nwindow_seconds = 1.5\nmax_failures = 5\n"
                    "[prune]\nttl_seconds = 3600\n")
    config = load_config(path)
    assert config.failure_window.window_seconds == 1.5
    assert config.failure_window.max_failures == 5
    assert config.prune.ttl_seconds == 3600


@pytest.mark.parametrize(("body", "needle"), [
    ("[paths]\nrooot = 'x'\n", "unknown key [paths] rooot = 'x'"),
    ("[nonsense]\na = 1\n", "unknown section [nonsense]"),
    ("[repair]\nworkers = 0\n", "[repair] workers = 0"),
    ("[repair]\nworkers = 'two'\n", "[repair] workers = 'two'"),
    ("[failure_window]\nmax_failures = -1\n", "[failure_window] max_failures = -1"),
    ("[prune]\nschedule = 'monthly'\n", "[prune] schedule = 'monthly'"),
    ("[repair]\nstrategies = ['noop', 'magic']\n", "[repair] strategies = ['noop', 'magic']"),
    ("[backoff]\nbase_seconds = 10\nmax_seconds = 5\n", "[backoff] max_seconds = 5"),
    ("[instance]\nid = 'a/b'\n", "[instance] id = 'a/b'"),
    ("[limits]\nmax_files = true\n", "[limits] max_files = True"),
    ("not toml at all [", "not valid TOML"),
])
def test_bad_config_is_refused_with_one_line_naming_key_and_value(tmp_path, body, needle):
    path = tmp_path / "r.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_check_config_prints_effective_values_and_exits_zero(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("[failure_window]\nmax_failures = 4\n")
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "check-config", "--config",
                           str(path)], capture_output=True, text=True, timeout=60,
                          env=_clean_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "max_failures = 4" in proc.stdout
    assert "window_seconds = 600" in proc.stdout


def test_check_config_exits_two_with_one_line_on_a_bad_key(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("[backoff]\nbase = 3\n")
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "--config", str(path),
                           "check-config"], capture_output=True, text=True, timeout=60,
                          env=_clean_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "[backoff] base = 3" in proc.stderr


def test_config_comes_from_the_environment_when_no_flag_is_given(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("[repair]\nworkers = 7\n")
    env = _clean_env() | {"REPAIRLAB_CONFIG": str(path)}
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "check-config"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 0 and "workers = 7" in proc.stdout


def test_unknown_command_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "frobnicate"],
                          capture_output=True, text=True, timeout=60, env=_clean_env(),
                          cwd=tmp_path)
    assert proc.returncode == 2


@pytest.mark.parametrize("body, needle", [
    ('[backend]\nkind = "mysql"\n', "[backend] kind = 'mysql'"),
    ('[backend]\nkind = "postgres"\n', "[backend] dsn = ''"),
    ('[web]\nlisten = "localhost"\n', "[web] listen = 'localhost'"),
    ('[web]\nlisten = "127.0.0.1:99999"\n', "[web] listen = '127.0.0.1:99999'"),
])
def test_bad_backend_and_web_keys_are_refused_naming_key_and_value(tmp_path, monkeypatch,
                                                                   body, needle):
    monkeypatch.delenv("REPAIRLAB_DSN", raising=False)
    path = tmp_path / "r.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_the_dsn_comes_from_the_environment_and_its_password_is_never_shown(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[backend]\nkind = "postgres"\ndsn = "host=a password=file-secret"\n'
                    '[web]\ntoken_file = "token"\n')
    env = _clean_env() | {"REPAIRLAB_DSN": "postgresql://rl:env-secret@db.example/rl"}
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "check-config", "--config",
                           str(path)], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path)
    assert 'dsn = "postgresql://rl:***@db.example/rl"' in proc.stdout, proc.stdout
    assert "secret" not in proc.stdout + proc.stderr
    assert f'token_file = "{tmp_path / "token"}"' in proc.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[backend]\ndsn = 7\n')
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "check-config", "--config",
                           str(bad)], capture_output=True, text=True, timeout=60,
                          env=_clean_env(), cwd=tmp_path)
    assert proc.returncode == 2 and "[backend] dsn = <not shown>" in proc.stderr
