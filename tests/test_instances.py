"""Several instances on one root, kill -9 at the worst moment, lost inotify events.

Instances are real processes (`run.py run` / `run.py drain`) sharing one state
root, as two units of the template would. Every process a test starts runs in its
own session and is killed by its process-group id, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import FAILING, PASSING, AsUser, names, running, submit, variant, wait_for
from repairlab.actors.base import SupervisedActor
from repairlab.messages.commands import RepairBundle, WorkerFree
from repairlab.messages.records import MetricLine
from repairlab.state.fsops import move_unique
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("REPAIRLAB_") or k == "REPAIRLAB_RUNNER"}


def _config(tmp_path: Path, instance: str, extra: str = "") -> Path:
    path = tmp_path / f"{instance}.toml"
    path.write_text(
        f'[paths]\nroot = "state"\n[instance]\nid = "{instance}"\nlease_seconds = 2\n'
        '[repair]\nstrategies = ["noop"]\n[failure_window]\nmax_failures = 1\n'
        '[watch]\nrescan_seconds = 0.5\nheartbeat_seconds = 0.5\n' + extra)
    return path


def _spawn(tmp_path: Path, command: str, config: Path, *args: str,
           user: AsUser | None = None) -> subprocess.Popen[str]:
    """`run.py COMMAND` in its own session, as `user` when given."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), command, "--config", str(config), *args],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: we can kill it and its children
        **(user.popen if user is not None else {}),
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=20)


def _every_place(layout: Layout) -> dict[str, list[str]]:
    return {
        "done": names(layout.done), "hard_fail": names(layout.hard_fail),
        "corrupt": names(layout.corrupt), "queue": names(layout.queue),
        "deferred": names(layout.deferred),
    }


def _terminal_names(layout: Layout) -> list[str]:
    out = []
    for place in (layout.done, layout.hard_fail, layout.corrupt):
        out += [n for n in names(place) if not n.endswith(".reason.json")]
    return out


def _submit_all(layout: Layout, bundles: dict[str, dict[str, str]]) -> None:
    for name, files in bundles.items():
        submit(layout, files, name)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("instances", "as_user", "moves"),
                         [(2, "root", "renameat2"), (3, "root", "renameat2"),
                          (2, "unprivileged", "renameat2"), (3, "root", "link-unlink")])
def test_instances_share_one_root_without_losing_or_doubling_anything(
        instances, as_user, moves, request, workdir_as):
    user: AsUser = request.getfixturevalue(f"{as_user}_user")
    tmp_path = workdir_as(user)
    # "link-unlink": renameat2 refused as on NFS or FUSE (the fault point answers EINVAL).
    fallback = '[faults]\npoints = { "fsops.renameat2" = "einval" }\n'
    extra = fallback if moves == "link-unlink" else ""
    layout = Layout.at(tmp_path / "state")
    expected: dict[str, str] = {}
    bundles: dict[str, dict[str, str]] = {}
    for i in range(30):
        files = variant(PASSING, i)
        for copy in range(3):  # copies race for one challenger
            name = f"ok{i:02d}-{copy}.json"
            bundles[name] = files
            expected[name] = "done"
    for i in range(15):
        bundles[f"bad{i:02d}.json"] = dict(FAILING, **{"calc.py": FAILING["calc.py"] + f"# {i}\n"})
        expected[f"bad{i:02d}.json"] = "hard_fail"
    user.call(_submit_all, layout, bundles)  # as a producer running as the daemon's user
    for i in range(60):
        (layout.queue / f"junk{i:02d}.json").write_text("{" * (i % 3) + "not json")
        expected[f"junk{i:02d}.json"] = "corrupt"
    procs = [_spawn(tmp_path, "drain", _config(tmp_path, f"inst{k}", extra), "--timeout", "180",
                    user=user)
             for k in range(instances)]
    errors = []
    try:
        codes = [p.wait(timeout=200) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                _kill_group(p)
            else:
                errors.append(p.communicate(timeout=10)[1][-2000:])
    assert codes == [0] * instances, errors
    places = _every_place(layout)
    assert places["queue"] == [] and places["deferred"] == []
    terminal = _terminal_names(layout)
    assert sorted(terminal) == sorted(expected), "lost or doubled handoffs"
    for name, place in expected.items():
        assert name in places[place], (name, place)
    challengers = names(layout.challengers)
    assert len(challengers) == 30  # one per bundle and result, whoever repaired it
    shas = [json.loads((layout.challengers / c).read_text())["bundle_sha256"]
            for c in challengers]
    assert len(set(shas)) == 30
    decoder = msgspec.json.Decoder(MetricLine)
    lines = layout.metrics.read_bytes().splitlines()
    events = [decoder.decode(line) for line in lines]  # every line parses whole
    assert sum(e.event == "repaired" for e in events) == 90
    assert sum(e.event == "quarantined" for e in events) == 15
    assert sum(e.event == "corrupt" for e in events) == 60
    workers = {e.instance for e in events if e.event == "repaired"}
    assert len(workers) >= 2, "the instances did not share the work"


SLOW_PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": ("import time\nfrom calc import add\n\n\ndef test_add():\n"
                     "    time.sleep(4)\n    assert add(2, 3) == 5\n"),
}


