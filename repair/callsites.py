"""What a bundle's tests call of its entrypoint, and what the entrypoint offers.

Found statically from the AST of the test files and of the entrypoint: names the
tests import from (or look up on) the module, the shape of each call (positional
count, keyword names, literal argument types), and the signatures of the module's
top-level functions. Untrusted code is never imported to find this out.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from repairlab.repair.bundle import Bundle
from repairlab.repair.definitions import PARSE_ERRORS

_LITERAL_TYPES = (str, int, float, bool, bytes, list, tuple, dict, set)


# ---- what the tests use --------------------------------------------------------


@dataclass(frozen=True)
class CallShape:
    """How one call site calls a function: positional count, keyword names, and the
    type of each positional argument when it is a literal (else None)."""

    positional: int
    keywords: tuple[str, ...]
    star: bool
    types: tuple[str | None, ...]


@dataclass
class Usage:
    """What the tests use of the entrypoint module: every name referenced, the call
    shapes per name, and the names used by tests that failed in the first run."""

    referenced: set[str] = field(default_factory=set)
    calls: dict[str, list[CallShape]] = field(default_factory=dict)
    failing_calls: dict[str, list[CallShape]] = field(default_factory=dict)
    failing_names: set[str] = field(default_factory=set)
    star_import: bool = False


def module_names(entrypoint: str) -> set[str]:
    """The dotted names a test may import the entrypoint under."""
    stem = entrypoint[:-3] if entrypoint.endswith(".py") else entrypoint
    parts = stem.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = {".".join(parts[i:]) for i in range(len(parts))}
    return {n for n in names if n}


def failing_tests(outcomes: dict[str, bool]) -> set[tuple[str, str]]:
    """(test file, test function) of every failed node id, parameters stripped."""
    failed: set[tuple[str, str]] = set()
    for node_id, passed in outcomes.items():
        if passed:
            continue
        parts = node_id.split("::")
        if len(parts) >= 2:
            failed.add((parts[0], parts[-1].split("[", 1)[0]))
    return failed


def _literal_type(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and node.value is not None:
        return type(node.value).__name__
    kinds = {ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict", ast.Set: "set",
             ast.JoinedStr: "str", ast.ListComp: "list", ast.DictComp: "dict"}
    for kind, name in kinds.items():
        if isinstance(node, kind):
            return name
    return None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _TestScanner(ast.NodeVisitor):
    """Collects names and call shapes of the entrypoint module in one test file."""

    def __init__(self, modules: set[str], usage: Usage, failed: set[str]) -> None:
        self.modules = modules
        self.usage = usage
        self.failed = failed
        self.module_aliases: set[str] = set()
        self.name_aliases: dict[str, str] = {}
        self.local_defs: set[str] = set()
        self.in_failing = False

    def scan(self, tree: ast.Module) -> None:
        # Imports and local definitions first, wherever they are, so that uses
        # before an import in source order still resolve.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in self.modules:
                        self.module_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                for alias in node.names:
                    if node.module in self.modules:
                        if alias.name == "*":
                            self.usage.star_import = True
                            continue
                        self.name_aliases[alias.asname or alias.name] = alias.name
                        self.usage.referenced.add(alias.name)
                    elif f"{node.module}.{alias.name}" in self.modules:
                        self.module_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.local_defs.add(node.name)
        for node in tree.body:
            self._visit_top(node)

    def _visit_top(self, node: ast.stmt) -> None:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                self._visit_test(item)
        else:
            self._visit_test(node)

    def _visit_test(self, node: ast.stmt) -> None:
        is_test = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        self.in_failing = (not is_test) or getattr(node, "name", "") in self.failed
        self.visit(node)

    def _resolve(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            if func.id in self.name_aliases:
                return self.name_aliases[func.id]
            return None
        if isinstance(func, ast.Attribute):
            base = _dotted(func.value)
            if base is not None and base in self.module_aliases:
                return func.attr
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self._resolve(node)
        if name is not None:
            self.usage.referenced.add(name)
            if self.in_failing:
                self.usage.failing_names.add(name)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = self.name_aliases.get(node.id)
        if name is not None and self.in_failing:
            self.usage.failing_names.add(name)

    def visit_Call(self, node: ast.Call) -> None:
        name = self._resolve(node.func)
        if (name is None and self.usage.star_import and isinstance(node.func, ast.Name)
                and node.func.id not in self.local_defs
                and not hasattr(builtins, node.func.id)):
            name = node.func.id
            self.usage.referenced.add(name)
        if name is not None:
            positional = [a for a in node.args if not isinstance(a, ast.Starred)]
            shape = CallShape(
                positional=len(positional),
                keywords=tuple(k.arg for k in node.keywords if k.arg is not None),
                star=len(positional) != len(node.args) or any(k.arg is None for k in node.keywords),
                types=tuple(_literal_type(a) for a in positional),
            )
            self.usage.calls.setdefault(name, []).append(shape)
            if self.in_failing:
                self.usage.failing_calls.setdefault(name, []).append(shape)
                self.usage.failing_names.add(name)
        self.generic_visit(node)


def scan_tests(bundle: Bundle, outcomes: dict[str, bool]) -> Usage:
    """What the bundle's tests use of its entrypoint, found by reading their AST.

    A test file that does not parse is skipped (its tests fail whatever we do).
    When no test is known to have failed (the run crashed), every test counts as
    failing.
    """
    usage = Usage()
    modules = module_names(bundle.entrypoint)
    failed = failing_tests(outcomes)
    for path in bundle.tests:
        try:
            tree = ast.parse(bundle.files[path])
        except (*PARSE_ERRORS, KeyError):
            continue
        names = {fn for file, fn in failed if file == path}
        if not failed:
            names = {n.name for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        _TestScanner(modules, usage, names).scan(tree)
    return usage



# ---- what the module defines ---------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """The parameters of one top-level function (or a class's ``__init__``)."""

    name: str
    positional: tuple[str, ...]
    required: int
    keyword_only: tuple[str, ...]
    var_positional: bool
    var_keyword: bool
    expected: tuple[str | None, ...]  # a type name per positional parameter, if known
    is_class: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return self.positional + self.keyword_only

    def fits(self, shape: CallShape) -> bool:
        """Whether a call of that shape binds to these parameters."""
        if shape.star:
            return True
        if shape.positional > len(self.positional) and not self.var_positional:
            return False
        if not self.var_keyword and any(k not in self.params for k in shape.keywords):
            return False
        given = shape.positional + sum(1 for k in shape.keywords if k in self.positional)
        return given >= self.required


def _expected_type(annotation: ast.expr | None, default: ast.expr | None) -> str | None:
    if isinstance(annotation, ast.Name) and annotation.id in {t.__name__ for t in _LITERAL_TYPES}:
        return annotation.id
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        base = annotation.value.id.lower()
        if base in {"list", "tuple", "dict", "set"}:
            return base
    if default is not None:
        return _literal_type(default)
    return None


def _signature(name: str, args: ast.arguments, *, is_class: bool = False) -> Signature:
    positional = [*args.posonlyargs, *args.args]
    if is_class and positional:
        positional = positional[1:]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)[-len(positional):] if positional else []
    return Signature(
        name=name,
        positional=tuple(a.arg for a in positional),
        required=sum(1 for d in defaults if d is None),
        keyword_only=tuple(a.arg for a in args.kwonlyargs),
        var_positional=args.vararg is not None,
        var_keyword=args.kwarg is not None,
        expected=tuple(_expected_type(a.annotation, d) for a, d in zip(positional, defaults,
                                                                      strict=False)),
        is_class=is_class,
    )


@dataclass
class ModuleInfo:
    """The entrypoint's top-level bindings and the signatures of its functions."""

    bound: set[str]
    signatures: dict[str, Signature]
    opaque: bool  # a star import or a module __getattr__: names may come from elsewhere


def module_info(source: str) -> ModuleInfo | None:
    """Top-level names and signatures of a module; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except PARSE_ERRORS:
        return None
    bound: set[str] = set()
    signatures: dict[str, Signature] = {}
    opaque = False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
            signatures[node.name] = _signature(node.name, node.args)
            opaque |= node.name == "__getattr__"
        elif isinstance(node, ast.ClassDef):
            bound.add(node.name)
            init = next((i for i in node.body
                         if isinstance(i, ast.FunctionDef) and i.name == "__init__"), None)
            if init is not None:
                signatures[node.name] = _signature(node.name, init.args, is_class=True)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    opaque = True
                else:
                    bound.add((alias.asname or alias.name).split(".")[0])
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    bound.add(sub.id)
                elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    bound.add(sub.name)
    return ModuleInfo(bound=bound, signatures=signatures, opaque=opaque)
