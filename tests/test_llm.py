"""The `llm` strategy against a stand-in for a model on loopback.

`StandIn` is a stand-in for a model: a real HTTP server (http.server on 127.0.0.1, a
free port, in a thread of the test process) that speaks the OpenAI chat-completions
API and answers each request from a script of replies. No real model is involved;
what is tested is everything around it: the client, the budgets, the circuit, the
cache, the parsing and the judging of what a model says.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from loguru import logger

from repairlab.config import load_config
from repairlab.errors import ConfigError
from repairlab.messages.records import MetricLine
from repairlab.repair import Bundle, Engine, RepairSettings, Runner, TestReport
from repairlab.repair.llm_client import retry_after_seconds
from repairlab.repair.llm_prompt import build_prompt
from repairlab.repair.llm_reply import ReplyRejected, apply_diff, parse_reply
from repairlab.repair.strategies.base import Budget, Context
from repairlab.repair.strategies.llm import LlmStrategy, with_llm
from repairlab.state.layout import Layout
from repairlab.state.llm_circuit import Circuit
from repairlab.state.llm_ledger import BudgetSpent, FsBudgetLedger
from repairlab.state.stats import aggregate
from repairlab.state.status import take_status

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "REPAIRLAB_TEST_LLM_KEY"

MODULE = "def add(a, b):\n    return a - b\n\n\ndef double(x):\n    return x * 2\n"
FIXED = MODULE.replace("a - b", "a + b")
TEST = ("from calc import add, double\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_double():\n    assert double(4) == 8\n")
BUNDLE = Bundle({"calc.py": MODULE, "test_calc.py": TEST}, ("test_calc.py",), "calc.py", "calc")

MEDIAN = "def median(xs):\n    return sum(xs) / len(xs)\n"
MEDIAN_FIXED = ("def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    mid = n // 2\n"
                "    if n % 2:\n        return s[mid]\n    return (s[mid - 1] + s[mid]) / 2\n")
MEDIAN_TEST = ("from median import median\n\n\ndef test_odd():\n    assert median([5, 1, 2]) == 2\n"
               "\n\ndef test_even():\n    assert median([4, 1, 3, 2]) == 2.5\n")


def fenced(code: str, path: str = "calc.py") -> str:
    return f"Here is the fix.\n\n```python\n# file: {path}\n{code}```\n"


# -- the stand-in ---------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: `texts` as choices (status 200), or `body` as it is
    with `status` and `headers`; `delay` seconds before answering."""

    texts: list[str] = field(default_factory=list)
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    tokens_in: int = 100
    tokens_out: int = 20


@dataclass
class Seen:
    at: float
    body: dict[str, Any]
    headers: dict[str, str]


class StandIn:
    """A stand-in for a model: an OpenAI-compatible chat-completions endpoint on
    127.0.0.1 answering from `script` in order (the last reply repeats). Records
    every request (time, JSON body, headers)."""

    def __init__(self, script: Sequence[Reply]) -> None:
        self.script = list(script)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stand_in.lock:
                    stand_in.seen.append(Seen(time.monotonic(), body, dict(self.headers)))
                    reply = (stand_in.script.pop(0) if len(stand_in.script) > 1
                             else stand_in.script[0])
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 200 and not reply.body:
                    n = int(body.get("n", 1))
                    payload = json.dumps({
                        "id": "stand-in", "object": "chat.completion", "model": body.get("model"),
                        "choices": [{"index": i, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": t}}
                                    for i, t in enumerate(reply.texts[:n])],
                        "usage": {"prompt_tokens": reply.tokens_in,
                                  "completion_tokens": reply.tokens_out,
                                  "total_tokens": reply.tokens_in + reply.tokens_out},
                    }).encode()
                else:
                    payload = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        with self.lock:
            return len(self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[Any]:
    """`stand_in(script)` starts a StandIn; all are shut down after the test."""
    started: list[StandIn] = []

    def start(*script: Reply) -> StandIn:
        server = StandIn(script)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Every log message (DEBUG and up) with its bound context, as text."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m} {m.record['extra']}"), level="DEBUG")
    yield lines
    logger.remove(sink)


def llm_table(base_url: str, **changes: Any) -> Any:
    values: dict[str, Any] = {"enabled": True, "base_url": base_url, "model": "stand-in-1",
                              "api_key_env": "", "samples": 1, "timeout_seconds": 5,
                              "max_retries": 2}
    values.update(changes)
    return load_config(None, overrides={"llm": values}).llm


