"""The pytest side of the sandbox: a warm pytest, and one candidate's session.

`PytestHost` lives in the fork server (repair/sandbox.py loads this file by path;
it imports only the standard library at module level, and pytest and coverage when
the host is made). Once, in the server, it runs a throwaway session so that pytest's
lazy imports and caches are warm, builds pytest's initial Config, and notes which
builtin plugins hold no fixture (so sessions skip scanning them). Then, in each
forked child, `run` writes the candidate's files, scrubs the environment and the
import path, and runs pytest with `ReportPlugin` (and coverage, per test).

Nothing here survives a candidate: each runs in its own forked child.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_TEST_NAMES = ("test_",)
# Plugins that change nothing unless asked for by options a candidate cannot pass
# (cache, pastebin, stepwise, setup-only/plan); dropping them makes each session cheaper.
PYTEST_OPTIONS = ("-q", "-p", "no:cacheprovider", "-p", "no:pastebin", "-p", "no:stepwise",
                  "-p", "no:setuponly", "-p", "no:setupplan")
_PROG = "pytest.main()"
_CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_WARMUP_TEST = """\
import pytest


@pytest.mark.parametrize("n", [1, 2])
def test_passes(n, tmp_path, monkeypatch, capsys):
    print(n)
    assert n > 0


def test_fails():
    assert [1, 2] == [1, 3]