def _wait_claimed(layout: Layout, instance: str, timeout: float = 30) -> None:
    wait_for(lambda: layout.claims_of(instance).exists()
             and any(layout.claims_of(instance).iterdir()), timeout=timeout,
             what=f"a claim by {instance}")


@pytest.mark.timeout(120)
def test_a_peer_takes_back_the_claims_of_an_instance_killed_mid_repair(tmp_path):
    layout = Layout.at(tmp_path / "state")
    submit(layout, SLOW_PASSING, "slow.json")
    victim = _spawn(tmp_path, "run", _config(tmp_path, "victim"))
    try:
        _wait_claimed(layout, "victim")
        time.sleep(0.5)  # mid-repair: its test is sleeping
    finally:
        _kill_group(victim)
    assert names(layout.claims_of("victim")) == ["slow.json"]
    peer = _spawn(tmp_path, "drain", _config(tmp_path, "peer"), "--timeout", "90")
    _, err = peer.communicate(timeout=100)
    assert peer.returncode == 0, err[-2000:]
    assert names(layout.done) == ["slow.json"]
    assert names(layout.claims_of("victim")) == []
    assert len(names(layout.challengers)) == 1


@pytest.mark.timeout(120)
def test_an_instance_restarted_with_the_same_id_recovers_its_own_claims_at_once(tmp_path):
    layout = Layout.at(tmp_path / "state")
    submit(layout, SLOW_PASSING, "slow.json")
    config = _config(tmp_path, "same")
    config.write_text(config.read_text().replace("lease_seconds = 2", "lease_seconds = 3600"))
    first = _spawn(tmp_path, "run", config)
    try:
        _wait_claimed(layout, "same")
    finally:
        _kill_group(first)
    started = time.monotonic()
    again = _spawn(tmp_path, "drain", config, "--timeout", "90")
    _, err = again.communicate(timeout=100)
    assert again.returncode == 0, err[-2000:]
    assert time.monotonic() - started < 60  # not waiting for the hour-long lease
    assert names(layout.done) == ["slow.json"]
    assert "took back 1 handoffs this instance held before" in err


class FastRepairer(SupervisedActor):
    """Stands in for the repair engine (said so here): moves each claim straight
    to done/, so that the test measures the watcher and claims alone."""

    kind = "repairer"

    def handle(self, message: Any) -> Any:
        match message:
            case RepairBundle(claim=claim, name=name):
                move_unique(Path(claim), self.runtime.layout.done, name)
                self.settled(claim)
                self.runtime.peers.tell(
                    "watcher", WorkerFree(worker=self.name, name=name))
        return None


@pytest.mark.timeout(240)
def test_twenty_thousand_handoffs_dropped_at_once_are_all_processed(make_config, tmp_path):
    config = make_config(repair={"workers": 4}, watch={"rescan_seconds": 1})
    layout = Layout.from_config(config)
    layout.ensure()
    staging = layout.root / "staging"
    staging.mkdir()
    count = 20_000
    for i in range(count):
        (staging / f"h{i:05d}.json").write_text("{}")
    with running(config, extra_actors={f"repairer-{i}": FastRepairer for i in range(4)}):
        time.sleep(0.5)
        for i in range(count):  # as fast as we can: inotify's queue (16384) overflows
            os.rename(staging / f"h{i:05d}.json", layout.queue / f"h{i:05d}.json")
        wait_for(lambda: len(os.listdir(layout.done)) == count, timeout=200,
                 what="all 20,000 in done/")
    assert os.listdir(layout.queue) == []


def test_metrics_lines_from_many_processes_never_tear_or_interleave(tmp_path):
    path = tmp_path / "metrics.jsonl"
    script = (
        "import sys\nfrom pathlib import Path\nfrom repairlab.state.metrics import MetricsLog\n"
        "log = MetricsLog(Path(sys.argv[1]), sys.argv[2])\n"
        "for i in range(2000):\n"
        "    log.append(log.line('repaired', reason='x' * (i % 700), candidates=i))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"w{k}"], cwd=REPO,
                              env=_env()) for k in range(4)]
    threads_log = MetricsLog(path, "threads")
    threads = [threading.Thread(target=lambda: [threads_log.append(
        threads_log.line("pruned", reason="y" * 300)) for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    threads_log.close()
    decoder = msgspec.json.Decoder(MetricLine)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    decoded = [decoder.decode(line) for line in lines[:-1]]
    assert len(decoded) == 4 * 2000 + 4 * 500
    for k in range(4):
        mine = [d.candidates for d in decoded if d.instance == f"w{k}"]
        assert mine == list(range(2000))  # whole, and in each writer's order
