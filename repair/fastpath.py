"""The fast path inside the sandbox: a bundle's collected pytest session, forked per candidate.

The fork server (repair/sandbox.py) forks one confined *session process* per bundle
(rlimits, no_new_privs, not dumpable, and either an ephemeral uid of its own, for a
root daemon, or, for a non-root one, pid 1 of a user and pid namespace of its own,
which its candidates cannot see out of and whose death kills them all). That process writes
the bundle's files as the handoff holds them, runs ``pytest.main`` over them with
`SessionPlugin`, and once collection is over serves candidates from inside
``pytest_runtestloop`` instead of running tests itself: for each one it forks a
child, and only the child goes on into pytest's own test loop. So the session
process runs the bundle's import-time code (collection imports the test modules)
but never a test and never a candidate's code; every candidate starts from the same
clean, collected state, and whatever it does (module globals, ``sys.modules``,
monkeypatching, files) dies with its child.

In the child, `Session.enter` makes the candidate's code the code that runs:

* the candidate's files are written over a fresh scratch directory (the server wipes
  it between candidates), and import caches are invalidated, so a module first
  imported during a test comes from the candidate's files;
* every bundle module loaded at collection whose file changed is *re-executed in
  place* (its ``__dict__`` cleared and the new source run in it), and so is every
  bundle module that imports one of those, transitively, dependencies first; test
  functions, fixtures and classes held by the collected items look their globals up
  in those same dicts, so they see the candidate's names, never the old ones;
* values that collection computed from bundle code and holds apart from any module
  dict (parametrize arguments) are checked: if re-executing a test module changes
  any of them, the candidate is *refused* (`Stale`) and the caller judges it the
  ordinary way.

Per candidate, the session process keeps one child forked ahead (a *spare*, see
repair/sandbox.py), which has written the handoff's files and taken the bundle's
environment before the request comes; it then writes only what the candidate
changes. When screening (`enter` with ``stop``), the child runs the tests itself
(`_run_items`: no session finish) and plain test functions without pytest's
per-phase hooks (`direct_items`, `_run_direct`) unless a hook around a test comes
from outside pytest; anything else goes pytest's way, its failures reported without
a formatted traceback (`_lean_report`).

A candidate that changes a test file, a conftest, a pytest config file, or removes a
module that was loaded, is refused before any fork (`Session.refuses`). Refused
candidates cost one round trip; the caller runs them through a fresh session.

Screening options for rejecting candidates fast (never for a final verdict): the
previously failing tests first, stop at the first failure (``maxfail=1``, and no
traceback formatted for it), and a
per-test limit on CPU time (and, ten times looser, on wall time): a test over it
ends the child at once with `EXIT_TEST_LIMIT`.

This file imports only the standard library at module level (the server loads it
by path under a private name; see repair/sandbox.py).
"""

from __future__ import annotations

import ast
import gc
import inspect
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

EXIT_TEST_LIMIT = 71  # a test ran over its per-test limit: a timeout, found fast
_KEEP_DUNDERS = ("__name__", "__file__", "__spec__", "__loader__", "__package__", "__path__",
                 "__cached__", "__builtins__", "__doc__")
_CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_WALL_FACTOR = 10.0  # the wall-clock limit is this many times the CPU limit


class Stale(Exception):
    """Collection holds a value computed from code the candidate changed."""


