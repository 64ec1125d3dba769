"""Moves and creations that must have exactly one winner, raced by real processes.

Each test starts several Python processes on one directory, lets them all go at
once (a marker file), and then checks the files alone: who holds what, and that no
stray link or file of a loser is left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}


def _race(script: str, args: list[list[str]], go: Path) -> list[str]:
    """Run one process per argument list, release them together, return their stdout."""
    procs = [subprocess.Popen([sys.executable, "-c", script, *a, str(go)], cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a in args]
    try:
        ready = [p.stdout.readline().strip() for p in procs if p.stdout is not None]
        assert ready == ["ready"] * len(procs), ready
        go.touch()
        outputs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=10)
    assert [p.returncode for p in procs] == [0] * len(procs), [err for _, err in outputs]
    return [out for out, _ in outputs]


CLAIMER = """
import sys, time
from pathlib import Path
from repairlab import faults
faults.configure({"fsops.renameat2": "einval"})  # as on NFS or FUSE
from repairlab.state.claims import Claims
from repairlab.state.layout import Layout
root, me, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
layout = Layout.at(root)
claims = Claims(layout, me)
names = sorted(p.name for p in layout.queue.iterdir())
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
won = [n for n in names if claims.claim(n) is not None]
print(len(won), faults.fired("fsops.renameat2"), flush=True)
"""


def test_without_renameat2_each_handoff_is_claimed_by_exactly_one_racing_instance(
        tmp_path: Path) -> None:
    from repairlab.state.layout import Layout

    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    count, racers = 400, 4
    for i in range(count):
        (layout.queue / f"h{i:04d}.json").write_text(json.dumps({"n": i}))
    outputs = _race(CLAIMER, [[str(layout.root), f"inst{k}"] for k in range(racers)],
                    tmp_path / "go")
    won = [int(out.split()[0]) for out in outputs]
    fallback_taken = [int(out.split()[1]) for out in outputs]
    assert all(n > 0 for n in fallback_taken), "the link-then-unlink path was not taken"
    held: dict[str, list[str]] = {}
    for k in range(racers):
        for path in layout.claims_of(f"inst{k}").iterdir():
            held.setdefault(path.name, []).append(f"inst{k}")
            assert os.lstat(path).st_nlink == 1, f"a stray link to {path} is left"
    doubled = {name: owners for name, owners in held.items() if len(owners) > 1}
    assert doubled == {}, f"claimed twice: {sorted(doubled)[:5]} ({len(doubled)} in all)"
    assert sorted(held) == [f"h{i:04d}.json" for i in range(count)]
    assert sum(won) == count  # each mover that kept a claim said so; the losers said no
    assert list(layout.queue.iterdir()) == []


QUARANTINER = """
import sys, time
from pathlib import Path
from repairlab.state.dead_letters import place_with_reason
from repairlab.messages.records import ReasonFile
root, me, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
mine, hard_fail = root / "claims" / me, root / "processed" / "hard_fail"
claims = sorted(mine.iterdir())
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
for claim in claims:
    place_with_reason(claim, hard_fail, claim.name,
                      ReasonFile(handoff=claim.name, rule="test", instance=me))
print("done", flush=True)
"""


def test_two_instances_quarantining_same_named_handoffs_keep_each_their_own_reason(
        tmp_path: Path) -> None:
    from repairlab.state.layout import Layout

    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    count, racers = 150, 2
    for k in range(racers):
        mine = layout.claims_of(f"inst{k}")
        mine.mkdir()
        for i in range(count):
            (mine / f"h{i:03d}.json").write_text(json.dumps({"owner": f"inst{k}", "n": i}))
    _race(QUARANTINER, [[str(layout.root), f"inst{k}"] for k in range(racers)], tmp_path / "go")
    entries = sorted(p.name for p in layout.hard_fail.iterdir())
    handoffs = [n for n in entries if not n.endswith(".reason.json")]
    reasons = [n for n in entries if n.endswith(".reason.json")]
    assert len(handoffs) == count * racers, "a handoff was lost or overwritten"
    assert not any(n.startswith(".") for n in entries), "a temporary file was left"
    seen = set()
    for name in handoffs:
        owner = json.loads((layout.hard_fail / name).read_text())
        reason_file = layout.hard_fail / (name.removesuffix(".json") + ".reason.json")
        assert reason_file.exists(), f"{name} lost its reason file"
        reason = json.loads(reason_file.read_text())
        assert reason["handoff"] == name
        assert reason["instance"] == owner["owner"], f"{name} carries another's reason"
        seen.add((owner["owner"], owner["n"]))
    assert len(seen) == count * racers
    assert len(reasons) == len(handoffs)
