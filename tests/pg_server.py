"""A throwaway PostgreSQL server for the tests: its own data directory, a private
socket directory and a free loopback port, started and stopped by the tests.

PostgreSQL refuses to run as root, so when the tests run as root (this machine and
CI) `initdb` and `pg_ctl` run as the `postgres` user, over a temporary directory
that user owns. The server is tuned for tests: fsync off (it dies with its data),
but synchronous_commit on, so an immediate stop is a crash that loses no commit
(the OS keeps the WAL).

`PgServer.start()` raises `PgUnavailable`, naming the missing binary, where
PostgreSQL is not installed; the fixtures turn that into a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("REPAIRLAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_OPTIONS = ("-c fsync=off -c full_page_writes=off "
                  "-c max_connections=200 -c shared_buffers=32MB")


class PgUnavailable(Exception):
    """No PostgreSQL here to start (the message names what is missing)."""


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster under a temporary directory."""

    def __init__(self, bin_dir: Path = BIN, options: str = SERVER_OPTIONS) -> None:
        self.bin_dir = bin_dir
        self.options = options
        self.base: Path | None = None
        self.port = 0
        self.pid: int | None = None
        self._as: tuple[int, int] | None = None

    # -- paths ---------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def sockets(self) -> Path:
        assert self.base is not None
        return self.base / "sock"

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string to `dbname` over loopback TCP."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    # -- running the tools -----------------------------------------------------------------

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._as is not None:
            kwargs = {"user": self._as[0], "group": self._as[1], "extra_groups": []}
        done = subprocess.run(  # type: ignore[call-overload]
            [str(self.bin_dir / argv[0]), *argv[1:]], capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL, cwd=str(self.base), **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): "
                               f"{done.stdout[-1500:]}{done.stderr[-1500:]}{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + (self.base / "server.log").read_text()[-2000:]  # type: ignore[operator]
        except (OSError, TypeError):
            return ""

    def start(self) -> PgServer:
        """initdb, then start the server and wait until it accepts connections.
        Raises PgUnavailable when a binary or the `postgres` user is missing."""
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin_dir / tool).exists():
                raise PgUnavailable(f"PostgreSQL binary {self.bin_dir / tool} not found "
                                    "(install postgresql-15)")
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable("running as root and no `postgres` user to run "
                                    f"{self.bin_dir / 'initdb'} as") from None
            self._as = (entry.pw_uid, entry.pw_gid)
        self.base = Path(tempfile.mkdtemp(prefix="repairlab-pg-"))
        self.sockets.mkdir(mode=0o700)
        if self._as is not None:
            os.chown(self.base, *self._as)
            os.chown(self.sockets, *self._as)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync", timeout=120)
        self._start_server()
        return self

    def _start_server(self) -> None:
        # A port picked free may be taken before the server binds it: try a few.
        last: Exception | None = None
        for _ in range(5):
            self.port = free_port()
            try:
                self._pg_ctl_start()
                return
            except RuntimeError as exc:
                last = exc
        raise RuntimeError(f"PostgreSQL would not start: {last}")

    def _pg_ctl_start(self) -> None:
        options = f"-k {self.sockets} -h 127.0.0.1 -p {self.port} {self.options}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),  # type: ignore[operator]
                  "-o", options, "-w", "-t", "60", "start", timeout=90)
        self.pid = self._postmaster_pid()

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def restart(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: clients are cut off; `immediate`: a crash, with
        recovery at start) and start it again on the same port."""
        self.stop(mode)
        self._pg_ctl_start()

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; if pg_ctl fails, kill the postmaster this object started."""
        if self.base is None or self.pid is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop",
                      timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.05)
        self.pid = None

    def destroy(self) -> None:
        """Stop immediately and remove the whole directory."""
        self.stop("immediate")
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
