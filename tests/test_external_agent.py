"""external_agent: real agent programs, well-behaved and hostile."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from loguru import logger

from repairlab.repair import Bundle, Engine, RepairSettings, Runner, TestReport
from repairlab.repair.strategies.base import Budget, Context
from repairlab.repair.strategies.external import (
    ExternalAgent,
    ReplyRejected,
    check_reply,
    clean_path,
)

MODULE = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
BUNDLE = Bundle({"calc.py": MODULE, "test_calc.py": TEST}, ("test_calc.py",), "calc.py", "calc")




def agent(tmp_path: Path, body: str) -> tuple[str, ...]:
    """The argv of a Python agent whose main body is `body` (it has `request`, the
    decoded stdin, and `files`, the handoff's files, in scope)."""
    script = tmp_path / "agent.py"
    script.write_text(
        "import json, os, sys, time, subprocess\n"
        "request = json.load(sys.stdin)\n"
        "files = request['handoff']['files']\n" + textwrap.dedent(body),
        encoding="utf-8",
    )
    return (sys.executable, str(script))


class MustNotRun:
    """A runner for contexts whose candidate must never be judged."""

    def run(self, files: Mapping[str, str], tests: Sequence[str], *, timeout: float,
            coverage: bool = False) -> TestReport:
        raise AssertionError("a rejected proposal was judged")

    def close(self) -> None:
        """Nothing to release."""


def context(argv: tuple[str, ...], seconds: float = 20.0) -> Context:
    first = TestReport(failed=1, exit_code=1, output="E  assert -1 == 5",
                       outcomes={"test_calc.py::test_add": False})
    return Context(
        bundle=BUNDLE, first_run=first, runner=MustNotRun(),
        budget=Budget(time.monotonic() + seconds, 100), test_timeout=5.0, expected_tests=1,
        settings=RepairSettings(external_agent=argv), external_agent=argv,
    )


FIX = """
assert request["handoff"]["schema"] == "repairlab.handoff/1"
assert request["handoff"]["tests"] == ["test_calc.py"]
assert "assert" in request["test_output"]
print(json.dumps({"files": {"calc.py": files["calc.py"].replace("a - b", "a + b")}}))
"""


def test_agent_proposal_is_judged_and_repairs_the_bundle(tmp_path: Path, runner: Runner) -> None:
    argv = agent(tmp_path, FIX)
    settings = RepairSettings(strategies=("noop", "external_agent"), external_agent=argv)
    outcome = Engine(settings, runner).repair(BUNDLE)
    assert outcome.repaired, outcome.reason
    assert outcome.strategy == "external_agent"
    assert outcome.files == {"calc.py": "def add(a, b):\n    return a + b\n", "test_calc.py": TEST}
    assert outcome.details["changed_files"] == ["calc.py"]
    assert outcome.candidates == 1


def test_agent_may_return_the_whole_bundle_with_tests_unchanged(
    tmp_path: Path, runner: Runner
) -> None:
    argv = agent(tmp_path, """
        files["calc.py"] = files["calc.py"].replace("a - b", "b + a")
        print(json.dumps({"files": files, "note": "unknown fields are ignored"}))
    """)
    settings = RepairSettings(strategies=("external_agent",), external_agent=argv)
    outcome = Engine(settings, runner).repair(BUNDLE)
    assert outcome.strategy == "external_agent"


def test_agent_whose_proposal_fails_the_tests_repairs_nothing(
    tmp_path: Path, runner: Runner
) -> None:
    argv = agent(tmp_path, """
        print(json.dumps({"files": {"calc.py": "def add(a, b):\\n    return a * b\\n"}}))
    """)
    settings = RepairSettings(strategies=("external_agent",), external_agent=argv)
    outcome = Engine(settings, runner).repair(BUNDLE)
    assert not outcome.repaired
    assert outcome.candidates == 1


def test_no_agent_configured_means_nothing_runs(runner: Runner) -> None:
    settings = RepairSettings(strategies=("external_agent",), external_agent=())
    outcome = Engine(settings, runner).repair(BUNDLE)
    assert not outcome.repaired
    assert outcome.candidates == 0
    assert ExternalAgent().attempt(context(())) is None


HOSTILE = {
    "edits-test": ('files["test_calc.py"] = "def test_add():\\n    pass\\n"\n'
                   'print(json.dumps({"files": files}))', "edits test file"),
    "adds-test": ('print(json.dumps({"files": {"test_extra.py": "def test_x(): pass"}}))',
                  "adds test file"),
    "adds-conftest": ('print(json.dumps({"files": {"conftest.py": "# hooks"}}))',
                      "steers pytest"),
    "dotdot": ('print(json.dumps({"files": {"../calc.py": "x = 1"}}))', "not a clean"),
    "absolute": ('print(json.dumps({"files": {"/tmp/calc.py": "x = 1"}}))', "not a clean"),
    "garbage": ('print("I fixed it, trust me")', "reply is not"),
    "wrong-shape": ('print(json.dumps({"patch": "..."}))', "reply is not"),
    "wrong-type": ('print(json.dumps({"files": {"calc.py": 42}}))', "reply is not"),
    "no-change": ('print(json.dumps({"files": {"calc.py": files["calc.py"]}}))',
                  "changes nothing"),
    "exit-3": ("sys.exit(3)", "exited with status 3"),
    "flood": ('sys.stdout.write("x" * (9 * 1024 * 1024))', "printed more than"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_broken_agent_reply_is_rejected_before_any_test_run(
    tmp_path: Path, name: str
) -> None:
    body, reason = HOSTILE[name]
    ctx = context(agent(tmp_path, body + "\n"))
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="INFO")
    try:
        assert ExternalAgent().attempt(ctx) is None
    finally:
        logger.remove(sink)
    assert ctx.budget.used == 0
    assert any("external agent rejected" in m and reason in m for m in messages), messages


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_hanging_agent_is_killed_with_its_children_within_the_budget(tmp_path: Path) -> None:
    pids = tmp_path / "pids.json"
    argv = agent(tmp_path, f"""
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open({str(pids)!r}, "w") as out:
            json.dump([os.getpid(), child.pid], out)
        time.sleep(60)
    """)
    ctx = context(argv, seconds=4.0)  # the agent gets what the judging run does not need
    started = time.monotonic()
    assert ExternalAgent().attempt(ctx) is None
    assert time.monotonic() - started < 4.0
    deadline = time.monotonic() + 5
    agent_pid, child_pid = json.loads(pids.read_text())
    while not (_gone(agent_pid) and _gone(child_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(agent_pid) and _gone(child_pid)


def test_agent_runs_in_a_scrubbed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPAIRLAB_SECRET", "hunter2")
    seen = tmp_path / "env.json"
    argv = agent(tmp_path, f"""
        with open({str(seen)!r}, "w") as out:
            json.dump({{"env": dict(os.environ), "cwd": os.getcwd()}}, out)
        print("{{}}")
    """)
    assert ExternalAgent().attempt(context(argv)) is None
    recorded = json.loads(seen.read_text())
    assert "REPAIRLAB_SECRET" not in recorded["env"]
    assert recorded["env"]["HOME"] == recorded["cwd"] != os.getcwd()


@pytest.mark.parametrize(
    ("path", "ok"),
    [("calc.py", True), ("pkg/mod.py", True), ("../x.py", False), ("a/../b.py", False),
     ("/abs.py", False), ("a\\b.py", False), ("a//b.py", False), ("./a.py", False),
     ("a\0.py", False), ("", False), ("a/", False)],
)
def test_clean_path_follows_the_handoff_rules(path: str, ok: bool) -> None:
    assert clean_path(path) is ok


def test_check_reply_returns_only_what_changed() -> None:
    reply = json.dumps({"files": {"calc.py": "x = 1\n", "test_calc.py": TEST,
                                  "helpers/util.py": "y = 2\n"}}).encode()
    assert check_reply(reply, BUNDLE) == {"calc.py": "x = 1\n", "helpers/util.py": "y = 2\n"}
    with pytest.raises(ReplyRejected, match="edits test file"):
        check_reply(json.dumps({"files": {"test_calc.py": ""}}).encode(), BUNDLE)


def test_agent_is_not_started_when_the_budget_is_nearly_spent(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    argv = agent(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    assert ExternalAgent().attempt(context(argv, seconds=0.6)) is None
    assert not marker.exists()


def test_agent_that_cannot_be_started_is_rejected(tmp_path: Path) -> None:
    ctx = context((str(tmp_path / "no-such-agent"),))
    assert ExternalAgent().attempt(ctx) is None
    assert ctx.budget.used == 0