"""
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}


class PytestHost:
    """pytest, coverage and the report plugin, imported once and kept warm.

    Made in the server. `warm_up` and `prebuild_config` only ever cost speed when
    they fail (the error goes to stderr); `run` runs in a forked child and raises
    whatever goes wrong there, for the child to report as a crash.
    """

    def __init__(self, plugin_file: Path, repo_root: str) -> None:
        spec = importlib.util.spec_from_file_location("_repairlab_report_plugin", plugin_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.plugin_cls = module.ReportPlugin
        import coverage
        import pytest

        self.pytest = pytest
        self.coverage = coverage
        self.repo_root = repo_root
        self.prebuilt: Any = None
        self.child_path: list[str] = []
        self.child_meta: list[Any] = []
        self.child_hooks: list[Any] = []

    def needed_paths(self) -> list[str]:
        """What a candidate's uid must be able to read for pytest to run at all."""
        return [p for p in (sys.base_prefix, sys.prefix, self.pytest.__file__,
                            self.coverage.__file__) if p]

    def warm_up(self, scratch: Path) -> None:
        """Run one throwaway pytest session here, so that every child starts with
        pytest's lazily imported plugins and caches ready (it halves pytest.main's
        cost). The session's own modules are removed afterwards; a failure here only
        costs speed."""
        warm = scratch / "warmup"
        saved_path, saved_meta = list(sys.path), list(sys.meta_path)
        before = set(sys.modules)
        try:
            warm.mkdir(mode=0o700, exist_ok=True)
            name = "test_repairlab_warmup.py"
            (warm / name).write_text(_WARMUP_TEST, encoding="utf-8")
            cwd = os.getcwd()
            os.chdir(warm)
            try:
                self.pytest.main([*pytest_args(warm, {}), name],
                                 plugins=[self.plugin_cls(coverage=None)])
            finally:
                os.chdir(cwd)
            # coverage imports most of itself on its first start: pay that here too.
            cov = self.coverage.Coverage(data_file=None, config_file=False,
                                         include=[str(warm / "*")], messages=False)
            cov.start()
            cov.stop()
        except Exception as exc:  # any failure here only means slower candidates
            sys.stderr.write(f"warm-up session failed: {exc!r}\n")
        finally:
            sys.path[:] = saved_path
            sys.meta_path[:] = saved_meta
            for entry in set(sys.path_importer_cache) - set(saved_path):
                del sys.path_importer_cache[entry]
            for mod in set(sys.modules) - before:
                if "repairlab_warmup" in mod:
                    del sys.modules[mod]
            shutil.rmtree(warm, ignore_errors=True)

    def prebuild_config(self) -> None:
        """Build pytest's initial Config (plugin manager, builtin plugins registered,
        options declared): half of a session's start-up, the same for every candidate,
        so it is built once here and each child uses its own forked copy (see
        `_use_prebuilt`). If this pytest's internals are not as expected, each child
        builds its own, as pytest.main always does."""
        try:
            from _pytest import config as config_module

            self.prebuilt = config_module.get_config(list(PYTEST_OPTIONS), None, prog=_PROG)
        except Exception as exc:  # only speed is lost
            sys.stderr.write(f"cannot prebuild pytest's config: {exc!r}\n")
            self.prebuilt = None
            return
        try:
            _skip_fixtureless_plugins(self.prebuilt.pluginmanager.get_plugins())
        except Exception as exc:  # only speed is lost
            sys.stderr.write(f"cannot memoize pytest's plugin fixtures: {exc!r}\n")

    def drop_shortcuts(self) -> None:
        """Run every later session exactly as pytest.main does on its own: no prebuilt
        Config, no skipped plugin scans. For when the self-test finds them wrong."""
        self.prebuilt = None
        _undo_shortcuts()

    def freeze_import_state(self) -> None:
        """Decide, once, the import machinery every candidate gets (`clean_import_path`)."""
        self.child_path, self.child_meta, self.child_hooks = clean_import_path(self.repo_root)

    @staticmethod
    def write_files(work: Path, files: Mapping[str, str]) -> None:
        """Write `files` under `work`; raises ValueError on an unsafe path."""
        for rel, text in files.items():
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"unsafe path in candidate: {rel!r}")
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def prepare(self, work: Path, tmp: Path, files: Mapping[str, str]) -> None:
        """Write `files` under `work` and make this process a bundle's: its cwd, a
        scrubbed environment (HOME and TMPDIR in `tmp`), and the import path a bundle
        gets. Runs in a child, as the candidate's uid; raises on an unsafe path."""
        self.write_files(work, files)
        os.chdir(work)
        os.environ.clear()
        os.environ.update(CHILD_ENV)
        os.environ.update({"HOME": str(tmp), "TMPDIR": str(tmp)})
        import tempfile

        tempfile.tempdir = None
        # `python -m pytest` puts its cwd first on sys.path; so do we.
        sys.path[:] = [str(work), *self.child_path]
        sys.meta_path[:] = self.child_meta
        sys.path_hooks[:] = self.child_hooks
        # Keep the warm finders of the directories we keep (their listings are what
        # makes lazy imports cheap); drop any other.
        for entry in set(sys.path_importer_cache) - set(self.child_path):
            del sys.path_importer_cache[entry]
        sys.dont_write_bytecode = True

    def open_session(self, session: Any, serve: Any) -> dict[str, Any]:  # pragma: no cover
        """In a bundle's session process: write the handoff's files, collect its tests
        once, and hand the collected `session` (a repair/fastpath.py Session) to
        `serve`. Returns only in a candidate child, once pytest's own loop ran its
        tests, with the record `run` returns (coverage and timing added by the
        caller); raises if pytest ended before collection was done."""
        self.prepare(session.work, session.tmp, session.files)
        plugin = self.plugin_cls(coverage=None)
        self.session_plugin = plugin
        if self.prebuilt is not None:
            _use_prebuilt(self.prebuilt)
        exit_code = int(self.pytest.main(
            [*pytest_args(session.work, session.files), "--capture=sys", *session.tests],
            plugins=[plugin, session.plugin(serve)]))
        if not session.in_child:
            raise RuntimeError(f"pytest ended before its tests were collected (exit {exit_code})")
        if os.getpid() != session.child_pid:
            os._exit(0)  # a test forked and its child came back here: only the child reports
        data: dict[str, Any] = plugin.data()
        data["exit"] = exit_code
        return data

    def run(self, work: Path, tmp: Path, files: Mapping[str, str], tests: Sequence[str],
            *, coverage: bool) -> dict[str, Any]:  # pragma: no cover - in the child
        """Write `files` under `work`, run pytest on `tests` there, and return the
        plugin's record (with ``exit``, ``coverage`` when asked, and ``timing``).
        Runs in the candidate's child, as its uid; raises on any failure to set up."""
        began = time.perf_counter()
        self.prepare(work, tmp, files)
        sys.dont_write_bytecode = True
        cov = None
        if coverage:
            # The plugin starts it at the first test: collection runs untraced, and
            # lines run at import time belong to no test anyway.
            cov = self.coverage.Coverage(data_file=None, config_file=False,
                                         include=[str(work / "*")], messages=False)
            cov.set_option("run:disable_warnings",
                           ["no-data-collected", "module-not-measured",
                            "module-not-imported", "no-ctracer"])
        plugin = self.plugin_cls(coverage=cov)
        if self.prebuilt is not None:
            _use_prebuilt(self.prebuilt)
        me = os.getpid()
        started = time.perf_counter()
        exit_code = int(self.pytest.main([*pytest_args(work, files), *tests], plugins=[plugin]))
        ended = time.perf_counter()
        if os.getpid() != me:
            # A test forked and its child came back here: only the real child reports.
            os._exit(0)
        data: dict[str, Any] = plugin.data()
        data["exit"] = exit_code
        if cov is not None:
            plugin.stop_coverage()
            data["coverage"] = _per_test_lines(cov, work, files, tests, plugin.outcomes)
        # Where a candidate's time went, for the benchmark and for tuning.
        data["timing"] = {"setup": started - began, "pytest": ended - started,
                          "after": time.perf_counter() - ended}
        return data


