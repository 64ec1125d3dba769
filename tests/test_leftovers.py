"""Nothing grows without bound: what dead instances and crashed writes leave
behind goes, once it is provably dead (unchanged for a lease) and empty, and
never before. Real processes, killed by their own process group."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from test_instances import _kill_group, _spawn

from conftest import PASSING, names, running, submit, wait_for
from repairlab.state.claims import Claims
from repairlab.state.janitor import Janitor
from repairlab.state.layout import Layout

pytestmark = pytest.mark.timeout(180)


def _default_id_config(tmp_path: Path, lease: float = 2) -> Path:
    """No `[instance] id`: every process is `host-pid`, as the unit runs it."""
    path = tmp_path / "default-id.toml"
    path.write_text(
        f'[paths]\nroot = "state"\n[instance]\nlease_seconds = {lease}\n'
        '[repair]\nstrategies = ["noop"]\n'
        '[watch]\nrescan_seconds = 0.5\nheartbeat_seconds = 0.5\n')
    return path


def test_instances_that_exit_cleanly_leave_no_claims_directory_or_heartbeat(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    config = _default_id_config(tmp_path)
    procs = [_spawn(tmp_path, "drain", config, "--timeout", "60") for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-800:] for _, err in results]
    assert sorted(os.listdir(layout.claims)) == []
    assert names(layout.instances) == []


def test_a_dead_instances_leftovers_go_after_the_lease_and_never_before(
        tmp_path: Path, make_config: Any) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    dead = [_spawn(tmp_path, "run", _default_id_config(tmp_path)) for _ in range(3)]
    try:
        wait_for(lambda: len(names(layout.instances)) == 3, timeout=90, what="3 heartbeats")
        wait_for(lambda: len(os.listdir(layout.claims)) == 3, timeout=30, what="3 claim dirs")
    finally:
        for proc in dead:
            _kill_group(proc)
    dead_ids = sorted(os.listdir(layout.claims))
    # One of them held a handoff when it died; crashes left a temporary file and a
    # reason file whose handoff never arrived.
    held = layout.claims_of(dead_ids[0]) / "held.json"
    submit(layout, PASSING, "held.json")
    os.rename(layout.queue / "held.json", held)
    sha_dir = layout.failures / ("a" * 64)
    sha_dir.mkdir()
    orphan_tmp = sha_dir / ".k1.json.0123456789ab.tmp"
    orphan_tmp.write_text("{")
    orphan_challenger = layout.challengers / f".tmp-{'b' * 32}.json"
    orphan_challenger.write_text("{")
    orphan_reason = layout.hard_fail / "lost.reason.json"
    orphan_reason.write_text("{}")
    kept_reason = layout.hard_fail / "kept.reason.json"
    kept_reason.write_text("{}")
    (layout.hard_fail / "kept.json").write_text("{}")
    producers_tmp = layout.queue / ".incoming.tmp"
    producers_tmp.write_text("{")
    leftovers = [*(layout.claims_of(i) for i in dead_ids),
                 *(layout.instances / f"{i}.json" for i in dead_ids),
                 orphan_tmp, orphan_challenger, orphan_reason]
    # Their files are old by now; the survivor has just started watching them.
    config = make_config(instance={"id": "survivor", "lease_seconds": 2})
    with running(config):
        assert all(os.path.lexists(p) for p in leftovers), "removed before a lease"
        wait_for(lambda: not any(os.path.lexists(p) for p in leftovers), timeout=60,
                 what="the dead instances' leftovers removed")
        wait_for(lambda: names(layout.done) == ["held.json"], timeout=60,
                 what="the dead instance's claim repaired")
        survivor = layout.claims_of("survivor")
        assert survivor.is_dir() and (layout.instances / "survivor.json").exists()
    assert kept_reason.exists() and producers_tmp.exists()
    assert os.listdir(layout.claims) == []


def test_a_live_peers_directory_and_heartbeat_are_never_removed(
        tmp_path: Path, make_config: Any) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    peer = _spawn(tmp_path, "run", _default_id_config(tmp_path))
    try:
        wait_for(lambda: len(names(layout.instances)) == 1, timeout=90, what="the peer's beat")
        (peer_id,) = os.listdir(layout.claims)
        config = make_config(instance={"id": "other", "lease_seconds": 2})
        with running(config):
            deadline = time.monotonic() + 8  # four leases
            while time.monotonic() < deadline:
                assert layout.claims_of(peer_id).is_dir()
                assert (layout.instances / f"{peer_id}.json").exists()
                time.sleep(0.1)
    finally:
        _kill_group(peer)


def test_the_janitor_removes_only_leftovers_unchanged_for_a_whole_lease(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    clock = [100.0]
    janitor = Janitor(layout, monotonic=lambda: clock[0])
    orphan = layout.instances / ".x.json.0123456789ab.tmp"
    orphan.write_text("x")
    busy = layout.schedule / ".prune.json.abcdefabcdef.tmp"
    busy.write_text("x")
    lost = layout.corrupt / "gone.reason.json"
    lost.write_text("{}")
    arriving = layout.hard_fail / "late.reason.json"
    arriving.write_text("{}")
    not_ours = layout.instances / ".something-else"
    not_ours.write_text("x")
    assert janitor.sweep(30) == []
    clock[0] += 29.9
    busy.write_text("xy")  # a writer still at it: watched afresh
    (layout.hard_fail / "late.json").write_text("{}")  # its handoff arrives
    assert janitor.sweep(30) == []
    clock[0] += 0.1
    assert sorted(janitor.sweep(30)) == sorted([orphan, lost])
    assert busy.exists() and arriving.exists() and not_ours.exists()
    clock[0] += 30
    assert janitor.sweep(30) == [busy]


def test_an_instance_whose_claims_directory_was_removed_claims_again(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "state")
    layout.ensure()
    claims = Claims(layout, "paused")
    os.rmdir(layout.claims_of("paused"))  # a peer took it for dead while it was stopped
    submit(layout, PASSING, "next.json")
    assert claims.claim("next.json") == layout.claims_of("paused") / "next.json"