def settings(root: Path, llm: Any, strategies: tuple[str, ...] = ("noop", "llm"),
             bundle_timeout: float = 60.0) -> RepairSettings:
    return RepairSettings(strategies=strategies, test_timeout_seconds=10.0,
                          bundle_timeout_seconds=bundle_timeout, llm=llm,
                          state_root=str(root), instance="test")


class MustNotRun:
    """A runner for contexts whose candidates must never be judged."""

    def run(self, files: Mapping[str, str], tests: Sequence[str], *, timeout: float,
            coverage: bool = False) -> TestReport:
        raise AssertionError("a refused candidate was judged")

    def close(self) -> None:
        """Nothing to release."""


FIRST = TestReport(passed=1, failed=1, exit_code=1, output="E   assert -1 == 5",
                   outcomes={"test_calc.py::test_add": False,
                             "test_calc.py::test_double": True})


def context(root: Path, llm: Any, runner: Any = None, seconds: float = 30.0) -> Context:
    return Context(bundle=BUNDLE, first_run=FIRST, runner=runner or MustNotRun(),
                   budget=Budget(time.monotonic() + seconds, 100), test_timeout=5.0,
                   expected_tests=2, settings=settings(root, llm))


def files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path


# -- a good fix, and what a model may say ---------------------------------------------------


def test_a_fenced_fix_from_the_model_repairs_the_bundle_with_its_provenance(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    server = stand_in(Reply(texts=[fenced(FIXED)], tokens_in=321, tokens_out=45))
    llm = llm_table(server.base_url)
    outcome = Engine(settings(tmp_path, llm), runner).repair(BUNDLE)
    assert outcome.repaired, outcome.reason
    assert outcome.strategy == "llm"
    assert outcome.files is not None and outcome.files["calc.py"] == FIXED
    d = outcome.details
    assert d["model"] == "stand-in-1"
    assert d["endpoint"] == f"127.0.0.1:{server.server.server_address[1]}"
    assert len(d["prompt_sha256"]) == 64
    assert (d["tokens_in"], d["tokens_out"], d["sample"], d["cached"]) == (321, 45, 0, False)
    assert outcome.llm_tokens == 366
    body = server.seen[0].body
    assert body["model"] == "stand-in-1" and body["n"] == 1
    assert "Authorization" not in server.seen[0].headers  # api_key_env = "": none sent


def test_a_unified_diff_reply_is_applied_and_judged(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    diff = ("```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
            "-    return a - b\n+    return a + b\n```\n")
    server = stand_in(Reply(texts=[diff]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url)), runner).repair(BUNDLE)
    assert outcome.repaired and outcome.strategy == "llm", outcome.reason
    assert outcome.files is not None and outcome.files["calc.py"] == FIXED


def test_a_bare_whole_file_reply_is_taken_as_the_entrypoint(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    server = stand_in(Reply(texts=[FIXED]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url)), runner).repair(BUNDLE)
    assert outcome.repaired and outcome.strategy == "llm", outcome.reason
    assert outcome.files is not None and outcome.files["calc.py"] == FIXED


def test_a_reply_that_edits_a_test_file_is_refused_and_never_judged(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    cheat = TEST.replace("== 5", "== -1")
    server = stand_in(Reply(texts=[fenced(cheat, "test_calc.py")]))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url)))
    assert fix is None
    assert server.requests == 1
    assert any("refused: reply edits test file test_calc.py" in line for line in captured)


def test_a_diff_that_touches_a_test_file_is_refused(tmp_path: Path) -> None:
    diff = ("--- a/test_calc.py\n+++ b/test_calc.py\n@@ -5 +5 @@\n"
            "-    assert add(2, 3) == 5\n+    assert add(2, 3) == -1\n")
    with pytest.raises(ReplyRejected, match="edits test file"):
        parse_reply(diff, BUNDLE)


def test_garbage_from_the_model_is_refused_without_a_test_run(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(texts=["I am sorry, I cannot help with that.",
                                   "```python\ndef add(a, b:\n```"]))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url, samples=2)))
    assert fix is None
    assert any("sample 0 refused: reply holds no code block" in line for line in captured)
    assert any("sample 1 refused" in line and "does not parse" in line for line in captured)


