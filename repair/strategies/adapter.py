"""`signature_adapter`: the tests call the entrypoint under another name or shape.

Everything is found statically, by reading the test files' AST and the first run's
output; no code of the bundle is imported here. Three mismatches are adapted:

* a name the tests import from (or look up on) the entrypoint module that it does
  not define: an alias to one of its functions (``slugify = make_slug``), or a
  wrapper when the call shape needs one;
* a keyword the tests pass that the function does not take: a wrapper that renames
  it to one of the function's parameters;
* positional arguments in another order (only with evidence: a TypeError or
  AttributeError in the output, or literals that contradict the annotations or
  defaults): a wrapper that reorders them.

The adapter is appended to the entrypoint, so the original definitions stay as
they were. A wrapper rebinds the name for the module's own callers too; if they
relied on the old shape, the tests say so and the candidate fails. A bounded number
of candidates (`MAX_CANDIDATES`) is judged, and none at all when the tests and the
module agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from loguru import logger

from repairlab.repair.bundle import Bundle
from repairlab.repair.callsites import CallShape, Signature, module_info, scan_tests
from repairlab.repair.definitions import definitions, name_similarity, traceback_lines
from repairlab.repair.strategies.base import Context, Fix

MAX_CANDIDATES = 12
MAX_TARGETS = 3  # functions tried as the target of one missing name
MAX_KEYWORD_TARGETS = 2  # parameters tried for one unknown keyword
MAX_PERMUTED = 3  # leading positional arguments that are permuted
MAX_REORDER_CANDIDATES = 4



# ---- adapters --------------------------------------------------------------------


@dataclass(frozen=True)
class Adapter:
    """One way to bridge one mismatch: `name` is what the tests call, `target` what
    the module defines, plus an optional argument order and keyword renaming."""

    name: str
    target: str
    kind: str  # "rename", "reorder", "keyword" or a "+"-joined mix
    order: tuple[int, ...] = ()
    keywords: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        text = f"{self.name} -> {self.target}" if self.name != self.target else self.name
        if self.order:
            text += f" args{list(self.order)}"
        if self.keywords:
            text += " " + ", ".join(f"{a}={b}" for a, b in self.keywords)
        return text

    def code(self) -> str:
        """Python source to append to the entrypoint."""
        if not self.order and not self.keywords:
            return (f"\n\n# repairlab signature_adapter: the tests call {self.name}\n"
                    f"{self.name} = {self.target}\n")
        callee = self.target
        lines = [f"\n\n# repairlab signature_adapter: {self.describe()}"]
        if self.name == self.target:
            callee = f"_repairlab_{self.target}"
            lines.append(f"{callee} = {self.target}")
            lines.append("")
        lines.append("")
        lines.append(f"def {self.name}(*args, **kwargs):")
        if self.order:
            n = len(self.order)
            moved = ", ".join(f"args[{i}]" for i in self.order)
            lines.append(f"    if len(args) >= {n}:")
            lines.append(f"        args = ({moved}, *args[{n}:])")
        for old, new in self.keywords:
            lines.append(f"    if {old!r} in kwargs:")
            lines.append(f"        kwargs[{new!r}] = kwargs.pop({old!r})")
        lines.append(f"    return {callee}(*args, **kwargs)")
        return "\n".join(lines) + "\n"


def _keyword_map(sig: Signature, shapes: Iterable[CallShape]) -> list[tuple[tuple[str, str], ...]]:
    """Ways to rename the keywords the calls pass but `sig` does not take, best first."""
    if sig.var_keyword:
        return [()]
    unknown: dict[str, set[str]] = {}
    for shape in shapes:
        for kw in shape.keywords:
            if kw not in sig.params:
                # Parameters this call already fills cannot take the keyword.
                taken = set(sig.positional[: shape.positional]) | set(shape.keywords)
                free = {p for p in sig.params if p not in taken}
                unknown.setdefault(kw, set(free)).intersection_update(free)
    if not unknown:
        return [()]
    per_kw: list[list[tuple[str, str]]] = []
    for kw, options in sorted(unknown.items()):
        ranked = sorted(options, key=lambda p: (-name_similarity(kw, p), sig.params.index(p)))
        per_kw.append([(kw, p) for p in ranked[:MAX_KEYWORD_TARGETS]])
    if any(not choices for choices in per_kw):
        return []
    maps = [tuple(combo) for combo in itertools.product(*per_kw)]
    # A map that sends two keywords to one parameter cannot bind.
    return [m for m in maps if len({new for _, new in m}) == len(m)][:MAX_KEYWORD_TARGETS + 1]


def _orders(sig: Signature, shapes: list[CallShape]) -> list[tuple[int, ...]]:
    """Permutations of the leading positional arguments, most plausible first: those
    that make literal argument types agree with the parameters' expected types."""
    counts = [s.positional for s in shapes if not s.star]
    n = min([*counts, len(sig.positional), MAX_PERMUTED]) if counts else 0
    if n < 2:
        return []

    def agreement(order: tuple[int, ...]) -> int:
        score = 0
        for shape in shapes:
            for slot, source in enumerate(order):
                want = sig.expected[slot] if slot < len(sig.expected) else None
                have = shape.types[source] if source < len(shape.types) else None
                if want and have:
                    # An exact type counts more than int-for-float, which Python allows.
                    score += 2 if want == have else 1 if {want, have} <= {"int", "float"} else -2
        return score

    identity = tuple(range(n))
    base = agreement(identity)
    perms = [p for p in itertools.permutations(range(n)) if p != identity]
    # Fewer moved arguments first among equally plausible orders.
    perms.sort(key=lambda p: (-agreement(p), sum(a != b for a, b in zip(p, identity,
                                                                          strict=True))))
    return [p for p in perms if agreement(p) >= base]


