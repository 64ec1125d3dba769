"""The dependency floors in pyproject.toml are true: every third-party module the
code imports is declared with a `>=` floor, only through its public modules, and
the code imports and runs with exactly those floors installed (CI's floors job
then runs the whole suite on them, `.ci/run`)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from conftest import PASSING, submit
from repairlab.state.layout import Layout

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ["actors", "cli", "config", "messages", "repair", "state", "supervision",
           "__init__.py", "errors.py", "faults.py", "run.py"]
# Private modules used on purpose, each for a speed-up that falls back to the public
# path when the internals differ (and CI's floors job runs the suite on the floor).
GUARDED_PRIVATE = {
    "_pytest": "repair/candidate.py: a prebuilt Config and a fixture-scan shortcut for "
               "forked candidates; without them each child runs pytest.main as is",
}
FIRST_PARTY = {"repairlab", "conftest"}


def _declared() -> dict[str, str]:
    """Normalized distribution name -> requirement, runtime and test extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name = requirement.split(">=")[0].split("[")[0].strip()
        found[name.lower().replace("_", "-")] = requirement
    return found


def _floors() -> list[str]:
    out = subprocess.run([sys.executable, str(REPO / ".ci" / "floors.py")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def _pinned_requirements() -> list[str]:
    """The floors as requirements, each with the extras pyproject.toml asks for
    (`psycopg[binary]==X`: a constraints file cannot carry extras, a requirement can)."""
    extras = {}
    for requirement in _declared().values():
        head = requirement.split(">=")[0].strip()
        if "[" in head:
            extras[head.split("[")[0].lower()] = head[head.index("["):]
    return [f"{name}{extras.get(name.lower(), '')}=={version}"
            for name, version in (pin.split("==") for pin in _floors())]


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level package -> every module path of it the product code imports."""
    found: dict[str, set[str]] = {}
    files: list[Path] = []
    for entry in PRODUCT:
        path = REPO / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for file in files:
        if "demo_bundles" in file.parts:
            continue  # bundles' own code, run in the sandbox, not ours
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                    continue
                found.setdefault(top, set()).add(module)
    return found


def test_every_declared_dependency_has_a_floor_that_ci_pins_exactly():
    pins = {pin.split("==")[0].lower().replace("_", "-"): pin for pin in _floors()}
    declared = _declared()
    assert set(pins) == set(declared)
    for name, requirement in declared.items():
        distribution = requirement.split(">=")[0].split("[")[0].strip()
        assert pins[name] == f"{distribution}=={requirement.split('>=')[1]}"
    ci = (REPO / ".ci" / "run").read_text()
    assert ".ci/floors.py" in ci and "-c " in ci  # the floors job installs them as constraints


def test_every_third_party_module_the_code_imports_is_declared_and_public():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    for top, modules in _third_party_imports().items():
        owners = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
        assert owners & set(declared), f"{top} is imported but not declared in pyproject.toml"
        private = [m for m in modules if any(part.startswith("_") for part in m.split("."))
                   and top not in GUARDED_PRIVATE]
        assert not private, f"private modules imported: {private}"
    # watchdog's inotify layer (state/queue_events.py says why not the Observer) is
    # undocumented: its floor is the first release that has InotifyFD.
    assert _third_party_imports()["watchdog"] == {"watchdog.observers.inotify_c"}
    assert declared["watchdog"] == "watchdog>=7.1.0"


@pytest.mark.timeout(600)
def test_the_code_imports_and_repairs_with_exactly_the_declared_floors(tmp_path):
    """A fresh virtualenv with the floors pinned (as CI's floors job makes it):
    every product module imports, and a daemon drains a passing handoff."""
    env_dir = tmp_path / "floors"
    # No pip of its own (bootstrapping one is a third of the build): this suite's pip
    # installs into it (`--python`), without byte-compiling what the imports compile.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(_floors()) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile",
         "-c", str(constraints), *_pinned_requirements()],
        capture_output=True, text=True, timeout=500, stdin=subprocess.DEVNULL)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    modules = []
    for entry in PRODUCT:
        path = REPO / entry
        for file in (sorted(path.rglob("*.py")) if path.is_dir() else [path]):
            if "demo_bundles" not in file.parts:
                rel = file.relative_to(REPO).with_suffix("")
                modules.append(".".join(["repairlab", *(p for p in rel.parts
                                                        if p != "__init__")]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    # repairlab itself is not installed there: run.py makes the checkout the package.
    imported = subprocess.run(
        [str(python), "-c", "import importlib, runpy, sys\nrunpy.run_path(sys.argv[1])\n"
         "for m in sys.argv[2:]: importlib.import_module(m)", str(REPO / "run.py"), *modules],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr[-3000:]
    layout = Layout.at(tmp_path / "state")
    submit(layout, PASSING, "ok.json")
    config = tmp_path / "r.toml"
    config.write_text(f'[paths]\nroot = "{layout.root}"\n[repair]\nstrategies = ["noop"]\n')
    drained = subprocess.run(
        [str(python), str(REPO / "run.py"), "drain", "--timeout", "120", "--config", str(config)],
        capture_output=True, text=True, timeout=200, env=env, cwd=tmp_path,
        stdin=subprocess.DEVNULL)
    assert drained.returncode == 0, drained.stderr[-3000:]
    assert [p.name for p in layout.done.iterdir()] == ["ok.json"]
    assert len(list(layout.challengers.glob("challenger_*.json"))) == 1