def test_a_reply_that_is_not_a_chat_completion_counts_as_a_failure(
        tmp_path: Path, stand_in: Any) -> None:
    server = stand_in(Reply(status=200, body="<html>a proxy's login page</html>"))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url)))
    assert fix is None and server.requests == 1
    assert Circuit(tmp_path, failures_to_open=5, open_seconds=60).state().failures == 1


def test_the_smallest_passing_diff_wins_among_the_samples(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    rewrite = ("def add(a, b):\n    total = a\n    total += b\n    return total\n\n\n"
               "def double(x):\n    return x + x\n")
    server = stand_in(Reply(texts=[fenced(rewrite), "not code", fenced(FIXED)]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url, samples=3)),
                     runner).repair(BUNDLE)
    assert outcome.repaired, outcome.reason
    assert outcome.details["sample"] == 2 and outcome.details["passing_samples"] == 2
    assert outcome.files is not None and outcome.files["calc.py"] == FIXED
    assert outcome.details["refused"].keys() == {"1"}


def test_an_endpoint_returning_one_choice_is_asked_again_for_the_rest(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    """llama.cpp's server and Ollama ignore `n`: one choice per request."""
    server = stand_in(Reply(texts=["nothing useful"]), Reply(texts=[fenced(FIXED)]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url, samples=2)),
                     runner).repair(BUNDLE)
    assert server.requests == 2
    assert [s.body["n"] for s in server.seen] == [2, 1]
    assert outcome.repaired and outcome.details["sample"] == 1, outcome.reason


class SpendsItAll:
    """A search strategy that spends every candidate run it is given, judging none."""

    name = "spends_it_all"
    seconds_left: ClassVar[list[float]] = []

    def attempt(self, ctx: Context) -> None:
        SpendsItAll.seconds_left.append(ctx.budget.seconds_left())
        while True:
            ctx.budget.charge()


def test_a_search_that_spends_its_budget_leaves_the_models_share(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    from repairlab.repair.strategies import REGISTRY

    server = stand_in(Reply(texts=[fenced(FIXED)]))
    llm = llm_table(server.base_url, reserve_seconds=20)
    registry = {**REGISTRY, "spends_it_all": SpendsItAll}
    cfg = RepairSettings(strategies=("noop", "spends_it_all", "heuristic_microfix", "llm"),
                         bundle_timeout_seconds=60, max_candidates=10, llm=llm,
                         state_root=str(tmp_path), test_timeout_seconds=10)
    SpendsItAll.seconds_left.clear()
    outcome = Engine(cfg, runner, strategies=registry).repair(BUNDLE)
    assert outcome.repaired and outcome.strategy == "llm", outcome.reason
    assert SpendsItAll.seconds_left[0] <= 40.0  # 60 s less the 20 s held for the model
    assert outcome.attempts == 2  # heuristic_microfix was skipped, not tried
    assert outcome.candidates == 10


def test_an_endpoint_refusing_n_above_one_is_asked_one_choice_at_a_time(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    server = stand_in(Reply(status=400, body='{"error": "\\"n\\" must be 1"}'),
                      Reply(texts=["nothing useful"]), Reply(texts=[fenced(FIXED)]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url, samples=2)),
                     runner).repair(BUNDLE)
    assert [s.body["n"] for s in server.seen] == [2, 1, 1]
    assert outcome.repaired and outcome.details["sample"] == 1, outcome.reason
    assert Circuit(tmp_path, failures_to_open=5, open_seconds=60).state().failures == 0


# -- the client: timeouts, retries, the circuit --------------------------------------------


def test_a_model_that_does_not_answer_in_time_is_given_up_on_within_the_bound(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(texts=[fenced(FIXED)], delay=3.0))
    llm = llm_table(server.base_url, timeout_seconds=0.5, max_retries=1)
    started = time.monotonic()
    fix = LlmStrategy().attempt(context(tmp_path, llm))
    took = time.monotonic() - started
    assert fix is None
    assert server.requests == 2  # the first try and one retry
    assert took < 3.0, took
    assert any("did not answer within 0.5s" in line for line in captured)


def test_429_is_retried_after_the_servers_retry_after(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    server = stand_in(Reply(status=429, body='{"error": "slow down"}',
                            headers={"Retry-After": "1"}),
                      Reply(texts=[fenced(FIXED)]))
    outcome = Engine(settings(tmp_path, llm_table(server.base_url)), runner).repair(BUNDLE)
    assert outcome.repaired and outcome.strategy == "llm", outcome.reason
    assert server.requests == 2
    assert server.seen[1].at - server.seen[0].at >= 1.0
    # A 429 is the server alive and asking for patience: not a failure of the circuit.
    assert Circuit(tmp_path, failures_to_open=5, open_seconds=60).state().failures == 0


def test_retry_after_may_be_an_http_date() -> None:
    now = 1_700_000_000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 7))
    assert retry_after_seconds(date, now=now) == pytest.approx(7.0, abs=1.0)
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_4xx_other_than_429_is_not_retried(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(status=400, body='{"error": {"message": "bad model"}}'))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url, max_retries=3)))
    assert fix is None
    assert server.requests == 1
    assert any("refused the request (HTTP 400)" in line for line in captured)


