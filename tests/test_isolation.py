"""The candidates' isolation: it works for a non-root daemon, it fails closed, and a
candidate's report is its own.

The service runs as `User=repairlab`; CI runs the suite as root. So these tests run
the daemon (or the engine) in a real child process dropped to an unprivileged user
(`AsUser`, tests/conftest.py), with bubblewrap on PATH and without it (a PATH of an
empty directory), and check what really happened: where handoffs went, what the
daemon printed and exited with, what a hostile candidate could touch.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import FAILING, PASSING, AsUser, names, running, submit, wait_for
from repairlab.cli.submit import build_handoff, enqueue
from repairlab.config import Config
from repairlab.repair.warm_runner import SandboxUnavailable, WarmRunner, probe_isolation
from repairlab.state.layout import Layout

REPO = Path(__file__).resolve().parent.parent
WARMUP_MARKS = ("test_repairlab_warmup", "[1, 2] == [1, 3]", "test_fails")

pytestmark = pytest.mark.timeout(180)


def _bwrap_runs() -> bool:
    try:
        return subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def need_bwrap() -> None:
    if not _bwrap_runs():
        pytest.skip("bwrap (Debian package bubblewrap) is not installed or cannot run here")


def _env(path: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    if path is not None:
        env["PATH"] = path
    env.update(extra)
    return env


def _run(user: AsUser, cwd: Path, *args: str, path: str | None = None, timeout: float = 120,
         ) -> subprocess.CompletedProcess[str]:
    """`run.py ARGS` as `user` in `cwd` (its HOME too), with PATH `path` if given."""
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env=_env(path, HOME=str(cwd)), **user.popen)


def _config(work: Path, extra: str = "") -> Path:
    config = work / "repairlab.toml"
    config.write_text('[paths]\nroot = "state"\n[instance]\nid = "iso"\n'
                      '[repair]\nstrategies = ["noop"]\ntest_timeout_seconds = 10\n'
                      '[failure_window]\nmax_failures = 1\n'
                      '[watch]\nrescan_seconds = 0.3\nheartbeat_seconds = 0.5\n' + extra)
    return config


@pytest.fixture
def no_bwrap_path(tmp_path: Path) -> str:
    """A PATH on which there is no bwrap (nor anything else)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    empty.chmod(0o755)
    return str(empty)


@pytest.fixture
def user_work(unprivileged_user: AsUser, workdir_as: Callable[[AsUser], Path]) -> Path:
    return workdir_as(unprivileged_user)


# -- 0. it works as the service it ships as --------------------------------------------


AGENT = """\
import json, sys
request = json.load(sys.stdin)
files = request["handoff"]["files"]
print(json.dumps({"files": {"calc.py": files["calc.py"].replace("a - b", "a + b")}}))
"""

STRATEGY_SCRIPT = """\
import json, sys
from pathlib import Path
from repairlab.repair import Bundle, Engine, RepairSettings
from repairlab.repair.corpus import DEFAULT_ROOT, load_case
from repairlab.repair.patterns import PatternLibrary
from repairlab.repair.runner import make_runner

work = Path(sys.argv[1])
runner = make_runner(sandbox=sys.argv[2] == "bwrap")
found = {"sandboxed": getattr(runner, "sandboxed", None),
         "uid_mode": getattr(runner, "uid_mode", None)}
cases = [("passing", None), ("clamp", None), ("adapter_keyword_wrap", None),
         ("transplant_dedupe_order", None), ("agent", None)]
for name, _ in cases:
    library = PatternLibrary(work / f"patterns-{name}")
    argv = ()
    if name == "passing":
        bundle = Bundle({"calc.py": "def add(a, b):\\n    return a + b\\n",
                         "test_calc.py": "from calc import add\\n\\n\\ndef test_add():\\n"
                                         "    assert add(2, 3) == 5\\n"},
                        ("test_calc.py",), "calc.py", "calc")
    elif name == "agent":
        bundle = Bundle({"calc.py": "def add(a, b):\\n    return a - b\\n",
                         "test_calc.py": "from calc import add\\n\\n\\ndef test_add():\\n"
                                         "    assert add(2, 3) == 5\\n"},
                        ("test_calc.py",), "calc.py", "calc")
        argv = (sys.executable, str(work / "agent.py"))
    else:
        case = load_case(DEFAULT_ROOT / name)
        bundle = case.bundle
        for seed in case.seeds:
            library.learn(seed, source_sha256=seed.sha256)
    strategies = ("noop", "signature_adapter", "pattern_transplant", "heuristic_microfix")
    if argv:
        strategies = ("noop", "external_agent")
    settings = RepairSettings(strategies=strategies, external_agent=argv,
                              bundle_timeout_seconds=90, test_timeout_seconds=20)
    outcome = Engine(settings, runner, patterns=library).repair(bundle)
    library.close()
    found[name] = outcome.strategy if outcome.repaired else "FAILED: " + str(outcome.reason)
runner.close()
print(json.dumps(found))
"""


