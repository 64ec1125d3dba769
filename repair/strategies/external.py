"""`external_agent`: a configured program proposes the repair (SPEC §3).

The program (`[repair] external_agent`, an argv; empty means off) gets
``{"handoff": {...}, "test_output": "..."}`` as JSON on stdin and prints
``{"files": {...}}`` on stdout. It runs as a child process without a shell, in its
own empty scratch directory and process group, with a scrubbed environment (PATH,
HOME set to the scratch directory, LANG), a wall-clock limit (the bundle's time left,
less what the judging run needs), and bounded output. Its process group is killed
when it finishes or runs out of time.

Its reply is checked like a handoff before anything runs: a JSON object whose
`files` maps clean relative paths (no ``..``, ``.``, empty or absolute part, no
backslash, no NUL) to text, within size limits. It may return the whole bundle or
only the files it changed; a test file it returns must be byte-identical, and it may
not add a test file nor add or change a file that steers pytest (``conftest.py``,
``pytest.ini``, ``tox.ini``, ``setup.cfg``, ``pyproject.toml``, ``sitecustomize.py``,
``usercustomize.py``, ``*.pth``). A reply that breaks a rule is rejected with a
logged reason; the proposal is then judged like any other candidate.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
from loguru import logger

from repairlab.errors import RepairlabError
from repairlab.repair.bundle import Bundle, default_tests
from repairlab.repair.strategies.base import Context, Fix

MAX_REPLY_BYTES = 8 * 1024 * 1024
MAX_STDERR_BYTES = 16 * 1024
MAX_FILES = 1000
MIN_AGENT_SECONDS = 0.5
_STEERING = {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml",
             "sitecustomize.py", "usercustomize.py"}


class AgentReply(msgspec.Struct, kw_only=True):
    """The agent's stdout. Unknown fields are ignored."""

    files: dict[str, str]


_REPLY = msgspec.json.Decoder(AgentReply)


class ReplyRejected(RepairlabError):
    """The agent failed or its reply breaks the contract; the message says how.
    It never leaves the strategy, which turns it into None and a log line."""