def clean_import_path(repo_root: str) -> tuple[list[str], list[Any], list[Any]]:
    """sys.path, meta_path and path_hooks as a bundle gets them: only entries of the
    interpreter (standard library, site-packages, under sys.prefix and its base),
    never repairlab's own tree or its editable-install finder, whatever .pth files
    added to the server's path."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              sys.base_exec_prefix) if p}
    repo = os.path.realpath(repo_root)

    def interpreters(entry: str) -> bool:
        real = os.path.realpath(entry)
        return real != repo and any(real == p or real.startswith(p + os.sep) for p in prefixes)

    path = [p for p in sys.path if p and os.path.exists(p) and interpreters(p)]
    meta = [f for f in sys.meta_path
            if not getattr(f, "__module__", "").startswith("__editable__")
            and not type(f).__module__.startswith("__editable__")]
    hooks = [h for h in sys.path_hooks
             if not getattr(h, "__module__", "").startswith("__editable__")]
    return path, meta, hooks


def pytest_args(work: Path, files: Mapping[str, str]) -> list[str]:
    """pytest's options for a candidate, before its test paths (as the reference
    runner's, with plugin autoload off: the daemon's own pytest plugins are no part
    of a bundle's environment)."""
    # conftest.py files above the scratch dir are none of the bundle's (and /tmp is
    # world-writable without bwrap); the cut also keeps pytest from walking up
    # there, which `-c /dev/null` alone would make it do, listing every parent.
    args = [*PYTEST_OPTIONS, "-o", "addopts=", "--rootdir", str(work), "--confcutdir", str(work)]
    if not any(name in files for name in _CONFIG_FILES):
        # No config of its own: never pick one up from above the scratch dir.
        args += ["-c", os.devnull]
    return args


def is_test_path(rel: str, tests: Sequence[str]) -> bool:
    """A test file: one named by `tests`, ``test_*.py``, ``*_test.py`` or conftest."""
    listed = {t.split("::", 1)[0].rstrip("/") for t in tests}
    base = rel.rsplit("/", 1)[-1]
    return (
        rel in listed
        or base == "conftest.py"
        or base.startswith(_TEST_NAMES)
        or base.endswith("_test.py")
    )


