"""What the filesystem backend adds to the contract: a batch settles finish by
finish, and an event the root refuses after its move is kept, not lost."""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from conftest import PASSING, spec_sha256, variant
from repairlab import faults
from repairlab.cli.submit import build_handoff
from repairlab.messages.records import Challenger, MetricLine, TestCounts, rfc3339
from repairlab.state.backend import Claim, Failure, Finish
from repairlab.state.failures import new_record
from repairlab.state.fs_backend import FilesystemBackend
from repairlab.state.layout import Layout

pytestmark = pytest.mark.timeout(60)


def _backend(make_config: Callable[..., Any]) -> tuple[FilesystemBackend, Layout]:
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    return FilesystemBackend(config, config.instance.id), layout


def _claim(backend: FilesystemBackend) -> Claim:
    backend.rescan()
    claim = backend.claim_next()
    assert claim is not None
    return claim


def _finish(backend: FilesystemBackend, claim: Claim, n: int) -> Finish:
    files = variant(PASSING, n)
    sha = spec_sha256(files)
    challenger = Challenger(
        tool="calc", lineage=None, handoff_id=None, bundle_sha256=sha, repaired_sha256=sha,
        repair_strategy="noop", repair_pattern_id=None, repair_attempts=0, repair_details={},
        files=files, diff="", tests=TestCounts(passed=2, failed=0, duration_s=0.01),
        instance=backend.instance, created_at=rfc3339(time.time()), handoff_name=claim.name)
    line = MetricLine(ts=rfc3339(time.time()), event="repaired", instance=backend.instance,
                      meta_repair=True, bundle_sha256=sha, handoff=claim.name)
    return Finish(claim=claim, line=line, challenger=challenger)


def _events(layout: Layout) -> list[dict[str, Any]]:
    try:
        return [json.loads(x) for x in layout.metrics.read_text().splitlines()]
    except FileNotFoundError:
        return []


def test_a_finish_whose_challenger_the_full_root_refuses_stays_claimed_while_the_rest_settle(
        make_config: Callable[..., Any]) -> None:
    backend, layout = _backend(make_config)
    for i in range(3):
        backend.submit(f"h{i}.json", build_handoff(variant(PASSING, i), "calc", "calc.py", None))
    claims = [_claim(backend) for _ in range(3)]
    faults.configure({"telemetry.challenger_write": "enospc#2"})
    results = backend.settle([_finish(backend, c, i) for i, c in enumerate(claims)])
    refused = [r for r in results if r.error is not None]
    assert len(refused) == 1 and refused[0].errno == errno.ENOSPC
    assert refused[0].claim == claims[1] and refused[0].line is None
    assert [c.name for c in backend.held()] == ["h1.json"]  # still ours, nothing public of it
    assert sorted(p.name for p in layout.done.iterdir()) == ["h0.json", "h2.json"]
    assert len([p for p in layout.challengers.iterdir() if p.name.endswith(".json")]) == 2
    assert sorted(e["handoff"] for e in _events(layout)) == ["h0.json", "h2.json"]


def test_an_event_refused_by_a_full_root_after_its_move_is_written_at_the_next_renew(
        make_config: Callable[..., Any]) -> None:
    backend, layout = _backend(make_config)
    data = build_handoff(PASSING, "calc", "calc.py", None)
    backend.submit("h.json", data)
    claim = _claim(backend)
    sha = spec_sha256(PASSING)
    line = MetricLine(ts=rfc3339(time.time()), event="repair_failed", instance=backend.instance,
                      meta_repair=False, bundle_sha256=sha, handoff="h.json")
    key = backend.open(claim, 1 << 20).key
    faults.configure({"telemetry.metrics_write": "enospc#1"})
    verdict = backend.fail(Failure(claim=claim, bundle_sha256=sha, line=line,
                                   record=new_record(key, backend.instance, "x", "h.json")))
    assert not verdict.quarantine
    assert backend.held() == [] and (layout.deferred / "h.json").exists()  # the move happened
    assert _events(layout) == []  # its line was refused, and kept
    backend.renew()
    [event] = _events(layout)
    assert event["event"] == "repair_failed" and event["failures"] == 1
    decoded = msgspec.json.decode(layout.metrics.read_bytes().splitlines()[0], type=MetricLine)
    assert decoded.handoff == "h.json"