@pytest.mark.parametrize("mode", ["bwrap", "no-bwrap"])
def test_every_strategy_repairs_for_a_non_root_daemon_with_and_without_bwrap(
        mode: str, unprivileged_user: AsUser, user_work: Path, no_bwrap_path: str) -> None:
    if mode == "bwrap":
        need_bwrap()
    (user_work / "agent.py").write_text(AGENT)
    (user_work / "strategies.py").write_text(STRATEGY_SCRIPT)
    unprivileged_user.own(user_work)
    proc = subprocess.run(
        [sys.executable, str(user_work / "strategies.py"), str(user_work), mode],
        cwd=user_work, capture_output=True, text=True, timeout=170,
        env=_env(None if mode == "bwrap" else no_bwrap_path, HOME=str(user_work),
                 PYTHONPATH=str(REPO)),
        **unprivileged_user.popen)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["sandboxed"] is (mode == "bwrap"), found
    assert found["uid_mode"] == "none", found  # not root: candidates keep the daemon's uid
    assert found == {"sandboxed": mode == "bwrap", "uid_mode": "none",
                     "passing": "noop", "clamp": "heuristic_microfix",
                     "adapter_keyword_wrap": "signature_adapter",
                     "transplant_dedupe_order": "pattern_transplant",
                     "agent": "external_agent"}, proc.stderr[-3000:]


# -- 3. the sandbox fails closed --------------------------------------------------------


def test_without_bwrap_a_non_root_daemon_refuses_to_start_with_one_line_saying_how_to_fix(
        unprivileged_user: AsUser, user_work: Path, no_bwrap_path: str) -> None:
    config = _config(user_work)
    layout = Layout.at(user_work / "state")
    unprivileged_user.call(submit, layout, PASSING, "waiting.json")
    for command in ("run", "drain"):
        proc = _run(unprivileged_user, user_work, command, "--config", str(config),
                    path=no_bwrap_path, timeout=60)
        assert proc.returncode == 2, proc.stderr[-3000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        line = lines[0]
        assert line.startswith(f"run.py {command}: [sandbox] require = true"), line
        for words in ("write the state root", "reach the network", "signal the daemon",
                      "bwrap not found on PATH", "install bubblewrap",
                      "kernel.apparmor_restrict_unprivileged_userns", "AppArmor",
                      "require = false"):
            assert words in line, (words, line)
    # Nothing was claimed, nothing ran.
    assert names(layout.queue) == ["waiting.json"]
    assert names(layout.done) == [] and names(layout.hard_fail) == []
    assert not (layout.metrics.exists() and layout.metrics.read_text())


def test_with_require_false_a_non_root_daemon_without_bwrap_runs_and_warns_at_every_start(
        unprivileged_user: AsUser, user_work: Path, no_bwrap_path: str) -> None:
    config = _config(user_work, "[sandbox]\nrequire = false\n")
    layout = Layout.at(user_work / "state")
    for n in range(2):
        unprivileged_user.call(submit, layout, dict(PASSING, **{"calc.py": PASSING["calc.py"]
                                                                + f"# {n}\n"}), f"ok{n}.json")
        proc = _run(unprivileged_user, user_work, "drain", "--timeout", "90", "--config",
                    str(config), path=no_bwrap_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        warnings = [ln for ln in proc.stderr.splitlines()
                    if "WARNING" in ln and "[sandbox] require = false" in ln]
        assert len(warnings) == 1, proc.stderr[-3000:]
        assert "write the state root" in warnings[0] and "install bubblewrap" in warnings[0]
        assert f"ok{n}.json" in names(layout.done)


def test_check_config_names_the_isolation_in_force_as_root_and_as_an_unprivileged_user(
        unprivileged_user: AsUser, root_user: AsUser, user_work: Path, tmp_path: Path,
        no_bwrap_path: str) -> None:
    need_bwrap()
    outputs = {}
    for who, user, work in (("root", root_user, tmp_path),
                            ("unprivileged", unprivileged_user, user_work)):
        config = _config(work)
        for path_name, path in (("bwrap", None), ("no bwrap", no_bwrap_path)):
            proc = _run(user, work, "check-config", "--config", str(config), path=path)
            iso = [ln for ln in proc.stdout.splitlines() if ln.startswith("# isolation")]
            assert len(iso) == 1, proc.stdout
            outputs[(who, path_name)] = (proc.returncode, iso[0], proc.stderr.strip())
    print("\n".join(f"{k}: exit {v[0]}: {v[1]} {v[2]}" for k, v in outputs.items()))
    code, line, _ = outputs[("root", "bwrap")]
    assert code == 0 and "bubblewrap" in line and "a fresh uid per candidate" in line
    assert "cannot write the state root, reach the network or signal the daemon" in line
    code, line, _ = outputs[("unprivileged", "bwrap")]
    assert code == 0 and "bubblewrap" in line and "the daemon's uid" in line
    assert "cannot write the state root, reach the network or signal the daemon" in line
    # Root without bwrap still hands out uids, in a network namespace of its own.
    code, line, _ = outputs[("root", "no bwrap")]
    assert code == 0 and "no bubblewrap: a fresh uid per candidate" in line, line
    code, line, err = outputs[("unprivileged", "no bwrap")]
    assert code == 2 and "INSUFFICIENT" in line and "as the daemon's own uid" in line
    assert err.startswith("run.py check-config: [sandbox] require = true")


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory a candidate can reach: outside /tmp, /var/tmp and /dev/shm (which a
    root server without bwrap hides from its candidates behind private tmpfs), under
    parents anyone may traverse. /var/lib where the suite may write there (root, as on
    CI, whose checkout may itself lie under /tmp), else the checkout's ignored var/."""
    if os.access("/var/lib", os.W_OK):
        base = Path("/var/lib")
    else:
        base = REPO / "var"
        base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="repairlab-probe-", dir=base))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_probe_finds_a_guarded_directory_that_a_candidate_could_write(
        outside_tmp: Path, monkeypatch: pytest.MonkeyPatch, no_bwrap_path: str) -> None:
    # Without bwrap a candidate reaches the host's file system: whether it can write
    # the state root depends on the root's modes, and the probe must find out.
    monkeypatch.setenv("PATH", no_bwrap_path)
    closed = outside_tmp / "closed"
    closed.mkdir(mode=0o700)
    open_to_all = outside_tmp / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    assert probe_isolation([str(closed)]).state_root is (os.geteuid() == 0)
    found = probe_isolation([str(closed), str(open_to_all)])
    assert not found.state_root and "write the state root" in found.missing()
    assert list(open_to_all.iterdir()) == []  # the probe removed what it wrote


