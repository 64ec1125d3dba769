"""Shared fixtures: real state roots under tmp_path, real daemons, fault injection.

Fault injection uses the code's own named points (`faults.inject`), switched on
through the `[faults]` config table, exactly as an operator would.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from repairlab import faults
from repairlab.cli.submit import build_handoff, enqueue
from repairlab.config import Config, load_config
from repairlab.repair.runner import Runner, make_runner
from repairlab.state.layout import Layout
from repairlab.supervision.daemon import Daemon

# `python -m pytest` puts the checkout first on sys.path, but its folders are the
# package `repairlab`, never top-level modules (as installed): off it goes, so that a
# test module importing without the `repairlab.` prefix fails to collect here as it
# would for a user. (pytest puts it back when it sets up the root directory as a
# package, after collection; tests/test_packaging.py imports every module from a wheel.)
_CHECKOUT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != _CHECKOUT]

PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": (
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    ),
}

FAILING = {
    "calc.py": "def add(a, b):\n    raise RuntimeError('no')\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def spec_sha256(files: dict[str, str]) -> str:
    """SPEC §2's bundle_sha256, written out independently of the product code."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.encode()):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def variant(files: dict[str, str], n: int) -> dict[str, str]:
    """The same bundle with a distinct hash (a trailing comment)."""
    out = dict(files)
    out["calc.py"] = files["calc.py"] + f"# variant {n}\n"
    return out


@pytest.fixture(autouse=True)
def _faults_off() -> Iterator[None]:
    faults.reset()
    yield
    faults.reset()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    """The production runner (`make_runner`: the warm sandboxed one), shared by a
    module's tests. REPAIRLAB_RUNNER=subprocess swaps in the reference runner, to
    tell a strategy's fault from the runner's."""
    chosen = make_runner()
    yield chosen
    chosen.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A config over `tmp_path/state`, quick settings, with per-test overrides:
    `make_config(backoff={"base_seconds": 0.1})`."""

    def make(**sections: dict[str, Any]) -> Config:
        base: dict[str, dict[str, Any]] = {
            "paths": {"root": str(tmp_path / "state")},
            "instance": {"id": "test-a"},
            "backoff": {"base_seconds": 0.05, "max_seconds": 0.2},
            "repair": {"workers": 2, "test_timeout_seconds": 20, "bundle_timeout_seconds": 30,
                       "strategies": ["noop"]},
            "watch": {"rescan_seconds": 0.5, "heartbeat_seconds": 1},
        }
        for name, values in sections.items():
            base.setdefault(name, {}).update(values)
        return load_config(None, overrides=base)

    return make


def submit(layout: Layout, files: dict[str, str], name: str, *, tool: str = "calc",
           entrypoint: str = "calc.py", lineage: str | None = "calc-line") -> Path:
    """Enqueue a handoff the way a producer does (temp name, then rename)."""
    layout.ensure()
    return enqueue(layout, build_handoff(files, tool, entrypoint, lineage), tool, name)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll until `predicate()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


def names(directory: Path, suffix: str = ".json") -> list[str]:
    """Visible names in a directory ending with `suffix`, sorted."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if p.name.endswith(suffix) and not p.name.startswith("."))


def metric_lines(layout: Layout) -> list[dict[str, Any]]:
    """Every metrics line, decoded as plain JSON (as an external reader would)."""
    if not layout.metrics.exists():
        return []
    return [json.loads(line) for line in layout.metrics.read_text().splitlines()]


@contextmanager
def running(config: Config, **kwargs: Any) -> Iterator[Daemon]:
    """A real daemon with real actors, supervised on a background thread."""
    daemon = Daemon(config, **kwargs)
    daemon.start()
    stop = threading.Event()
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(code=daemon.run(stop, grace_seconds=5)),
                              daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        stop.set()
        thread.join(timeout=30)
        daemon.exit_code = result.get("code")  # type: ignore[attr-defined]


