"""The actors and the supervision reach the state through the backend alone.

Every move of a handoff is a method of `state.backend.Backend`; the modules of
the actors that make those moves (and the supervisor's poison handling and the
daemon) import nothing of the state but the seam itself, the disk-condition
helpers (which classify an error, touching nothing), the layout (the daemon
makes the directories at start), and a few values and exception types. Nor do
they call the `os` functions that move, link or list files.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent
ON_THE_SEAM = ["actors/watcher.py", "actors/repairer.py", "actors/telemetry.py",
               "actors/failure_window.py", "actors/quarantine.py", "actors/base.py",
               "supervision/poison.py", "supervision/daemon.py"]
ALLOWED = {
    "repairlab.state.backend": None,  # any name
    "repairlab.state.disk": None,
    "repairlab.state.layout": {"Layout"},
    "repairlab.state.failures": {"new_record"},  # a record's value, built for Backend.fail
    "repairlab.state.fsops": {"FileChanged", "NotARegularFile"},  # what Backend.open raises
}
FILE_MOVES = {"rename", "replace", "link", "unlink", "scandir", "listdir", "utime", "rmdir",
              "mkdir", "open", "remove"}


def _state_imports(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "state":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "*") for alias in node.names
                      if alias.name.split(".")[0] == "state"]
    return found


@pytest.mark.parametrize("module", ON_THE_SEAM)
def test_an_actor_on_the_seam_imports_nothing_of_the_state_but_the_backend(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(), module)
    wrong = [(mod, name) for mod, name in _state_imports(tree)
             if mod not in ALLOWED or (ALLOWED[mod] is not None and name not in ALLOWED[mod])]
    assert wrong == [], f"{module} reaches past the backend: {wrong}"


@pytest.mark.parametrize("module", ON_THE_SEAM)
def test_an_actor_on_the_seam_moves_no_file_itself(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(), module)
    calls = [f"os.{node.func.attr}" for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"
             and node.func.attr in FILE_MOVES]
    assert calls == [], f"{module} touches files itself: {calls}"
