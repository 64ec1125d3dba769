import os

from home_dir import data_dir


def test_empty_value_means_default(monkeypatch):
    monkeypatch.setenv("NOTEKEEPER_HOME", "")
    assert data_dir() == os.path.expanduser("~/.notekeeper")


def test_tilde_in_value_is_expanded(monkeypatch):
    monkeypatch.setenv("NOTEKEEPER_HOME", "~/x")
    assert data_dir() == os.path.expanduser("~/x")


def test_other_vars_ignored(monkeypatch):
    monkeypatch.setenv("NOTEKEEPER_HOME", "/a")
    monkeypatch.setenv("APP_HOME", "/b")
    monkeypatch.setenv("HOME_VAR", "/c")
    assert data_dir() == "/a"