# -- an unprivileged daemon ----------------------------------------------------------------
#
# The service runs as `User=repairlab`; CI runs the suite as root. The end-to-end tests
# run the daemon's process as a throwaway system user too (`AsUser`), created once and
# reused; it gets traverse-only access (a POSIX ACL, `setfacl -m u:USER:x`) to the
# directories on the way to the interpreter (/root is 0700 here), and owns the
# directory it runs in (`AsUser.workdir`) and the state root there, as `repairlab`
# owns /var/lib/repairlab. That directory is not under pytest's basetemp: every pytest
# session run as root chmods /tmp/pytest-of-root to 0700, which masks any ACL on it.

TEST_USER = "repairlab-test"


@dataclass(frozen=True)
class AsUser:
    """Who the daemon's process runs as: root (`uid == 0`, nothing dropped) or the
    unprivileged test user. `popen` are the keyword arguments of subprocess.Popen
    that drop to it; `own(path)` gives it a directory; `call(fn)` runs `fn` in a
    forked child as that user (a producer enqueuing, say) and returns its exit code."""

    name: str
    uid: int
    gid: int

    @property
    def root(self) -> bool:
        return self.uid == os.geteuid()

    @property
    def popen(self) -> dict[str, Any]:
        if self.root:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    @contextmanager
    def workdir(self, tmp_path: Path) -> Iterator[Path]:
        """A directory this user owns and can reach, removed afterwards: under
        `tmp_path` for the suite's own user, else a fresh one under /tmp."""
        if self.root:
            work = tmp_path / "work"
            work.mkdir()
            yield work
            return
        work = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        try:
            os.chown(work, self.uid, self.gid)
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def own(self, path: Path) -> Path:
        """Give `path` and everything in it to this user; returns it."""
        if not self.root:
            for dirpath, dirnames, filenames in os.walk(path):
                os.chown(dirpath, self.uid, self.gid)
                for entry in [*dirnames, *filenames]:
                    os.lchown(os.path.join(dirpath, entry), self.uid, self.gid)
        return path

    def call(self, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Run `fn(*args, **kwargs)` in a child as this user; AssertionError if it
        raised (its traceback is printed to stderr)."""
        if self.root:
            fn(*args, **kwargs)
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.setgroups([])
                os.setresgid(self.gid, self.gid, self.gid)
                os.setresuid(self.uid, self.uid, self.uid)
                fn(*args, **kwargs)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"{fn.__name__} failed as {self.name}"


def _grant_traverse(user: str, directory: Path) -> None:
    """Let `user` pass through `directory` and every parent that others cannot pass
    (traverse only, no listing), with a POSIX ACL."""
    for d in [directory, *directory.parents]:
        mode = os.stat(d).st_mode
        if mode & stat.S_IXOTH:
            continue
        setfacl = shutil.which("setfacl")
        if setfacl is None:
            pytest.skip("setfacl (Debian package acl) is needed to run the daemon as an "
                        "unprivileged user here")
        subprocess.run([setfacl, "-m", f"u:{user}:x", str(d)], check=True, timeout=30)


def _unprivileged_user() -> AsUser:
    """The test user, created (a system user, no home, no login) when missing, with
    access to this interpreter; or the current user when the suite is not root."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return AsUser(me.pw_name, me.pw_uid, me.pw_gid)
    # Sessions and xdist workers make it under one lock: useradd run by two at once
    # fails for the one that finds /etc/passwd locked, before the other has written it.
    with open(Path(tempfile.gettempdir()) / f"{TEST_USER}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entry = pwd.getpwnam(TEST_USER)
        except KeyError:
            useradd = shutil.which("useradd")
            if useradd is None:
                pytest.skip("useradd (Debian package passwd) is needed to make a test user")
            made = subprocess.run([useradd, "--system", "--no-create-home", "--shell",
                                   "/usr/sbin/nologin", TEST_USER],
                                  capture_output=True, text=True, timeout=60)
            try:
                entry = pwd.getpwnam(TEST_USER)
            except KeyError:
                raise AssertionError(f"useradd {TEST_USER} failed: {made.stderr}") from None
        user = AsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
        for needed in {os.path.realpath(sys.executable), os.path.abspath(sys.executable),
                       sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parent.parent)}:
            _grant_traverse(user.name, Path(needed) if os.path.isdir(needed)
                            else Path(needed).parent)
    probe = subprocess.run([sys.executable, "-c", "import pytest, msgspec, repairlab.repair"],
                           capture_output=True, text=True, timeout=60,
                           cwd="/", **user.popen)
    assert probe.returncode == 0, f"{TEST_USER} cannot run {sys.executable}: {probe.stderr}"
    return user


@pytest.fixture(scope="session")
def unprivileged_user() -> AsUser:
    """The unprivileged user the daemon's process drops to (see `AsUser`)."""
    return _unprivileged_user()


@pytest.fixture(scope="session")
def root_user() -> AsUser:
    """The suite's own user (root in CI): nothing is dropped."""
    me = pwd.getpwuid(os.geteuid())
    return AsUser(me.pw_name, me.pw_uid, me.pw_gid)


@pytest.fixture(params=["root", "unprivileged"])
def daemon_user(request: pytest.FixtureRequest) -> AsUser:
    """Each end-to-end test once with the daemon as the suite's user (root in CI) and
    once as an unprivileged one, as the shipped unit runs it (`User=repairlab`)."""
    name = "unprivileged_user" if request.param == "unprivileged" else "root_user"
    user: AsUser = request.getfixturevalue(name)
    return user


@pytest.fixture
def workdir_as(tmp_path: Path) -> Iterator[Callable[[AsUser], Path]]:
    """`workdir_as(user)`: a directory `user` owns and can reach (`AsUser.workdir`),
    removed at the end of the test."""
    with ExitStack() as stack:
        yield lambda user: stack.enter_context(user.workdir(tmp_path))


@pytest.fixture
def daemon_dir(daemon_user: AsUser, workdir_as: Callable[[AsUser], Path]) -> Path:
    """The directory an end-to-end test runs the daemon in, owned by `daemon_user`."""
    return workdir_as(daemon_user)


def pids_named(token: str) -> set[int]:
    """Pids whose process name (/proc/PID/comm) is `token`, anywhere on the host:
    how a test finds what a candidate started under a name of the test's own."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm", encoding="utf-8", errors="replace") as fh:
                if fh.read().strip() == token:
                    found.add(int(name))
        except OSError:
            continue
    return found


# -- PostgreSQL: one throwaway server per session, a fresh database per test --------------
# (tests/pg_server.py; skips naming the binary where PostgreSQL is not installed)

PG_TEMPLATE = "repairlab_template"


def started_pg_server() -> Any:
    """A throwaway PostgreSQL server of the caller's own, started; the test skips,
    naming what is missing, where there is no PostgreSQL binary to start."""
    from pg_server import PgServer, PgUnavailable
    server = PgServer()
    try:
        server.start()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL 15 server for the whole session, with a migrated template database."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    server = started_pg_server()
    try:
        from repairlab.state.pg.connector import PgConnector
        from repairlab.state.pg.migrate import migrate
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_TEMPLATE}")
        with PgConnector(server.dsn(PG_TEMPLATE)) as connector:
            migrate(connector)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_database(pg_server: Any) -> Iterator[Callable[..., str]]:
    """Makes fresh databases (`migrated=False`: empty) and returns their DSNs;
    drops them after the test."""
    import uuid

    import psycopg
    made: list[str] = []

    def make(*, migrated: bool = True) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        template = f" TEMPLATE {PG_TEMPLATE} STRATEGY FILE_COPY" if migrated else ""
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{template}")
        made.append(name)
        return str(pg_server.dsn(name))
    yield make
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_dsn(pg_database: Callable[..., str]) -> str:
    """The DSN of a fresh, migrated database."""
    return pg_database()
