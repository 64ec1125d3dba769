"""Installed, repairlab adds one import name, `repairlab`, and one command, `repairlab`:
a user's own `config.py` or `state.py` stays theirs (issue 16). Shown with a real wheel
built from the checkout and installed into a fresh virtualenv, offline, and with an
editable install the same way; `run.py` works from a checkout that is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OLD_NAMES = ("actors", "cli", "config", "errors", "faults", "messages", "repair", "run",
             "state", "supervision")
# What the source copy leaves out: version control, environments, build output,
# caches, and the bundles' own corpus (data, not packages).
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info",
                                     "__pycache__", ".*cache", ".hypothesis", ".mypy-path",
                                     "var", "corpus", "data")


def _run(argv: list[str | Path], *, cwd: Path, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("REPAIRLAB_", "PYTHON", "PIP_REQUIRE", "VIRTUAL_ENV"))}
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**clean, **(env or {})},
                          stdin=subprocess.DEVNULL)


def _fresh_venv(where: Path) -> Path:
    """A virtualenv without pip and without repairlab, whose interpreter also sees this
    interpreter's site-packages (read-only, by a .pth line: repairlab's dependencies,
    and setuptools to build with) after its own. The editable-install hook there is
    not run (a .pth line adds a path; only .pth files in site dirs run)."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    own = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=where)
    assert own.returncode == 0, own.stderr
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(own.stdout.strip()) / "_outer_site.pth").write_text("\n".join(sorted(outer)) + "\n")
    return python


