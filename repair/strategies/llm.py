"""`llm`: the last resort, a model behind an OpenAI-compatible endpoint (SPEC §3).

Off unless `[llm] enabled`. It builds one prompt (`repair.llm_prompt`), asks for
`samples` candidates (`repair.llm_client`, within the shared budgets and the
circuit; a reply already bought for this bundle and prompt comes from the cache at
no cost), parses each reply (`repair.llm_reply`: validated like a handoff, a test
file touched means refused) and judges every distinct candidate in the sandbox
through `Context.judge`. The best passing one wins by the search's own ranking:
the smallest diff first, then the earlier sample.

The model's output is untrusted text: it is parsed and checked in the daemon and
only ever run in the sandbox, as the bundle's tests. The key is read from the
environment at request time and appears in no detail, log line or cache entry.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from loguru import logger

from repairlab.errors import RepairBudgetExhausted
from repairlab.repair.llm_client import (
    BudgetSpent,
    ChatClient,
    CircuitOpen,
    ClientSettings,
    LlmUnavailable,
)
from repairlab.repair.llm_prompt import build_prompt
from repairlab.repair.llm_reply import ReplyRejected, parse_reply
from repairlab.repair.strategies.base import Context, Fix
from repairlab.state.llm_cache import CachedReply, ResponseCache, cache_key
from repairlab.state.llm_circuit import Circuit
from repairlab.state.llm_ledger import FsBudgetLedger

MIN_ASK_SECONDS = 2.0
SEARCH_STRATEGIES = ("signature_adapter", "pattern_transplant", "heuristic_microfix")


def with_llm(strategies: Sequence[str], enabled: bool) -> tuple[str, ...]:
    """`[repair] strategies` as the engine runs them: `llm` joins after
    `heuristic_microfix` (else before `external_agent`, else last) when enabled
    and not already listed; it is dropped when not enabled."""
    names = [s for s in strategies if enabled or s != "llm"]
    if enabled and "llm" not in names:
        if "heuristic_microfix" in names:
            names.insert(names.index("heuristic_microfix") + 1, "llm")
        elif "external_agent" in names:
            names.insert(names.index("external_agent"), "llm")
        else:
            names.append("llm")
    return tuple(names)


def llm_hold(settings: Any) -> tuple[float, int]:
    """What the engine holds back from the strategies before `llm` for it: seconds
    (`[llm] reserve_seconds`, at most half the bundle's budget) and candidate runs
    (`samples`, at most half of `max_candidates`). (0, 0) when `llm` is off or
    not among the strategies."""
    llm = getattr(settings, "llm", None)
    if llm is None or not llm.enabled or "llm" not in settings.strategies:
        return 0.0, 0
    return (min(float(llm.reserve_seconds), settings.bundle_timeout_seconds / 2),
            min(int(llm.samples), settings.max_candidates // 2))


def client_settings(llm: Any) -> ClientSettings:
    """The client's view of `[llm]`."""
    return ClientSettings(
        base_url=llm.base_url, model=llm.model, api_key_env=llm.api_key_env,
        temperature=llm.temperature, max_tokens=llm.max_tokens,
        timeout_seconds=llm.timeout_seconds, max_retries=llm.max_retries,
    )


def diff_size(before: dict[str, str] | Any, changed: dict[str, str]) -> int:
    """Lines added plus lines removed: the search's 'smallest diff first'."""
    total = 0
    for path, new in changed.items():
        old = before.get(path, "")
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                total += 1
    return total


class LlmStrategy:
    """Asks the model for candidates and judges them.

    Returns None (with the reason logged at info) when `[llm]` is off, the budget
    is spent, the circuit is open, the endpoint fails, no time is left, or no
    candidate passes. May raise RepairBudgetExhausted through `Context.judge` when
    no candidate has passed yet.
    """

    name: ClassVar[str] = "llm"

    def attempt(self, ctx: Context) -> Fix | None:
        """One prompt, up to `samples` candidates, the best passing one."""
        settings = ctx.settings
        llm = getattr(settings, "llm", None)
        root = str(getattr(settings, "state_root", "") or "")
        if llm is None or not llm.enabled:
            return None
        bundle = ctx.bundle
        log = logger.bind(bundle=bundle.sha256[:12], strategy=self.name)
        if not root:
            log.info("llm not asked: no state root for its budget ledger")
            return None
        order = tuple(getattr(settings, "strategies", ()))
        before = order[:order.index("llm")] if "llm" in order else order
        tried = [s for s in before if s not in ("noop", "llm")]
        prompt = build_prompt(bundle, ctx.first_run, tried)
        key = cache_key(bundle.sha256, prompt.sha256, model=llm.model, samples=llm.samples,
                        temperature=llm.temperature, max_tokens=llm.max_tokens)
        cache = ResponseCache(Path(root))
        client_cfg = client_settings(llm)
        reply = cache.get(key)
        cached = reply is not None
        requests = 0
        if reply is None:
            left = ctx.budget.seconds_left()
            # Leave the judging runs their time (a few times the first run's, each),
            # at most half of what is left: the model gets the rest.
            first = ctx.first_run.duration_s if ctx.first_run.duration_s > 0 else 1.0
            per_run = min(ctx.test_timeout, max(2.0, 3 * first))
            limit = left - min(per_run * llm.samples, left / 2)
            if limit < MIN_ASK_SECONDS:
                log.info("llm not asked: {:.1f}s of the bundle's budget left", left)
                return None
            started = time.monotonic()
            try:
                reply, requests = self._ask(ctx, llm, client_cfg, prompt.messages,
                                            time.monotonic() + limit)
            except CircuitOpen as exc:
                log.debug("llm not asked: {}", exc)
                return None
            except (BudgetSpent, LlmUnavailable) as exc:
                log.info("llm not asked or no reply: {}", exc)
                return None
            except OSError as exc:  # the ledger or the circuit cannot be written
                log.warning("llm not asked: its state under the root is unusable: {}", exc)
                return None
            finally:
                ctx.extra["llm_seconds"] = round(time.monotonic() - started, 3)
            if reply is None:
                log.info("llm replied with no candidates")
                return None
            try:
                cache.put(key, reply)
            except OSError as exc:
                log.warning("llm reply not cached: {}", exc)
        ctx.extra["llm_tokens"] = 0 if cached else reply.tokens_in + reply.tokens_out
        log.info("llm gave {} candidates ({}; {} tokens in, {} out)", len(reply.texts),
                 "from the cache" if cached else f"{requests} requests", reply.tokens_in,
                 reply.tokens_out)
        details: dict[str, Any] = {
            "model": llm.model, "endpoint": client_cfg.host, "prompt_sha256": prompt.sha256,
            "tokens_in": reply.tokens_in, "tokens_out": reply.tokens_out,
            "samples": len(reply.texts), "cached": cached,
        }
        return self._judge(ctx, reply.texts, details, log)

    def _ask(self, ctx: Context, llm: Any, cfg: ClientSettings,
             messages: list[dict[str, str]], deadline: float) -> tuple[CachedReply | None, int]:
        """Up to `samples` texts; an endpoint that returns fewer choices than asked
        (llama.cpp's server, Ollama) is asked again for the rest, each request
        reserved in the budget. Budget or failure after some texts arrived keeps them."""
        root = Path(ctx.settings.state_root)
        ledger = FsBudgetLedger(root, max_requests_per_hour=llm.max_requests_per_hour,
                                max_tokens_per_day=llm.max_tokens_per_day,
                                instance=getattr(ctx.settings, "instance", ""))
        circuit = Circuit(root, failures_to_open=llm.circuit_failures,
                          open_seconds=llm.circuit_open_seconds)
        texts: list[str] = []
        tokens_in = tokens_out = requests = asks = 0
        with ChatClient(cfg, ledger, circuit) as client:
            while len(texts) < llm.samples and asks < llm.samples:
                asks += 1
                try:
                    completion = client.complete(messages, llm.samples - len(texts), deadline)
                except (BudgetSpent, LlmUnavailable):
                    if not texts:
                        raise
                    break
                requests += completion.requests
                texts.extend(completion.texts[:llm.samples - len(texts)])
                tokens_in += completion.tokens_in
                tokens_out += completion.tokens_out
                if not completion.texts:
                    break
        if not texts:
            return None, requests
        return CachedReply(texts=texts, tokens_in=tokens_in, tokens_out=tokens_out,
                           model=llm.model), requests

    def _judge(self, ctx: Context, texts: list[str], details: dict[str, Any],
               log: Any) -> Fix | None:
        bundle = ctx.bundle
        seen: set[tuple[tuple[str, str], ...]] = set()
        passing: list[tuple[int, int, dict[str, str], Any]] = []
        refused: dict[str, str] = {}
        judged = 0
        for index, text in enumerate(texts):
            try:
                changed = parse_reply(text, bundle)
            except ReplyRejected as exc:
                refused[str(index)] = str(exc)[:200]
                log.info("llm sample {} refused: {}", index, exc)
                continue
            signature = tuple(sorted(changed.items()))
            if signature in seen:
                continue
            seen.add(signature)
            try:
                report = ctx.judge(changed)
            except RepairBudgetExhausted:
                if passing:
                    break
                raise
            judged += 1
            if ctx.accepts(report):
                passing.append((diff_size(bundle.files, changed), index, changed, report))
            else:
                log.info("llm sample {} fails: {}", index, report.summary())
        details.update(judged=judged, passing_samples=len(passing))
        if refused:
            details["refused"] = refused
        if not passing:
            log.info("no llm candidate passes ({} judged, {} refused)", judged, len(refused))
            return None
        size, index, changed, report = min(passing, key=lambda p: (p[0], p[1]))
        details.update(sample=index, diff_lines=size, changed_files=sorted(changed))
        log.info("repaired by llm sample {} ({} changed lines)", index, size)
        return Fix(changed=changed, report=report, details=details)


__all__ = ["LlmStrategy", "client_settings", "diff_size", "llm_hold", "with_llm"]