def module_name(rel: str) -> str | None:
    """The dotted module name of a bundle path relative to its root, or None."""
    if not rel.endswith(".py"):
        return None
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def imported_names(text: str, name: str, is_package: bool) -> set[str]:
    """Every module name `text` imports (anywhere in it), relative ones resolved,
    with each parent package too; empty when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    out: set[str] = set()
    for full in found:
        bits = full.split(".")
        out.update(".".join(bits[:i]) for i in range(1, len(bits) + 1))
    return out


def _marks(obj: Any) -> list[Any]:
    marks = getattr(obj, "pytestmark", [])
    return list(marks) if isinstance(marks, (list, tuple)) else [marks]


class Session:
    """One bundle's collected session, held by the session process.

    `files` and `tests` are the handoff's own; `work` and `tmp` the scratch
    directories (recreated empty by the server before each candidate).
    """

    def __init__(self, work: Path, tmp: Path, files: Mapping[str, str],
                 tests: Sequence[str], is_test: Callable[[str, Sequence[str]], bool]) -> None:
        self.work = work
        self.tmp = tmp
        self.files = dict(files)
        self.tests = list(tests)
        self.is_test = is_test
        self.session: Any = None
        self.collection_errors = 0
        self.in_child = False
        self.child_pid = 0
        self.loaded: dict[str, tuple[str, Any]] = {}
        self.deps: dict[str, set[str]] = {}
        self.code: dict[str, Any] = {}
        self.test_limit = 0.0
        # Screening the lean way (`enter` with `stop`): the child runs the tests
        # itself, reports a failure without formatting its traceback, and hands its
        # record to `finish` (which never returns) instead of ending the session.
        self.lean = False
        self.finish: Callable[[int], None] | None = None
        # Node ids of the items a lean child may run without pytest's per-phase
        # hooks (`direct_items`); decided once, in `freeze`.
        self.direct: set[str] = set()
        self.record: Any = None  # the ReportPlugin a lean child records into

    # -- in the session process ------------------------------------------------------

    def plugin(self, serve: Callable[[Session], None]) -> Any:
        """The pytest plugin whose ``pytest_runtestloop`` calls `serve` once
        collection is done. `serve` returns only in a forked candidate child (then
        pytest's own loop runs the tests); the session process never returns."""
        import pytest

        outer = self

        class SessionPlugin:
            @pytest.hookimpl(tryfirst=True)
            def pytest_runtestloop(self, session: Any) -> Any:
                outer.session = session
                outer.collection_errors = int(session.testsfailed)
                serve(outer)
                # Only a candidate child gets here.
                if outer.lean and outer.finish is not None:
                    outer.finish(_run_items(session, outer.direct, outer.record,
                                            outer.test_limit))
                return None  # pytest's own loop runs

            def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
                # A plain hook: unittest's (tryfirst) has made call.excinfo pytest's
                # own by now, and pytest's default comes after this one.
                if outer.lean:
                    return _lean_report(item, call)
                return None

            def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
                if outer.test_limit > 0:
                    _arm(item.nodeid, outer.test_limit)

            def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
                if outer.test_limit > 0:
                    _disarm()

        return SessionPlugin()

    def refuses(self, files: Mapping[str, str]) -> str | None:
        """Why this candidate cannot run in this session (None: it can)."""
        changed = {p for p in set(files) | set(self.files) if files.get(p) != self.files.get(p)}
        for path in sorted(changed):
            base = path.rsplit("/", 1)[-1]
            if self.is_test(path, self.tests) or base in _CONFIG_FILES:
                return f"it changes {path}, which collection read"
            if path not in files and self._loaded(path) is not None:
                return f"it removes {path}, which collection imported"
        if changed and self.collection_errors:
            return "collection failed in this session; a candidate may fix it"
        return None

    def freeze(self) -> None:
        """Note the bundle's loaded modules, what each imports and the test modules'
        rewritten code (children only look these up), then make what the session
        holds now cheap to share with every child."""
        self.loaded = self._bundle_modules()
        self.deps = {name: imported_names(self.files.get(rel, ""), name,
                                          rel.endswith("__init__.py")) & set(self.loaded) - {name}
                     for name, (rel, _) in self.loaded.items()}
        self.code = {}
        for rel, module in self.loaded.values():
            if self.is_test(rel, self.tests) and rel in self.files:
                try:
                    self.code[rel] = self._compile(module, rel, self.files[rel], True)
                except (SyntaxError, ValueError, RecursionError):
                    pass  # it was imported, so this cannot happen; the child compiles it then
        self.direct = direct_items(self.session, self.work)
        # A failure's report looks modules up by file (inspect.getmodule), which maps
        # every loaded module's path once per process: map them here, once for all.
        inspect.getmodule(sys._getframe().f_code)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.collect()
        gc.freeze()

    # -- in the candidate child ------------------------------------------------------

    def enter(self, files: Mapping[str, str], *, first: Sequence[str], stop: bool,
              test_limit: float) -> None:
        """Make the candidate's code current and set the screening options; raises
        Stale when collection holds values the candidate's code would change."""
        self.in_child = True
        self.child_pid = os.getpid()
        changed = {p for p in files if files.get(p) != self.files.get(p)}
        self._reexecute(changed)
        session = self.session
        if first:
            wanted = set(first)
            session.items.sort(key=lambda item: item.nodeid not in wanted)
        if stop:
            # Screening only rejects: the first failure ends the run, and no
            # traceback is formatted for it (the verdict of a candidate that passes
            # comes from a complete run, with its full report).
            session.config.option.maxfail = 1
            session.config.option.tbstyle = "no"
            session.config.option.reportchars = ""
            self.lean = not self.collection_errors
        self.test_limit = test_limit

    def _loaded(self, rel: str) -> Any:
        name = module_name(rel)
        module = sys.modules.get(name) if name else None
        origin = getattr(module, "__file__", None)
        if origin is None or os.path.realpath(origin) != os.path.realpath(self.work / rel):
            return None
        return module

    def _bundle_modules(self) -> dict[str, tuple[str, Any]]:
        """Bundle modules loaded now, in load order: name -> (relative path, module)."""
        root = os.path.realpath(self.work)
        found: dict[str, tuple[str, Any]] = {}
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if not isinstance(origin, str):
                continue
            real = os.path.realpath(origin)
            if real.startswith(root + os.sep):
                found[name] = (os.path.relpath(real, root).replace(os.sep, "/"), module)
        return found

    def _reexecute(self, changed: set[str]) -> None:
        loaded, deps = self.loaded, self.deps
        dirty = {name for name, (rel, _) in loaded.items() if rel in changed}
        if not dirty:
            return
        # Dependents of a changed module, transitively.
        grew = True
        while grew:
            grew = False
            for name, uses in deps.items():
                if name not in dirty and uses & dirty:
                    dirty.add(name)
                    grew = True
        order: list[str] = []
        placed: set[str] = set()

        def place(name: str, path: tuple[str, ...]) -> None:
            if name in placed or name in path:
                return
            for dep in sorted(deps[name] & dirty):
                place(dep, (*path, name))
            placed.add(name)
            order.append(name)

        for name in loaded:
            if name in dirty:
                place(name, ())
        for name in order:
            rel, module = loaded[name]
            self._reexecute_one(rel, module)

    def _reexecute_one(self, rel: str, module: Any) -> None:
        is_test = self.is_test(rel, self.tests)
        before = {k: _marks(v) for k, v in vars(module).items()} if is_test else {}
        # Its dunders stay, and so do its submodules (bound by the import system,
        # which a re-run of its code does not bind again).
        prefix = module.__name__ + "."
        kept = {k: v for k, v in vars(module).items()
                if k in _KEEP_DUNDERS or (isinstance(v, type(module))
                                          and sys.modules.get(prefix + k) is v)}
        code = self.code.get(rel)
        if code is None:
            try:
                code = self._compile(module, rel, files_text(self.work, rel), is_test)
            except (SyntaxError, ValueError, RecursionError) as exc:
                raise Stale(f"{rel} does not compile: {exc}") from exc
        module.__dict__.clear()
        module.__dict__.update(kept)
        try:
            exec(code, module.__dict__)
        except BaseException as exc:
            # pytest would have reported a collection error: only a fresh session can.
            raise Stale(f"{rel} fails to import: {type(exc).__name__}: {exc}") from exc
        if is_test:
            for key, marks in before.items():
                if marks and _marks(vars(module).get(key)) != marks:
                    raise Stale(f"collection holds marks of {rel}::{key} computed from "
                                "changed code")

    @staticmethod
    def _compile(module: Any, rel: str, text: str, is_test: bool) -> Any:
        loader: Any = getattr(module, "__loader__", None)
        if is_test and type(loader).__name__ == "AssertionRewritingHook":
            from _pytest.assertion.rewrite import rewrite_asserts

            tree = ast.parse(text, filename=module.__file__)
            rewrite_asserts(tree, text.encode("utf-8"), module.__file__, loader.config)
            return compile(tree, module.__file__, "exec", dont_inherit=True)
        return compile(text, module.__file__, "exec", dont_inherit=True)


def _run_items(session: Any, direct: set[str] = frozenset(),  # type: ignore[assignment]
               record: Any = None, limit: float = 0.0) -> int:
    """pytest's own test loop (`_pytest.main.pytest_runtestloop`), run by a lean
    screening child, and the exit status pytest would give: the session's finish
    (terminal summary, unconfigure, its garbage collection) is left out, since the
    child's record is all that is wanted of it. Items of `direct` (with a
    `record`) are run by `_run_direct`, the others through pytest's protocol."""
    items = session.items
    hook = session.config.hook
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        if record is not None and item.nodeid in direct:
            _run_direct(session, item, nextitem, record, limit)
        else:
            hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail or session.shouldstop:
            break
    if session.testsfailed:
        return 1
    return 0 if items else 5


# Fixtures of pytest's own that work without its per-phase hooks around a test
# (capsys, capfd and caplog need them, and tmp_path and tmpdir read what a
# makereport hook stored: a test using them goes pytest's way).
_DIRECT_FIXTURES = frozenset({
    "request", "tmp_path_factory", "tmpdir_factory", "monkeypatch", "recwarn",
    "pytestconfig", "doctest_namespace", "record_property", "record_xml_attribute",
    "record_testsuite_property",
})
_DIRECT_HOOKS = ("pytest_runtest_protocol", "pytest_runtest_setup", "pytest_runtest_call",
                 "pytest_runtest_teardown", "pytest_runtest_makereport",
                 "pytest_runtest_logreport", "pytest_pyfunc_call", "pytest_fixture_setup",
                 "pytest_fixture_post_finalizer", "pytest_runtest_logstart",
                 "pytest_runtest_logfinish")
_MARKS_OF_HOOKS = frozenset({"skip", "skipif", "xfail"})


def direct_items(session: Any, work: Path) -> set[str]:
    """Node ids of the collected items a lean child may run directly (`_run_direct`):
    none if any hook around a test comes from outside pytest and repairlab (a
    conftest's, a plugin a test module asked for); else the plain test functions
    with no skip or xfail mark whose every fixture is the bundle's own, one of
    `_DIRECT_FIXTURES` or a parameter. Empty when pytest is not as expected."""
    try:
        from _pytest.python import Function

        pm = session.config.pluginmanager
        for name in _DIRECT_HOOKS:
            for impl in getattr(pm.hook, name).get_hookimpls():
                plugin = impl.plugin
                origin = getattr(plugin, "__name__", None) if inspect.ismodule(plugin) \
                    else type(plugin).__module__
                if not str(origin).startswith(("_pytest", "_repairlab")):
                    return set()
        root = os.path.realpath(work) + os.sep
        found: set[str] = set()
        for item in session.items:
            if type(item) is not Function:
                continue
            if any(mark.name in _MARKS_OF_HOOKS for mark in item.iter_markers()):
                continue
            defs = item._fixtureinfo.name2fixturedefs
            params = getattr(getattr(item, "callspec", None), "params", {})
            ok = True
            for name in item.fixturenames:
                if name in _DIRECT_FIXTURES or name in params:
                    continue
                fixturedefs = defs.get(name)
                code = getattr(getattr(fixturedefs[-1], "func", None), "__code__", None) \
                    if fixturedefs else None
                if code is None or not os.path.realpath(code.co_filename).startswith(root):
                    ok = False
                    break
            if ok:
                found.add(item.nodeid)
        return found
    except Exception:  # pytest's internals differ: everything goes pytest's way
        return set()


def _run_direct(session: Any, item: Any, nextitem: Any, record: Any, limit: float) -> None:
    """Run one test as pytest's runner does (set up, call, and tear down up to
    `nextitem` when it passed), without the per-phase hooks around it, recording
    its outcome into `record` (a ReportPlugin) and into the session's failure
    count. A skip (``pytest.skip``, ``pytest.xfail``) leaves it out, as pytest
    does; any other exception fails it (in set-up or tear-down: an error too).
    The per-test limit (`_arm`) holds from set-up to tear-down."""
    from _pytest.outcomes import Exit, Skipped, XFailed

    nodeid = item.nodeid
    setupstate = session._setupstate
    started = time.perf_counter()
    passed: bool | None = None
    error = False
    if limit > 0:
        _arm(nodeid, limit)
    try:
        try:
            setupstate.setup(item)
        except (Skipped, XFailed):
            pass
        except (Exit, KeyboardInterrupt):
            raise
        except BaseException:
            passed, error = False, True
        else:
            try:
                item.runtest()
                passed = True
            except (Skipped, XFailed):
                pass
            except (Exit, KeyboardInterrupt):
                raise
            except BaseException:
                passed = False
        if passed is not False and nextitem is not None:
            try:
                setupstate.teardown_exact(nextitem)
            except (Exit, KeyboardInterrupt):
                raise
            except BaseException:
                passed, error = False, True
    finally:
        if limit > 0:
            _disarm()
    record.durations[nodeid] = time.perf_counter() - started
    if passed is None:
        return
    record.outcomes[nodeid] = passed
    if not passed:
        if error:
            record.errors.add(nodeid)
        session.testsfailed += 1
        maxfail = session.config.getvalue("maxfail")
        if maxfail and session.testsfailed >= maxfail:
            session.shouldfail = f"stopping after {session.testsfailed} failures"


def _lean_report(item: Any, call: Any) -> Any:
    """The report of a test phase as pytest's default makes it, but a failure's
    traceback is never formatted (its long representation is the exception's one
    line, bounded); skips, exception groups and anything unusual go to pytest's
    default (None)."""
    from _pytest.outcomes import skip
    from _pytest.reports import TestReport

    excinfo = call.excinfo
    outcome: Any
    if excinfo is None:
        outcome, longrepr = "passed", None
    else:
        value = getattr(excinfo, "value", None)
        if value is None or isinstance(value, (skip.Exception, BaseExceptionGroup)):
            return None
        outcome = "failed"
        try:
            longrepr = f"{type(value).__name__}: {value}"[:2000]
        except Exception:  # a __str__ of the bundle's that raises
            longrepr = type(value).__name__
    sections = [(f"Captured {key} {rwhen}", content)
                for rwhen, key, content in item._report_sections]
    return TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), outcome,
                      longrepr, call.when, sections, call.duration, call.start, call.stop,
                      user_properties=item.user_properties)


def files_text(work: Path, rel: str) -> str:
    """A bundle file as the child wrote it."""
    return (work / rel).read_text(encoding="utf-8")


def _arm(nodeid: str, limit: float) -> None:
    """A per-test CPU-time limit (and a wall limit `_WALL_FACTOR` times looser) for
    the test about to run, its setup and teardown included; a test over either ends
    the child at once with EXIT_TEST_LIMIT (the server reads that as a timeout)."""

    def over(signum: int, frame: Any) -> None:
        try:
            os.write(2, f"\n{nodeid} ran over its limit of {limit:.3f}s (screening)\n".encode())
        finally:
            os._exit(EXIT_TEST_LIMIT)

    signal.signal(signal.SIGPROF, over)
    signal.signal(signal.SIGALRM, over)
    signal.setitimer(signal.ITIMER_PROF, limit)
    signal.setitimer(signal.ITIMER_REAL, limit * _WALL_FACTOR)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)


__all__ = ["EXIT_TEST_LIMIT", "Session", "Stale", "imported_names", "module_name"]
