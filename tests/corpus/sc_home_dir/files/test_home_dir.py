import os

from home_dir import data_dir, notes_file


def test_env_var(monkeypatch):
    monkeypatch.setenv("NOTEKEEPER_HOME", "/srv/notes")
    assert data_dir() == "/srv/notes"


def test_notes_file(monkeypatch):
    monkeypatch.setenv("NOTEKEEPER_HOME", "/tmp/nk")
    assert notes_file() == "/tmp/nk/notes.db"


def test_default(monkeypatch):
    monkeypatch.delenv("NOTEKEEPER_HOME", raising=False)
    monkeypatch.setenv("APP_HOME", "/wrong")
    assert data_dir() == os.path.expanduser("~/.notekeeper")