def clean_path(path: str) -> bool:
    """The SPEC's rule for paths in a bundle: relative, ``/``-separated, no ``..``,
    ``.``, empty or absolute part, no backslash, no NUL."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _steers_pytest(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return base in _STEERING or base.endswith(".pth")


def check_reply(data: bytes, bundle: Bundle) -> dict[str, str]:
    """The files the reply changes or adds, after checking every rule of the contract.

    Raises ReplyRejected naming the broken rule (also for a reply that changes nothing).
    """
    if len(data) > MAX_REPLY_BYTES:
        raise ReplyRejected(f"reply larger than {MAX_REPLY_BYTES} bytes")
    try:
        reply = _REPLY.decode(data)
    except msgspec.DecodeError as exc:
        raise ReplyRejected(f"reply is not {{\"files\": {{path: text}}}}: {exc}") from exc
    if len(reply.files) > MAX_FILES:
        raise ReplyRejected(f"reply holds more than {MAX_FILES} files")
    tests = set(bundle.tests)
    changed: dict[str, str] = {}
    for path, text in reply.files.items():
        if not clean_path(path):
            raise ReplyRejected(f"path {path[:200]!r} is not a clean relative path")
        old = bundle.files.get(path)
        if path in tests:
            if text != old:
                raise ReplyRejected(f"reply edits test file {path}")
            continue
        if old is None and default_tests({path: text}):
            raise ReplyRejected(f"reply adds test file {path}")
        if text != old and _steers_pytest(path):
            raise ReplyRejected(f"reply adds or edits {path}, which steers pytest")
        if text != old:
            changed[path] = text
    if not changed:
        raise ReplyRejected("reply changes nothing")
    return changed


def _agent_env(home: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def run_agent(argv: Sequence[str], payload: bytes, timeout: float) -> tuple[bytes, str]:
    """Run the agent once; return its stdout and a tail of its stderr.

    Raises ReplyRejected when it cannot start, exceeds the time limit, prints more
    than `MAX_REPLY_BYTES`, or exits non-zero. Its whole process group is killed
    before this returns, whatever happened.
    """
    with tempfile.TemporaryDirectory(prefix="repairlab-agent-") as scratch:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=scratch, env=_agent_env(scratch), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ReplyRejected(f"agent cannot start: {exc}") from exc
        writer = threading.Thread(target=_feed, args=(proc, payload), daemon=True)
        writer.start()
        try:
            return _collect(proc, time.monotonic() + timeout, timeout)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            # The kill breaks the pipe, so a writer blocked on a full pipe returns.
            writer.join(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            proc.wait()


def _feed(proc: subprocess.Popen[bytes], payload: bytes) -> None:
    # An agent that exits or closes stdin early is not an error here: its reply says.
    assert proc.stdin is not None
    with contextlib.suppress(OSError, ValueError):
        proc.stdin.write(payload)
        proc.stdin.close()


def _collect(
    proc: subprocess.Popen[bytes], deadline: float, timeout: float
) -> tuple[bytes, str]:
    assert proc.stdout is not None and proc.stderr is not None
    out = bytearray()
    err = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplyRejected(f"agent ran past its limit of {timeout:.1f}s")
            for key, _ in sel.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf: bytearray = key.data
                buf.extend(chunk)
                if buf is out and len(out) > MAX_REPLY_BYTES:
                    raise ReplyRejected(f"agent printed more than {MAX_REPLY_BYTES} bytes")
                if buf is err and len(err) > MAX_STDERR_BYTES:
                    del err[: len(err) - MAX_STDERR_BYTES]
    try:
        code = proc.wait(timeout=max(0.05, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        raise ReplyRejected(f"agent ran past its limit of {timeout:.1f}s") from exc
    tail = err.decode("utf-8", "replace")[-2000:]
    if code != 0:
        raise ReplyRejected(f"agent exited with status {code}: {tail.strip()[-300:]}")
    return bytes(out), tail


def handoff_payload(bundle: Bundle, test_output: str) -> bytes:
    """The agent's stdin: the bundle as a handoff, and the first run's output."""
    handoff: dict[str, Any] = {
        "schema": "repairlab.handoff/1",
        "tool": bundle.tool,
        "entrypoint": bundle.entrypoint,
        "files": dict(bundle.files),
        "tests": list(bundle.tests),
    }
    return msgspec.json.encode({"handoff": handoff, "test_output": test_output})


class ExternalAgent:
    """Asks the configured program for a repair and judges its proposal.

    Returns None without running anything when no agent is configured, and None
    (with the reason logged at info) when the agent fails, hangs, or replies
    against the contract, or its proposal does not pass. May raise
    RepairBudgetExhausted through `Context.judge`.
    """

    name: ClassVar[str] = "external_agent"

    def attempt(self, ctx: Context) -> Fix | None:
        """One agent run, one judged candidate."""
        argv = tuple(getattr(ctx.settings, "external_agent", ()) or ctx.external_agent)
        if not argv:
            ctx.stopped("skipped", "no agent configured")
            return None
        bundle = ctx.bundle
        log = logger.bind(bundle=bundle.sha256[:12], strategy=self.name)
        left = ctx.budget.seconds_left()
        # Leave the judging run its time: the agent gets the rest of the budget.
        limit = left - min(ctx.test_timeout, left / 2)
        if limit < MIN_AGENT_SECONDS:
            log.info("external agent not run: {:.1f}s of budget left", left)
            ctx.stopped("budget", f"not run: {left:.1f}s of budget left")
            return None
        payload = handoff_payload(bundle, ctx.first_run.output)
        started = time.monotonic()
        try:
            out, _ = run_agent(argv, payload, limit)
            changed = check_reply(out, bundle)
        except ReplyRejected as exc:
            log.info("external agent rejected: {}", exc)
            ctx.stopped("error", f"agent rejected: {exc}"[:300])
            return None
        report = ctx.judge(changed)
        if not ctx.accepts(report):
            log.info("external agent's proposal fails: {}", report.summary())
            return None
        log.info("external agent's proposal passes")
        return Fix(changed=changed, report=report, details={
            "agent": argv[0], "changed_files": sorted(changed),
            "agent_seconds": round(time.monotonic() - started, 3),
        })