def test_a_runner_that_requires_isolation_never_falls_back_to_less(
        unprivileged_user: AsUser, user_work: Path, no_bwrap_path: str) -> None:
    script = user_work / "require.py"
    script.write_text(textwrap.dedent("""\
        import sys
        from repairlab.repair.runner import make_runner
        from repairlab.repair.warm_runner import SandboxUnavailable
        try:
            make_runner(require=True, guards=[sys.argv[1]])
        except SandboxUnavailable as exc:
            print("REFUSED", exc)
        else:
            print("STARTED")
        """))
    unprivileged_user.own(user_work)
    proc = subprocess.run([sys.executable, str(script), str(user_work)], cwd=user_work,
                          capture_output=True, text=True, timeout=120,
                          env=_env(no_bwrap_path, HOME=str(user_work), PYTHONPATH=str(REPO)),
                          **unprivileged_user.popen)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("REFUSED [sandbox] require = true"), proc.stdout


@pytest.fixture
def user_daemon(unprivileged_user: AsUser, user_work: Path) -> Iterator[
        tuple[subprocess.Popen[bytes], Layout, Path]]:
    """`run.py run` as the unprivileged user, with bwrap, over a fresh root."""
    need_bwrap()
    config = _config(user_work)
    layout = Layout.at(user_work / "state")
    unprivileged_user.call(layout.ensure)
    log = user_work / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen([sys.executable, str(REPO / "run.py"), "run", "--config",
                                   str(config)], cwd=user_work, stdout=out,
                                  stderr=subprocess.STDOUT, env=_env(HOME=str(user_work)),
                                  start_new_session=True, **unprivileged_user.popen)
    try:
        wait_for(lambda: (layout.instances / "iso.json").exists() or daemon.poll() is not None,
                 timeout=60, what="the daemon's heartbeat")
        assert daemon.poll() is None, log.read_text()[-3000:]
        yield daemon, layout, log
    finally:
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=10)