def test_the_key_is_sent_but_never_logged_or_stored_even_when_an_endpoint_echoes_it(
        tmp_path: Path, stand_in: Any, monkeypatch: pytest.MonkeyPatch,
        captured: list[str]) -> None:
    key = "sk-test-" + secrets.token_hex(20)
    monkeypatch.setenv(KEY_ENV, key)
    server = stand_in(
        Reply(status=500, body=f"upstream said: bad key {key}"),
        Reply(status=401, body=json.dumps({"error": f"Incorrect API key provided: {key}"})))
    llm = llm_table(server.base_url, api_key_env=KEY_ENV, circuit_failures=2)
    assert LlmStrategy().attempt(context(tmp_path, llm)) is None
    assert [s.headers.get("Authorization") for s in server.seen] == [f"Bearer {key}"] * 2
    assert any("HTTP 401" in line and "***" in line for line in captured)
    assert any("circuit open after 2" in line for line in captured)
    assert not any(key in line for line in captured)
    assert not any(key[:12] in line for line in captured)  # no prefix survives a cut
    stored = list(files_under(tmp_path))
    assert stored  # the ledger and the circuit were written
    for path in stored:
        assert key.encode() not in path.read_bytes(), path


def test_500s_open_the_circuit_which_stops_asking_and_says_so_once(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(status=500, body="boom"))
    llm = llm_table(server.base_url, max_retries=2, circuit_failures=3,
                    circuit_open_seconds=600)
    assert LlmStrategy().attempt(context(tmp_path, llm)) is None
    assert server.requests == 3
    for _ in range(3):  # later attempts: nothing is sent while the circuit is open
        assert LlmStrategy().attempt(context(tmp_path, llm)) is None
    assert server.requests == 3
    opened = [line for line in captured if "circuit open after" in line]
    assert len(opened) == 1, opened
    assert "HTTP 500" in opened[0]
    config = load_config(None, overrides={"paths": {"root": str(tmp_path)},
                                          "llm": msgspec_builtins(llm)})
    report = take_status(Layout.from_config(config), config)
    assert report.llm is not None and report.llm.circuit_open
    assert report.llm.circuit.startswith("open until")
    assert report.llm.requests_this_hour == 3


def msgspec_builtins(llm: Any) -> dict[str, Any]:
    import msgspec

    return dict(msgspec.to_builtins(llm))


def test_a_good_reply_closes_the_circuit_after_its_period(
        tmp_path: Path, stand_in: Any) -> None:
    circuit = Circuit(tmp_path, failures_to_open=1, open_seconds=0.2)
    assert circuit.failure("boom")
    assert not circuit.allows()
    time.sleep(0.3)
    assert circuit.allows()  # half-open: one request may go
    server = stand_in(Reply(texts=["no code here"]))
    LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url, circuit_failures=1,
                                                      circuit_open_seconds=0.2)))
    assert server.requests == 1
    assert circuit.state().failures == 0 and circuit.state().open_until == 0


def test_without_the_key_in_the_environment_nothing_is_sent(
        tmp_path: Path, stand_in: Any, monkeypatch: pytest.MonkeyPatch,
        captured: list[str]) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    server = stand_in(Reply(texts=[fenced(FIXED)]))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url,
                                                            api_key_env=KEY_ENV)))
    assert fix is None and server.requests == 0
    assert any(f"{KEY_ENV} that [llm] api_key_env names is not set" in line for line in captured)