def _use_prebuilt(prebuilt: Any) -> None:  # pragma: no cover - runs in the child
    """Make the next `get_config` call (the one pytest.main is about to make) return
    `prebuilt` with this invocation's args, plugins and cwd, exactly as a fresh one
    would hold them; any later call (a bundle using pytester, say) builds afresh."""
    from _pytest import config as config_module

    original = config_module.get_config

    def get_config(*args: Any, **kwargs: Any) -> Any:
        config_module.get_config = original
        given = list(args) + [kwargs.get("args"), kwargs.get("plugins")][len(args):]
        prebuilt.invocation_params = config_module.Config.InvocationParams(
            args=given[0] or (), plugins=given[1] if len(given) > 1 else None, dir=Path.cwd())
        return prebuilt

    config_module.get_config = get_config


def _skip_fixtureless_plugins(plugins: Any) -> None:
    """Make FixtureManager skip scanning the builtin plugins that hold no fixture.

    Every session scans every registered plugin's attributes for fixtures: a third
    of a small session's time, spent finding nothing in the same modules each time.
    Scanning a holder that has none is a no-op in pytest (`parsefactories` only
    registers what it finds, and warns about fixtures hidden behind wrappers), so it
    is skipped for the plugins registered now that have none, checked here the way
    pytest checks; any holder in doubt is scanned as usual. The memo holds the
    plugins themselves, so their ids cannot be reused by other objects.
    """
    import inspect
    import types

    from _pytest import fixtures

    def has_fixture(holder: Any) -> bool:
        owner = holder if isinstance(holder, (type, types.ModuleType)) else type(holder)
        for name in dir(holder):
            try:
                raw = (owner.__dict__.get(name) if isinstance(owner, types.ModuleType)
                       else inspect.getattr_static(owner, name, None))
                found = getattr(owner, name, None)
                if type(found) is fixtures.FixtureFunctionDefinition:
                    return True
                if raw is not None and callable(raw) and type(inspect.unwrap(
                        raw, stop=lambda o: type(o) is fixtures.FixtureFunctionDefinition),
                ) is fixtures.FixtureFunctionDefinition:
                    return True
            except Exception:
                return True
        return False

    fixtureless = [p for p in plugins if isinstance(p, types.ModuleType) and not has_fixture(p)]
    skip = {id(p) for p in fixtureless}
    original = fixtures.FixtureManager.parsefactories
    if "holder" not in inspect.signature(original).parameters:
        return  # not the pytest this was written for: scan everything, as pytest does

    def parsefactories(self: Any, *args: Any, **kwargs: Any) -> None:
        if id(kwargs.get("holder")) in skip:
            return
        original(self, *args, **kwargs)

    parsefactories.memo = fixtureless  # type: ignore[attr-defined]
    parsefactories.original = original  # type: ignore[attr-defined]
    fixtures.FixtureManager.parsefactories = parsefactories  # type: ignore[method-assign]


def _undo_shortcuts() -> None:
    """Put back what `_skip_fixtureless_plugins` replaced (if it did)."""
    from _pytest import fixtures

    original = getattr(fixtures.FixtureManager.parsefactories, "original", None)
    if original is not None:
        fixtures.FixtureManager.parsefactories = original  # type: ignore[method-assign]


def _per_test_lines(cov: Any, work: Path, files: Mapping[str, str], tests: Sequence[str],
                    outcomes: Mapping[str, bool]) -> dict[str, dict[str, list[int]]]:
    """{node id: {relative path: sorted lines}} over the bundle's non-test .py files;
    every node id with an outcome is present, with {} if it ran none of them."""
    data = cov.get_data()
    root = os.path.realpath(work)
    per_test: dict[str, dict[str, set[int]]] = {nodeid: {} for nodeid in outcomes}
    for measured in data.measured_files():
        rel = os.path.relpath(os.path.realpath(measured), root).replace(os.sep, "/")
        if rel.startswith("../") or rel not in files or not rel.endswith(".py"):
            continue
        if is_test_path(rel, tests):
            continue
        for line, contexts in data.contexts_by_lineno(measured).items():
            for ctx in contexts:
                if ctx in per_test:
                    per_test[ctx].setdefault(rel, set()).add(line)
    return {nid: {p: sorted(ls) for p, ls in f.items()} for nid, f in per_test.items()}