def test_status_names_the_isolation_each_running_instance_gives_its_candidates(
        unprivileged_user: AsUser, user_work: Path,
        user_daemon: tuple[subprocess.Popen[bytes], Layout, Path]) -> None:
    proc = _run(unprivileged_user, user_work, "status", "--config",
                str(user_work / "repairlab.toml"))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("isolation")]
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith("isolation    iso: bubblewrap"), lines
    assert "candidates as the daemon's uid" in lines[0]
    doc = json.loads(_run(unprivileged_user, user_work, "status", "--json", "--config",
                          str(user_work / "repairlab.toml")).stdout)
    assert doc["instances"][0]["isolation"].startswith("bubblewrap")


def test_under_bwrap_a_non_root_daemons_candidate_cannot_write_the_root_reach_a_listener_or_kill_the_daemon(  # noqa: E501
        unprivileged_user: AsUser,
        user_daemon: tuple[subprocess.Popen[bytes], Layout, Path]) -> None:
    daemon, layout, log = user_daemon
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    marker = uuid.uuid4().hex
    attempts = {
        "write": f"open({str(layout.queue / 'forged.json')!r}, 'w').write('{{}}')",
        "patterns": f"open({str(layout.patterns / 'poison.py')!r}, 'w').write('x')",
        "challenger": (f"open({str(layout.challengers / 'challenger_forged.json')!r}, 'w')"
                       ".write('{}')"),
        "empty-queue": f"import shutil; shutil.rmtree({str(layout.queue)!r})",
        "net": (f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"
                f".sendall(b'{marker}')"),
        "kill": f"import os, signal; os.kill({daemon.pid}, signal.SIGKILL)",
    }
    try:
        for what, code in attempts.items():
            files = {"calc.py": "def add(a, b):\n    return a + b\n",
                     "test_escape.py": f"def test_escape():\n    {code}\n"}
            name = f"escape-{what}.json"
            unprivileged_user.call(enqueue, layout, build_handoff(files, "esc", "calc.py"),
                                   "esc", name)

            def landed(n: str = name) -> bool:
                return (daemon.poll() is not None or n in names(layout.hard_fail)
                        or n in names(layout.done))

            wait_for(landed, timeout=60, what=name)
            assert daemon.poll() is None, f"the daemon died: {log.read_text()[-3000:]}"
            assert name in names(layout.hard_fail), f"{name}: the escape worked"
        readable, _, _ = select.select([listener], [], [], 0.2)
        assert readable == [], "a candidate connected to the test's listener"
    finally:
        listener.close()
    assert not (layout.queue / "forged.json").exists()
    assert not (layout.patterns / "poison.py").exists()
    assert not (layout.challengers / "challenger_forged.json").exists()
    assert layout.queue.is_dir()
    # And the daemon still repairs.
    unprivileged_user.call(submit, layout, PASSING, "after.json")
    wait_for(lambda: "after.json" in names(layout.done), timeout=60, what="after.json done")


# -- 9. a candidate's output is its own -------------------------------------------------


@pytest.fixture(scope="module", params=["bwrap", "bare"])
def warm(request: pytest.FixtureRequest) -> Iterator[WarmRunner]:
    r = WarmRunner(sandbox=request.param == "bwrap")
    try:
        r.start()
    except SandboxUnavailable as exc:
        if request.param == "bwrap":
            pytest.skip(f"bwrap cannot run here: {exc}")
        raise
    yield r
    r.close()


def test_a_failing_candidates_output_holds_nothing_of_the_warm_up_session(
        warm: WarmRunner) -> None:
    for _ in range(2):  # the first child after the warm-up, and one after it
        report = warm.run(FAILING, ["test_calc.py"], timeout=20)
        assert report.failed == 1 and not report.crashed, report.output
        assert "RuntimeError: no" in report.output
        for mark in WARMUP_MARKS:
            assert mark not in report.output, report.output


def test_a_quarantined_handoffs_reason_holds_only_its_own_test_output(
        make_config: Callable[..., Config]) -> None:
    config = make_config(failure_window={"max_failures": 1})
    layout = Layout.from_config(config)
    submit(layout, FAILING, "bad.json")
    with running(config):
        wait_for(lambda: "bad.reason.json" in names(layout.hard_fail), what="bad quarantined")
    reason = json.loads((layout.hard_fail / "bad.reason.json").read_text())
    output = str(reason.get("last_test_output") or "")
    assert "RuntimeError: no" in output, reason
    for mark in WARMUP_MARKS:
        assert mark not in output, output


def test_a_reload_cannot_change_the_sandbox_requirement_probed_at_start(
        make_config: Callable[..., Config]) -> None:
    from repairlab.errors import ConfigError

    config = make_config()
    with running(config) as daemon:
        with pytest.raises(ConfigError, match=r"\[sandbox\] cannot change on reload"):
            daemon.reload(make_config(sandbox={"require": False}))
        assert daemon.config.sandbox.require is True
