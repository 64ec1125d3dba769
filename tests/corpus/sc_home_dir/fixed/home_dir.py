"""Where the app keeps its data."""

import os

HOME_VAR = "NOTEKEEPER_HOME"
DEFAULT_HOME = "~/.notekeeper"


def data_dir():
    """The data directory: $NOTEKEEPER_HOME if set and non-empty, else ~/.notekeeper (expanded)."""
    configured = os.environ.get(HOME_VAR, "")
    return os.path.expanduser(configured or DEFAULT_HOME)


def notes_file():
    """Path of the notes database inside the data directory."""
    return os.path.join(data_dir(), "notes.db")
