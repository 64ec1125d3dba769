"""A careful client of one OpenAI-compatible chat-completions endpoint.

Built on `httpx` (a small, well-kept synchronous HTTP client with separate connect,
read, write and pool timeouts) rather than the `openai` package: this needs one
POST, and every decision around it (retries, backoff, budgets, the circuit, what may
appear in an error) must be repairlab's own, since the `openai` client retries on its
own schedule, pulls in pydantic and more, and knows no shared budget.

What one `complete` call promises:

- **Budgets first.** Every HTTP request, retries included, is reserved in the shared
  ledger (`state.llm_ledger`) before it is sent, at an upper-bound estimate of its
  tokens; the reply's reported usage settles it. A refused reservation raises
  `BudgetSpent` and nothing is sent.
- **The circuit.** Nothing is sent while the circuit (`state.llm_circuit`) is open;
  each failed request counts toward opening it, a good reply closes it. The
  opening is logged once, by the instance whose failure opened it.
- **Retries.** On 429, 5xx, timeouts and connection errors, up to
  `max_retries` more requests, after a jittered exponential backoff, or after the
  server's `Retry-After` (seconds or an HTTP date) when it says more. No retry on
  any other 4xx. Never past the caller's deadline: a wait that would end after it
  gives up at once.
- **The key** is read from the environment variable named by `api_key_env` at
  request time and sent only in the `Authorization` header. No message this module
  produces (exceptions, logs) holds a header, the key or an httpx exception's text;
  a reply body quoted in an error is cut short and has the key masked out.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from loguru import logger

from repairlab.errors import RepairlabError
from repairlab.state.llm_circuit import Circuit
from repairlab.state.llm_ledger import BudgetLedger, BudgetSpent

BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
MAX_RETRY_AFTER = 300.0
MAX_REPLY_BYTES = 4 * 1024 * 1024
MESSAGE_OVERHEAD_TOKENS = 16


class LlmUnavailable(RepairlabError):
    """No usable reply: the endpoint failed, refused, timed out, the circuit is open,
    or no key is set. The message says which in words and never holds the key."""


class CircuitOpen(LlmUnavailable):
    """The circuit is open: nothing was sent."""


@dataclass(frozen=True)
class Completion:
    """The texts of the choices and the tokens the endpoint reported (estimated from
    the text's length when it reports none)."""

    texts: list[str]
    tokens_in: int
    tokens_out: int
    requests: int = 1


@dataclass
class ClientSettings:
    """The part of `[llm]` the client needs."""

    base_url: str
    model: str
    api_key_env: str = ""
    temperature: float = 0.7
    max_tokens: int = 2048
    timeout_seconds: float = 60.0
    max_retries: int = 2
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """`<base_url>/chat/completions` (a base URL that already names it is kept)."""
        base = self.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"

    @property
    def host(self) -> str:
        """The endpoint's host (and port when given): what provenance records."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host


def estimate_tokens(messages: list[dict[str, str]], max_tokens: int, n: int) -> int:
    """An upper bound of what one request can cost: byte-level tokenizers never make
    more tokens than bytes, plus a per-message allowance for the chat template, plus
    `max_tokens` for each of the `n` choices."""
    prompt = sum(len(m["content"].encode("utf-8")) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    return prompt + max_tokens * n


class _Choice(msgspec.Struct):
    message: dict[str, Any] = msgspec.field(default_factory=dict)
    text: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Reply(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


_reply_decoder = msgspec.json.Decoder(_Reply)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date.
    None when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None, *, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.counts = counts  # toward the circuit (a 429 does not: the server is alive)


class _OneChoiceOnly(Exception):
    pass


class ChatClient:
    """Asks one endpoint for `n` choices of one prompt, within budgets and a deadline.

    `transport` (an httpx transport) and `sleep` exist for tests. The client holds no
    state between calls other than its httpx connection pool; the budgets and the
    circuit live on disk.
    """

    def __init__(self, settings: ClientSettings, ledger: BudgetLedger, circuit: Circuit, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.circuit = circuit
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.log = logger.bind(strategy="llm", endpoint=settings.host)
        self._one_choice_only = False  # learned from a refusal of n > 1
        self._http = httpx.Client(transport=transport, follow_redirects=False,
                                  trust_env=False)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _key(self) -> str | None:
        name = self.settings.api_key_env
        if not name:
            return None
        key = os.environ.get(name, "")
        if not key:
            raise LlmUnavailable(f"the environment variable {name} that [llm] api_key_env "
                                 "names is not set: no request sent")
        return key

    def complete(self, messages: list[dict[str, str]], n: int, deadline: float) -> Completion:
        """One prompt, `n` choices asked for (an endpoint may return fewer).

        Raises BudgetSpent when a reservation is refused, CircuitOpen when the circuit
        is open, LlmUnavailable when every try failed, the deadline (a
        `time.monotonic()` value) came, or no key is set.
        """
        key = self._key()
        s = self.settings
        if self._one_choice_only:
            n = 1
        body = {"model": s.model, "messages": messages, "n": n,
                "temperature": s.temperature, "max_tokens": s.max_tokens, "stream": False}
        estimate = estimate_tokens(messages, s.max_tokens, n)
        requests = 0
        last = "no request sent"
        for attempt in range(s.max_retries + 1):
            if not self.circuit.allows():
                raise CircuitOpen(f"circuit open: {self.circuit.state().describe(time.time())}")
            left = deadline - time.monotonic()
            if left < 1.0:
                raise LlmUnavailable(f"no time left to ask the model (last: {last})")
            reservation = self.ledger.reserve(estimate)
            requests += 1
            try:
                texts, tokens_in, tokens_out = self._post(body, key, min(s.timeout_seconds, left))
            except _OneChoiceOnly:
                # The endpoint refuses n > 1: ask for one choice (the caller asks
                # again for the rest), not a failure of the endpoint.
                self.ledger.settle(reservation, 0, 0)
                self._one_choice_only = True
                body["n"] = 1
                estimate = estimate_tokens(messages, s.max_tokens, 1)
                last = "the endpoint takes one choice per request"
                continue
            except _Retryable as exc:
                self.ledger.settle(reservation, 0, 0)
                last = exc.reason
                if exc.counts:
                    self._failed(exc.reason)
                wait = self._backoff(attempt, exc.wait)
                if attempt == s.max_retries:
                    break
                if time.monotonic() + wait > deadline - 1.0:
                    raise LlmUnavailable(f"{exc.reason}; waiting {wait:.1f}s more would pass "
                                         "the deadline") from None
                self.log.info("{}; retrying in {:.1f}s", exc.reason, wait)
                self.sleep(wait)
                continue
            except LlmUnavailable as exc:
                self.ledger.settle(reservation, 0, 0)
                self._failed(str(exc))
                raise
            self.ledger.settle(reservation, tokens_in, tokens_out)
            if self.circuit.success():
                self.log.info("llm circuit closed: the endpoint answers again")
            return Completion(texts, tokens_in, tokens_out, requests)
        raise LlmUnavailable(f"gave up after {requests} requests: {last}")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter between half and all of the exponential step, so that instances
        # that failed together do not retry together; the server's word wins if longer.
        step = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt)
        wait = step * (0.5 + 0.5 * self.rng.random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait

    def _failed(self, reason: str) -> None:
        if self.circuit.failure(reason):
            state = self.circuit.state()
            self.log.warning("llm circuit open after {} failed requests in a row (last: {}); "
                             "not asking the model until {}", state.failures, reason,
                             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.open_until)))

    def _post(self, body: dict[str, Any], key: str | None,
              timeout: float) -> tuple[list[str], int, int]:
        headers = {"Content-Type": "application/json", **self.settings.extra_headers}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        host = self.settings.host
        try:
            response = self._http.post(self.settings.url, content=msgspec.json.encode(body),
                                       headers=headers, timeout=httpx.Timeout(timeout))
            data = response.read()
        except httpx.TimeoutException:
            raise _Retryable(f"{host} did not answer within {timeout:.1f}s") from None
        except httpx.HTTPError as exc:
            # Only the exception's class: its text may quote the request.
            raise _Retryable(f"cannot reach {host} ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            raise _Retryable(f"{host} is rate limiting (HTTP 429)",
                             retry_after_seconds(response.headers.get("retry-after")),
                             counts=False)
        if status >= 500:
            raise _Retryable(f"{host} failed (HTTP {status}): {self._quote(data, key)}",
                             retry_after_seconds(response.headers.get("retry-after")))
        if status in (400, 422) and body.get("n", 1) > 1:
            # Some servers refuse n > 1 outright; whatever else is wrong, the
            # request with n = 1 will say so again, and then counts as a failure.
            raise _OneChoiceOnly
        if status != 200:
            raise LlmUnavailable(f"{host} refused the request (HTTP {status}): "
                                 f"{self._quote(data, key)}")
        if len(data) > MAX_REPLY_BYTES:
            raise LlmUnavailable(f"{host} replied with more than {MAX_REPLY_BYTES} bytes")
        try:
            reply = _reply_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise LlmUnavailable(f"{host} replied with something that is not a "
                                 f"chat completion ({exc})") from None
        texts = []
        for choice in reply.choices:
            content = choice.message.get("content") if choice.message else choice.text
            if isinstance(content, str):
                texts.append(content)
        usage = reply.usage
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            tokens_in, tokens_out = usage.prompt_tokens, usage.completion_tokens
        else:  # no usage reported: about four characters a token
            tokens_in = sum(len(m["content"]) for m in body["messages"]) // 4 + 1
            tokens_out = sum(len(t) for t in texts) // 4 + 1
        return texts, tokens_in, tokens_out

    @staticmethod
    def _quote(data: bytes, key: str | None) -> str:
        # Mask before cutting, so that no prefix of the key survives a cut through it.
        text = data[:65536].decode("utf-8", "replace")
        if key:
            text = text.replace(key, "***")
        return " ".join(text.split())[:200] or "(empty body)"


__all__ = ["BudgetSpent", "ChatClient", "CircuitOpen", "ClientSettings", "Completion",
           "LlmUnavailable", "estimate_tokens", "retry_after_seconds"]