def _pip(python: Path, *args: str | Path, cwd: Path) -> None:
    """This interpreter's pip, installing into `python`'s environment, offline."""
    done = _run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                 "--no-index", "--no-deps", "--no-build-isolation", *args], cwd=cwd,
                timeout=120, env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def _source_copy(where: Path) -> Path:
    """The checkout as a clean clone has it (setuptools writes build/ and *.egg-info
    beside the sources), plus a var/ holding a stray module: not a package either."""
    shutil.copytree(REPO, where, ignore=_NOT_COPIED, symlinks=True)
    (where / "var" / "demo-1").mkdir(parents=True)
    (where / "var" / "demo-1" / "stray.py").write_text("X = 1\n")
    return where


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = _source_copy(base / "src")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                  "--no-build-isolation", "-w", base / "dist", source], cwd=base, timeout=120,
                 env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    (found,) = (base / "dist").glob("repairlab-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel installed: its interpreter."""
    python = _fresh_venv(tmp_path_factory.mktemp("env") / "venv")
    _pip(python, wheel, cwd=wheel.parent)
    yield python


def _product_files() -> set[str]:
    """Every file the checkout's product packages hold, as the wheel names it."""
    found = {f"repairlab/{p.name}" for p in REPO.glob("*.py")}
    for init in REPO.glob("*/**/__init__.py"):
        top = init.relative_to(REPO).parts[0]
        if top in ("tests", "bench", "build", "dist", "var") or top.startswith(".") \
                or "demo_bundles" in init.parts:
            continue
        for file in init.parent.iterdir():
            if file.suffix == ".py":
                found.add("repairlab/" + file.relative_to(REPO).as_posix())
    return found


def _product_modules() -> list[str]:
    names = []
    for file in _product_files():
        parts = file.removesuffix(".py").split("/")
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(n for n in names if n != "repairlab")


@pytest.mark.timeout(180)
def test_the_wheel_installs_one_top_level_name_and_every_product_module(
        wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        top_level = archive.read(f"{dist_info}/top_level.txt").decode().split()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert top_level == ["repairlab"]
    assert {n.split("/")[0] for n in names} == {"repairlab", dist_info}
    shipped = {n for n in names if n.endswith(".py") and "demo_bundles" not in n}
    assert shipped == _product_files()  # every package listed in pyproject.toml, no more
    assert not [n for n in names if n.startswith(("repairlab/tests/", "repairlab/bench/",
                                                  "repairlab/var/", "repairlab/systemd/"))]
    assert "repairlab/config/default.toml" in names
    for bundle in ("slugify", "roman", "median"):
        assert f"repairlab/cli/demo_bundles/{bundle}/meta.json" in names
    assert "repairlab = repairlab.cli.main:main" in entry_points


@pytest.mark.timeout(180)
def test_installed_from_the_wheel_the_record_names_only_repairlab_and_its_command(
        installed: Path) -> None:
    site = Path(_run([installed, "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], cwd=installed.parent).stdout.strip())
    (record,) = site.glob("repairlab-*.dist-info/RECORD")
    entries = [line.split(",")[0] for line in record.read_text().splitlines() if line]
    in_site = {e.split("/")[0] for e in entries if not e.startswith("..")}
    assert {n for n in in_site if not n.endswith(".dist-info")} == {"repairlab"}
    scripts = sorted(Path(e).name for e in entries if e.startswith(".."))
    assert scripts == ["repairlab"]


@pytest.mark.timeout(180)
def test_the_repairlab_command_checks_a_config_outside_the_checkout(
        installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "repairlab.toml"
    config.write_text(f'[paths]\nroot = "{tmp_path / "state"}"\n[sandbox]\nrequire = false\n')
    proc = _run([installed.parent / "repairlab", "check-config", "--config", config],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"# effective configuration ({config})")
    assert str(tmp_path / "state") in proc.stdout
    usage = _run([installed.parent / "repairlab", "--help"], cwd=tmp_path)
    assert usage.returncode == 0 and "check-config" in usage.stdout
    assert usage.stdout.startswith("usage: repairlab ")


USER_SCRIPT = """\
import importlib, importlib.util, json, pkgutil, sys
import repairlab
from repairlab.cli.main import main  # loads repairlab's config and state packages
config = importlib.import_module("config")  # the user's own, beside this script
state = importlib.import_module("state")
modules = [m.name for m in pkgutil.walk_packages(repairlab.__path__, "repairlab.")
           if ".demo_bundles" not in m.name]
for name in modules:
    importlib.import_module(name)
print(json.dumps({
    "config": config.WHOSE, "state": state.WHOSE,
    "repairlab": repairlab.__file__, "modules": modules,
    "others": [n for n in sys.argv[1:] if importlib.util.find_spec(n) is not None],
}))
"""


@pytest.mark.timeout(180)
def test_a_users_own_config_and_state_modules_stay_the_users(
        installed: Path, tmp_path: Path) -> None:
    mine = tmp_path / "myproject"
    mine.mkdir()
    (mine / "config.py").write_text("WHOSE = 'the user'\n")
    (mine / "state.py").write_text("WHOSE = 'the user'\n")
    (mine / "job.py").write_text(USER_SCRIPT)
    others = [n for n in OLD_NAMES if n not in ("config", "state")]
    proc = _run([installed, "job.py", *others], cwd=mine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout)
    assert found["config"] == found["state"] == "the user"
    assert found["others"] == []  # no `cli`, `errors`, `run`, ... at the top either
    assert Path(found["repairlab"]).is_relative_to(installed.parent.parent)  # the wheel's
    # every module imports, installed: no import without the prefix is left
    assert sorted(found["modules"]) == _product_modules()


@pytest.mark.timeout(180)
def test_an_editable_install_maps_only_repairlab_onto_the_checkout(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "src")
    python = _fresh_venv(tmp_path / "venv")
    _pip(python, "-e", source, cwd=tmp_path)
    mine = tmp_path / "myproject"
    mine.mkdir()
    (mine / "config.py").write_text("WHOSE = 'the user'\n")
    probe = ("import importlib, importlib.util, sys\n"
             "import repairlab.state.layout as layout\n"
             "print(importlib.import_module('config').WHOSE, layout.__file__)\n"
             "print([n for n in sys.argv[1:] if importlib.util.find_spec(n)])")
    proc = _run([python, "-c", probe, *[n for n in OLD_NAMES if n != "config"]], cwd=mine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [f"the user {source / 'state' / 'layout.py'}", "[]"]


@pytest.mark.timeout(180)
def test_run_py_runs_the_checkout_where_repairlab_is_not_installed(tmp_path: Path) -> None:
    python = _fresh_venv(tmp_path / "venv")
    config = tmp_path / "repairlab.toml"
    config.write_text(f'[paths]\nroot = "{tmp_path / "state"}"\n[sandbox]\nrequire = false\n')
    assert _run([python, "-c", "import repairlab"], cwd=tmp_path).returncode == 1
    proc = _run([python, REPO / "run.py", "check-config", "--config", config], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"# effective configuration ({config})")
    # run.py takes its own directory off sys.path: the checkout's folders are no
    # top-level modules there, as installed.
    probe = _run([python, "-c", "import runpy, sys, importlib.util\n"
                  f"runpy.run_path({str(REPO / 'run.py')!r})\n"
                  "print(sys.modules['repairlab'].__file__, importlib.util.find_spec('state'))"],
                 cwd=REPO)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.split() == [str(REPO / "__init__.py"), "None"]
