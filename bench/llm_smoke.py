"""Smoke run: the `llm` strategy against a real endpoint, on the corpus cases the
search cannot fix.

    REPAIRLAB_LLM_BASE_URL=http://127.0.0.1:8080/v1 REPAIRLAB_LLM_MODEL=qwen2.5-coder \\
        .venv/bin/python bench/llm_smoke.py                 # the hopeless cases
    ... bench/llm_smoke.py --search                         # + every case the search fails
    ... bench/llm_smoke.py --case hopeless_median_is_mean -v

Environment: `REPAIRLAB_LLM_BASE_URL` and `REPAIRLAB_LLM_MODEL` (both needed; without
them this prints why it skips and exits 0), `REPAIRLAB_LLM_API_KEY_ENV` (the NAME of
the variable holding the key; unset = send none, as local servers want),
`REPAIRLAB_LLM_SAMPLES` (default 3), `REPAIRLAB_LLM_MAX_TOKENS` (default 1024),
`REPAIRLAB_LLM_TIMEOUT` (seconds per request, default 120).
A fix is also run against the case's held-out `hidden/` tests, when it has any.

Each case runs `Engine` with `noop` then `llm` only (the search is known to have
failed on it), in a fresh state root (so no cached reply helps) unless `--state DIR`
keeps one. Prints per case fixed or not, samples, tokens and seconds, then
`fixed F / tried T, tokens N, seconds S`. Exit 0 whatever the figures; 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repairlab.config import load_config
from repairlab.repair.corpus import DEFAULT_ROOT, Case, load_corpus
from repairlab.repair.engine import Engine, RepairSettings
from repairlab.repair.runner import make_runner

SEARCH = ("noop", "signature_adapter", "pattern_transplant", "heuristic_microfix")


def llm_table(state: Path) -> object | None:
    """`[llm]` from the environment, checked like a config file; None to skip."""
    base_url = os.environ.get("REPAIRLAB_LLM_BASE_URL", "")
    model = os.environ.get("REPAIRLAB_LLM_MODEL", "")
    if not base_url or not model:
        return None
    table = {
        "enabled": True, "base_url": base_url, "model": model,
        "api_key_env": os.environ.get("REPAIRLAB_LLM_API_KEY_ENV", ""),
        "samples": int(os.environ.get("REPAIRLAB_LLM_SAMPLES", "3")),
        "max_tokens": int(os.environ.get("REPAIRLAB_LLM_MAX_TOKENS", "1024")),
        "timeout_seconds": float(os.environ.get("REPAIRLAB_LLM_TIMEOUT", "120")),
        "temperature": float(os.environ.get("REPAIRLAB_LLM_TEMPERATURE", "0.7")),
        "max_requests_per_hour": 10_000, "max_tokens_per_day": 100_000_000,
    }
    return load_config(None, overrides={"paths": {"root": str(state)}, "llm": table}).llm


def search_failures(cases: list[Case], runner: object, seconds: float) -> list[Case]:
    """The cases the search (every strategy but `llm` and `external_agent`) fails."""
    failed = []
    settings = RepairSettings(strategies=SEARCH, bundle_timeout_seconds=seconds)
    for case in cases:
        outcome = Engine(settings, runner).repair(case.bundle)  # type: ignore[arg-type]
        verdict = f"fixed by {outcome.strategy}" if outcome.repaired else "FAILED"
        print(f"search  {case.name:<40} {verdict}", flush=True)
        if not outcome.repaired:
            failed.append(case)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_ROOT))
    parser.add_argument("--case", action="append", default=[], help="only these cases")
    parser.add_argument("--search", action="store_true",
                        help="also every case the search fails (runs the search first)")
    parser.add_argument("--bundle-timeout", type=float, default=600.0,
                        help="seconds for all of one case (the model's time included)")
    parser.add_argument("--state", help="a state root to keep (the cache then answers reruns)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO" if args.verbose else "WARNING")
    with tempfile.TemporaryDirectory(prefix="repairlab-llm-smoke-") as tmp:
        state = Path(args.state) if args.state else Path(tmp) / "state"
        state.mkdir(parents=True, exist_ok=True)
        llm = llm_table(state)
        if llm is None:
            print("llm smoke skipped: set REPAIRLAB_LLM_BASE_URL and REPAIRLAB_LLM_MODEL "
                  "(and REPAIRLAB_LLM_API_KEY_ENV, the name of the variable holding the key, "
                  "for an endpoint that wants one)")
            return 0
        cases = load_corpus(Path(args.corpus))
        if args.case:
            cases = [c for c in cases if c.name in set(args.case)]
            chosen = cases
        else:
            chosen = [c for c in cases if c.expect is None]
        runner = make_runner()
        try:
            if args.search:
                extra = search_failures([c for c in cases if c not in chosen], runner,
                                        min(args.bundle_timeout, 120.0))
                chosen = chosen + extra
            settings = RepairSettings(strategies=("noop", "llm"), llm=llm,
                                      state_root=str(state), instance="llm-smoke",
                                      bundle_timeout_seconds=args.bundle_timeout)
            print(f"llm smoke: {llm.model} at {llm.base_url} "  # type: ignore[attr-defined]
                  f"(samples {llm.samples}), {len(chosen)} cases", flush=True)  # type: ignore[attr-defined]
            fixed = tokens = 0
            started = time.monotonic()
            for case in chosen:
                t0 = time.monotonic()
                outcome = Engine(settings, runner).repair(case.bundle)
                took = time.monotonic() - t0
                d = outcome.details
                spent = outcome.llm_tokens
                tokens += spent
                fixed += outcome.repaired and outcome.strategy == "llm"
                verdict = (f"FIXED by sample {d.get('sample')} of {d.get('samples')}"
                           if outcome.repaired else "not fixed")
                hidden = getattr(case, "hidden_files", None)
                if outcome.repaired and outcome.files is not None and hidden:
                    # The case's held-out tests: does the fix generalize, or fit the tests?
                    report = runner.run({**outcome.files, **hidden}, case.hidden_tests,
                                        timeout=30)
                    verdict += ", hidden tests " + ("pass" if report.ok else "FAIL")
                print(f"{case.name:<40} {verdict:<44} {spent:>7} tokens {took:7.1f}s",
                      flush=True)
            print(f"fixed {fixed} / tried {len(chosen)}, tokens {tokens}, "
                  f"seconds {time.monotonic() - started:.1f}")
        finally:
            runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