# -- budgets and the cache ------------------------------------------------------------------


def test_requests_per_hour_hold_across_two_engines_sharing_a_root(
        tmp_path: Path, runner: Runner, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(texts=[fenced(FIXED)]))
    llm = llm_table(server.base_url, max_requests_per_hour=1)
    other = Bundle({"calc.py": MODULE + "\n# another\n", "test_calc.py": TEST},
                   ("test_calc.py",), "calc.py", "calc")
    outcomes: list[Any] = []

    def repair(bundle: Bundle) -> None:
        outcomes.append(Engine(settings(tmp_path, llm), runner).repair(bundle))

    threads = [threading.Thread(target=repair, args=(b,)) for b in (BUNDLE, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert server.requests == 1
    assert sorted(o.repaired for o in outcomes) == [False, True]
    assert any("llm budget spent: 1 of 1 requests this hour" in line for line in captured)


def test_tokens_per_day_hold_before_the_request_is_sent(
        tmp_path: Path, stand_in: Any, captured: list[str]) -> None:
    server = stand_in(Reply(texts=[fenced(FIXED)]))
    fix = LlmStrategy().attempt(context(tmp_path, llm_table(server.base_url,
                                                            max_tokens_per_day=500)))
    assert fix is None and server.requests == 0  # the prompt alone may cost more
    assert any("tokens today" in line and "llm budget spent" in line for line in captured)


def test_the_ledger_counts_settled_tokens_and_opens_a_new_hour(tmp_path: Path) -> None:
    ledger = FsBudgetLedger(tmp_path, max_requests_per_hour=2, max_tokens_per_day=1000)
    t = 1_800_000_000.0 - (1_800_000_000 % 86400) + 3600  # 01:00 UTC on some day
    first = ledger.reserve(600, now=t)
    with pytest.raises(BudgetSpent, match="tokens today"):
        ledger.reserve(600, now=t)  # the first still counts its estimate
    ledger.settle(first, 90, 10)
    ledger.reserve(600, now=t + 1)
    with pytest.raises(BudgetSpent, match="2 of 2 requests this hour"):
        ledger.reserve(10, now=t + 2)
    ledger.reserve(10, now=t + 3600)  # the next hour
    usage = ledger.usage(now=t + 3600)
    assert (usage.requests_this_hour, usage.tokens_today) == (1, 100 + 600 + 10)


LEDGER_CHILD = """
import os, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from repairlab.state.llm_ledger import BudgetSpent, FsBudgetLedger
ledger = FsBudgetLedger(Path({root!r}), max_requests_per_hour={requests},
                        max_tokens_per_day={tokens})
while not os.path.exists({go!r}):
    time.sleep(0.001)
won = 0
for _ in range({tries}):
    try:
        ledger.reserve(100)
        won += 1
    except BudgetSpent:
        pass
print(won)
"""


@pytest.mark.parametrize(("requests", "tokens", "allowed"), [(7, 10**9, 7), (10**6, 1000, 10)])
def test_the_budgets_hold_across_processes_racing_for_them(
        tmp_path: Path, requests: int, tokens: int, allowed: int) -> None:
    go = tmp_path / "go"
    code = LEDGER_CHILD.format(repo=str(REPO), root=str(tmp_path / "state"), requests=requests,
                               tokens=tokens, go=str(go), tries=6)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    time.sleep(0.5)
    go.touch()
    won = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(won) == allowed, won  # 24 tries, never more admitted than the budget


def test_a_second_attempt_at_the_same_bundle_is_answered_by_the_cache(
        tmp_path: Path, runner: Runner, stand_in: Any) -> None:
    wrong = fenced(MODULE.replace("a - b", "a * b"))
    server = stand_in(Reply(texts=[wrong]), Reply(texts=[fenced(FIXED)]))
    llm = llm_table(server.base_url)
    first = Engine(settings(tmp_path, llm), runner).repair(BUNDLE)
    assert not first.repaired and first.llm_tokens == 120
    second = Engine(settings(tmp_path, llm), runner).repair(BUNDLE)
    assert not second.repaired and second.llm_tokens == 0
    assert server.requests == 1  # the retry paid nothing: same prompt, same reply


def test_cached_replies_are_pruned_with_the_ttl(tmp_path: Path) -> None:
    from repairlab.state.llm_cache import CachedReply, ResponseCache
    from repairlab.state.prune import prune

    cache = ResponseCache(tmp_path)
    cache.put("ab" * 32, CachedReply(texts=["x"], tokens_in=1, tokens_out=1))
    cache.put("cd" * 32, CachedReply(texts=["y"], tokens_in=1, tokens_out=1))
    old = cache.directory / "ab" / f"{'ab' * 32}.json"
    os.utime(old, (time.time() - 10_000, time.time() - 10_000))
    report = prune(Layout.at(tmp_path), ttl_seconds=5_000)
    assert [p for p, _ in report.removed] == [old]
    assert cache.get("ab" * 32) is None and cache.get("cd" * 32) is not None


# -- the prompt and the parsing -------------------------------------------------------------


def test_the_prompt_carries_what_a_reviewer_wants_and_is_deterministic() -> None:
    output = ("=================================== FAILURES ===\n"
              "/tmp/repairlab-scratch-x1/calc.py:2: AssertionError\nE   assert -1 == 5\n"
              "E   where <calc.Box object at 0x7f3a2b1c9d10> in /tmp/pytest-of-root/p0\n"
              "1 failed, 1 passed in 0.03s\n")
    first = TestReport(passed=1, failed=1, exit_code=1, output=output,
                       outcomes={"test_calc.py::test_add": False,
                                 "test_calc.py::test_double": True})
    again = TestReport(passed=1, failed=1, exit_code=1,
                       output=output.replace("x1", "y2").replace("0.03s", "0.41s")
                       .replace("7f3a2b1c9d10", "7f00aa11bb22").replace("p0", "p7"),
                       outcomes=dict(first.outcomes))
    prompt = build_prompt(BUNDLE, first, ["signature_adapter", "heuristic_microfix"])
    text = prompt.messages[1]["content"]
    assert "1 | def add(a, b):\n2 |     return a - b" in text
    assert "- test_calc.py::test_add" in text and "test_double" not in text.split(
        "## Failing tests")[1].split("##")[0]
    assert "E   assert -1 == 5" in text and "/tmp/" not in text and "0.03s" not in text
    assert "calc.py:2 (score" in text
    assert "signature_adapter, heuristic_microfix" in text
    assert "test_calc.py (a test file: read-only, never edit it)" in text
    assert build_prompt(BUNDLE, again, ["signature_adapter", "heuristic_microfix"]).sha256 \
        == prompt.sha256


def test_a_function_only_block_is_spliced_into_the_file() -> None:
    reply = ("The bug is in add:\n```python\nimport operator\n\n\ndef add(a, b):\n"
             "    return operator.add(a, b)\n```\n")
    changed = parse_reply(reply, BUNDLE)
    assert changed["calc.py"] == ("import operator\ndef add(a, b):\n"
                                  "    return operator.add(a, b)\n\n\n"
                                  "def double(x):\n    return x * 2\n")


def test_line_numbers_copied_from_the_prompt_are_removed() -> None:
    numbered = "".join(f"{i:>2} | {line}\n" for i, line in enumerate(FIXED.splitlines(), 1))
    assert parse_reply(f"```python\n{numbered}```", BUNDLE) == {"calc.py": FIXED}


def test_a_block_indented_as_a_whole_is_dedented() -> None:
    indented = "".join(f"    {line}\n" if line else "\n" for line in FIXED.splitlines())
    assert parse_reply(f"```python\n{indented}```", BUNDLE) == {"calc.py": FIXED}


def test_a_diff_with_wrong_line_numbers_is_placed_by_its_context() -> None:
    diff = ("--- a/calc.py\n+++ b/calc.py\n@@ -40,2 +40,2 @@\n def double(x):\n"
            "-    return x * 2\n+    return x + x\n")
    assert apply_diff(diff, BUNDLE.files)["calc.py"] == MODULE.replace("x * 2", "x + x")
    with pytest.raises(ReplyRejected, match="matches nowhere"):
        apply_diff(diff.replace("x * 2", "x * 3"), BUNDLE.files)


# -- config, stats, with_llm ---------------------------------------------------------------


def test_llm_joins_the_strategies_after_heuristic_microfix_only_when_enabled() -> None:
    order = ("noop", "signature_adapter", "pattern_transplant", "heuristic_microfix",
             "external_agent")
    assert with_llm(order, True) == ("noop", "signature_adapter", "pattern_transplant",
                                     "heuristic_microfix", "llm", "external_agent")
    assert with_llm(order, False) == order
    assert with_llm(("noop", "llm"), False) == ("noop",)
    assert with_llm(("llm", "noop"), True) == ("llm", "noop")


def test_the_daemon_runs_llm_only_when_enabled(stand_in: Any, tmp_path: Path) -> None:
    from repairlab.actors.repairer import engine_settings

    server = stand_in(Reply(texts=[fenced(FIXED)]))
    listed = {"strategies": ["noop", "heuristic_microfix", "llm"]}
    off = load_config(None, overrides={"repair": listed,
                                       "llm": {"base_url": server.base_url, "model": "m"}})
    assert engine_settings(off).strategies == ("noop", "heuristic_microfix")
    assert engine_settings(off).llm is None
    on = load_config(None, overrides={"llm": {"enabled": True, "base_url": server.base_url,
                                              "model": "m"}})
    assert engine_settings(on).strategies[3:5] == ("heuristic_microfix", "llm")
    disabled = llm_table(server.base_url, enabled=False)
    assert LlmStrategy().attempt(context(tmp_path, disabled)) is None
    assert server.requests == 0


@pytest.mark.parametrize(("table", "message"), [
    ({"sample": 2}, "config: unknown key [llm] sample = "),
    ({"samples": 0}, "config: bad value [llm] samples = 0: an integer from 1 to 16"),
    ({"temperature": 3}, "config: bad value [llm] temperature = 3"),
    ({"enabled": True, "model": "m"}, "config: bad value [llm] base_url = '': must be set"),
    ({"base_url": "ftp://x"}, "config: bad value [llm] base_url = <not shown>"),
])
def test_a_bad_llm_key_stops_start_up_with_one_line_naming_it(
        table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides={"llm": table})
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_key_pasted_into_the_config_is_never_echoed() -> None:
    key = "sk-" + secrets.token_hex(16)
    for table in ({"api_key_env": key}, {"api_key": key},
                  {"base_url": f"https://user:{key}@api.example/v1"}):
        with pytest.raises(ConfigError) as info:
            load_config(None, overrides={"llm": table})
        assert key not in str(info.value)


def test_stats_by_strategy_show_the_models_tokens_per_fix() -> None:
    def line(event: str, strategy: str | None, tokens: int | None) -> MetricLine:
        return MetricLine(ts="2026-11-30T00:00:00.000000Z", event=event, instance="i",
                          meta_repair=event == "repaired", repair_strategy=strategy,
                          llm_tokens=tokens, duration_s=1.0)

    lines = [line("repaired", "llm", 400), line("repaired", "llm", 200),
             line("repair_failed", None, 300), line("repaired", "heuristic_microfix", None)]
    rows, total = aggregate(lines, "strategy")
    by = {r.group: r for r in rows}
    assert by["llm"].llm_tokens_per_fix == 300.0
    assert by["heuristic_microfix"].llm_tokens_per_fix is None
    assert total.llm_tokens == 900 and total.llm_tokens_per_fix == 450.0


def test_the_stats_command_prints_the_models_tokens_per_fix(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    lines = [
        {"ts": "2026-11-30T00:00:00.000000Z", "event": "repaired", "instance": "i",
         "meta_repair": True, "repair_strategy": "llm", "llm_tokens": 1200, "duration_s": 3.0},
        {"ts": "2026-11-30T00:00:01.000000Z", "event": "repair_failed", "instance": "i",
         "meta_repair": False, "llm_tokens": 800},
    ]
    (root / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nroot = "{root}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), "stats", "--by", "strategy",
                           "--config", str(config)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "llm tokens/fix" in proc.stdout
    llm_row = next(line for line in proc.stdout.splitlines() if line.startswith("llm "))
    total_row = next(line for line in proc.stdout.splitlines() if line.startswith("(all)"))
    assert llm_row.rstrip().endswith("1200") and total_row.rstrip().endswith("2000")


# -- end to end: the real daemon, the key never written -------------------------------------


def test_the_daemon_repairs_with_the_model_and_never_writes_the_key(
        tmp_path: Path, stand_in: Any) -> None:
    key = "sk-test-" + secrets.token_hex(20)
    server = stand_in(
        # The first reply fails and quotes the key, as some APIs do in their errors.
        Reply(status=503, body=json.dumps({"error": f"overloaded; key {key} is fine"})),
        Reply(texts=[fenced(MEDIAN_FIXED, "median.py")], tokens_in=700, tokens_out=90))
    config = tmp_path / "repairlab.toml"
    config.write_text(
        '[paths]\nroot = "state"\n[instance]\nid = "llm-e2e"\n'
        # The search gets 11 candidate runs of 12 and spends them; the last is the model's.
        '[repair]\nstrategies = ["noop", "heuristic_microfix"]\nmax_candidates = 12\n'
        'bundle_timeout_seconds = 90\ntest_timeout_seconds = 10\n'
        f'[llm]\nenabled = true\nbase_url = "{server.base_url}"\nmodel = "stand-in-1"\n'
        f'api_key_env = "{KEY_ENV}"\nsamples = 1\ntimeout_seconds = 10\n'
        '[log]\nlevel = "DEBUG"\n')
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "median.py").write_text(MEDIAN)
    (tool / "test_median.py").write_text(MEDIAN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    env[KEY_ENV] = key
    submitted = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "submit", str(tool), "--tool", "median",
         "--entrypoint", "median.py", "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert submitted.returncode == 0, submitted.stderr
    drained = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "drain", "--timeout", "100",
         "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=110, env=env)
    assert drained.returncode == 0, drained.stderr[-3000:]
    assert server.seen[-1].headers.get("Authorization") == f"Bearer {key}"
    root = tmp_path / "state"
    challengers = sorted((root / "challengers").glob("challenger_*.json"))
    assert len(challengers) == 1, drained.stderr[-3000:]
    doc = json.loads(challengers[0].read_text())
    assert doc["repair_strategy"] == "llm"
    assert doc["files"]["median.py"] == MEDIAN_FIXED
    details = doc["repair_details"]
    assert details["model"] == "stand-in-1"
    assert details["endpoint"] == f"127.0.0.1:{server.server.server_address[1]}"
    assert len(details["prompt_sha256"]) == 64
    assert (details["tokens_in"], details["tokens_out"], details["sample"]) == (700, 90, 0)
    repaired = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines()
                if '"repaired"' in x]
    assert repaired and repaired[0]["llm_tokens"] == 790
    assert repaired[0]["repair_attempts"] == 2 and repaired[0]["candidates"] == 12
    assert "retrying" in drained.stderr and "***" in drained.stderr
    # The key: sent in the header, and nowhere else.
    assert key not in drained.stdout + drained.stderr
    for path in files_under(root):
        assert key.encode() not in path.read_bytes(), path
    status = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "status", "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert status.returncode == 0, status.stderr
    assert "llm" in status.stdout and "circuit closed" in status.stdout
    assert key not in status.stdout
    checked = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "check-config", "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert checked.returncode == 0 and KEY_ENV in checked.stdout
    assert key not in checked.stdout + checked.stderr


# -- bench/llm_smoke.py ----------------------------------------------------------------------


def _smoke(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, str(REPO / "bench" / "llm_smoke.py"), *args],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=100)


def test_the_smoke_bench_skips_with_a_message_without_an_endpoint(tmp_path: Path) -> None:
    proc = _smoke(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("llm smoke skipped: set REPAIRLAB_LLM_BASE_URL")


def test_the_smoke_bench_reports_fixed_tried_tokens_seconds(
        tmp_path: Path, stand_in: Any) -> None:
    fix = ("```python\n# file: median.py\ndef median(values):\n    s = sorted(values)\n"
           "    n = len(s)\n    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n"
           "```\n")
    server = stand_in(Reply(texts=[fix], tokens_in=500, tokens_out=60))
    proc = _smoke(tmp_path, "--case", "hopeless_median_is_mean",
                  REPAIRLAB_LLM_BASE_URL=server.base_url, REPAIRLAB_LLM_MODEL="stand-in-1",
                  REPAIRLAB_LLM_SAMPLES="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "hopeless_median_is_mean" in proc.stdout
    assert "FIXED by sample 0 of 1, hidden tests pass" in proc.stdout  # the held-out tests
    assert "fixed 1 / tried 1, tokens 560, seconds " in proc.stdout