def _type_evidence(output: str) -> bool:
    return "TypeError" in output or "AttributeError" in output


def _contradicts(sig: Signature, shapes: list[CallShape]) -> bool:
    """Whether some literal argument disagrees with its parameter's expected type."""
    for shape in shapes:
        for want, have in zip(sig.expected, shape.types, strict=False):
            if want and have and want != have and {want, have} != {"int", "float"}:
                return True
    return False


def plan(bundle: Bundle, outcomes: dict[str, bool], output: str) -> list[list[Adapter]]:
    """Candidate adapter sets for the bundle, most plausible first, at most
    `MAX_CANDIDATES`. Empty when the tests and the module agree, or when the module
    does not parse or is nested too deeply to analyse."""
    try:
        return _plan(bundle, outcomes, output)
    except RecursionError:
        logger.info("source nested too deeply to analyse")
        return []


def _plan(bundle: Bundle, outcomes: dict[str, bool], output: str) -> list[list[Adapter]]:
    source = bundle.files.get(bundle.entrypoint, "")
    info = module_info(source)
    if info is None:
        return []
    lines = traceback_lines(output, bundle.entrypoint)
    hits = {d.name: sum(1 for n in lines if d.start <= n <= d.end) for d in definitions(source)}
    usage = scan_tests(bundle, outcomes)
    strong: list[list[Adapter]] = []  # alternatives per mismatch, best first
    weak: list[tuple[int, list[Adapter]]] = []
    public = [n for n, s in info.signatures.items() if not n.startswith("_")]
    unused = [n for n in public if n not in usage.referenced]
    # Dunders (`mod.__file__`) exist on every module without being bound in it.
    missing_names = {n for n in usage.referenced - info.bound if not n.startswith("__")}
    for missing in sorted(missing_names):
        shapes = usage.calls.get(missing, [])

        def rank(target: str, missing: str = missing, shapes: list[CallShape] = shapes) -> float:
            sig = info.signatures[target]
            fit = all(sig.fits(s) for s in shapes)
            return (2.0 * fit + 1.0 * (target in unused) + name_similarity(missing, target)
                    + 0.5 * (sig.is_class == missing[:1].isupper()))

        targets = sorted(public, key=lambda t: -rank(t))[:MAX_TARGETS]
        options: list[Adapter] = []
        for target in targets:
            sig = info.signatures[target]
            for kw in _keyword_map(sig, shapes)[:1]:
                kind = "rename+keyword" if kw else "rename"
                options.append(Adapter(missing, target, kind, keywords=kw))
        for target in targets[:1]:
            for order in _orders(info.signatures[target], shapes)[:2]:
                options.append(Adapter(missing, target, "rename+reorder", order=order))
        if options:
            strong.append(options)
    for name, sig in sorted(info.signatures.items()):
        shapes = usage.calls.get(name, [])
        if not shapes:
            continue
        keyword_maps = [m for m in _keyword_map(sig, shapes) if m]
        if keyword_maps:
            strong.append([Adapter(name, name, "keyword", keywords=m) for m in keyword_maps])
            continue
        failing = usage.failing_calls.get(name, [])
        # Reordering is only guessed with evidence: the function is in a traceback
        # that shows a type mismatch, or the calls' literals contradict its types.
        evidence = (hits.get(name, 0) and _type_evidence(output)) or _contradicts(sig, failing)
        if failing and evidence:
            orders = _orders(sig, failing)
            if orders:
                score = hits.get(name, 0) + 10 * _contradicts(sig, failing)
                weak.append((score, [Adapter(name, name, "reorder", order=o) for o in orders]))
    weak.sort(key=lambda item: -item[0])
    return _combine(strong, [options for _, options in weak])


def _combine(strong: list[list[Adapter]], weak: list[list[Adapter]]) -> list[list[Adapter]]:
    """Every strong mismatch's best adapter together, then one alternative at a time;
    weak (reordering) adapters are added one at a time on top, since a wrong one
    would spoil the rest."""
    base = [options[0] for options in strong]
    plans: list[list[Adapter]] = []
    if base:
        plans.append(base)
    for i, options in enumerate(strong):
        for alt in options[1:]:
            plans.append([*base[:i], alt, *base[i + 1:]])
    reorders = [alt for options in weak for alt in options][:MAX_REORDER_CANDIDATES]
    plans.extend([*base, alt] for alt in reorders)
    unique: list[list[Adapter]] = []
    for p in plans:
        if p not in unique:
            unique.append(p)
    return unique[:MAX_CANDIDATES]


class SignatureAdapter:
    """Appends an alias or a wrapper to the entrypoint so the tests' calls bind.

    Returns None when the tests and the module agree, when the entrypoint does not
    parse, or when no adapter passes. May raise RepairBudgetExhausted through
    `Context.judge`.
    """

    name: ClassVar[str] = "signature_adapter"

    def attempt(self, ctx: Context) -> Fix | None:
        """Judge each planned adapter set in turn; the first that passes wins."""
        bundle = ctx.bundle
        source = bundle.files.get(bundle.entrypoint)
        if source is None:
            return None
        log = logger.bind(bundle=bundle.sha256[:12], strategy=self.name)
        plans = plan(bundle, ctx.first_run.outcomes, ctx.first_run.output)
        if not plans:
            log.debug("no signature mismatch found")
            return None
        for tried, adapters in enumerate(plans, start=1):
            text = source.rstrip("\n") + "\n" + "".join(a.code() for a in adapters)
            report = ctx.judge({bundle.entrypoint: text})
            if ctx.accepts(report):
                kinds = sorted({k for a in adapters for k in a.kind.split("+")})
                log.info("adapter passed: {}", "; ".join(a.describe() for a in adapters))
                return Fix(
                    changed={bundle.entrypoint: text}, report=report,
                    details={
                        "adapter": "; ".join(a.describe() for a in adapters),
                        "kind": "+".join(kinds),
                        "tried": tried,
                    },
                )
        log.info("no adapter of {} passed", len(plans))
        return None
