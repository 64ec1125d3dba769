"""Small AST edits of one Python source file, rendered as minimal text changes.

`FileModel` parses a file once; `generate(model)` lists every single `Edit` the micro-fix
strategy knows (operator swaps, off-by-one, names, attributes, negations, statements ...),
each tagged with its `cost` (1 = smallest) and the line of its enclosing statement
(`anchor`, what fault localization scores). `render(model, edits)` turns one edit, or
a pair, into the new file text by replacing only the edited node's source span, so the
rest of the file stays byte-identical and the diff stays small (see `repair.sourcefile`).

Every rendering is checked: the new text must parse to exactly the AST the edit means
(compared with `ast.dump`). When plain text would bind differently (operator precedence)
it is retried in parentheses; when that too fails the edit is dropped (None), so a
candidate is never syntactically invalid nor different from what its label says.
"""

from __future__ import annotations

import ast
import copy
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from repairlab.repair.program import (
    BUILTIN_NAMES,
    ModuleFacts,
    closest,
    exception_relatives,
    stdlib_module,
    stdlib_siblings,
)
from repairlab.repair.sourcefile import Edit, FileModel, Undo, pairs, render, set_field

_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_BITS = (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)
_CLOSE_BINOPS = {
    frozenset(p) for p in (
        (ast.Add, ast.Sub), (ast.Mult, ast.Div), (ast.Div, ast.FloorDiv), (ast.Mult, ast.FloorDiv),
        (ast.Mod, ast.FloorDiv), (ast.Mult, ast.Pow), (ast.Add, ast.Mult),
        (ast.BitAnd, ast.BitOr), (ast.BitOr, ast.BitXor), (ast.BitAnd, ast.BitXor),
        (ast.LShift, ast.RShift),
    )
}
_ORDER_CMP = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_CLOSE_CMP = {
    frozenset(p) for p in (
        (ast.Lt, ast.LtE), (ast.Gt, ast.GtE), (ast.Lt, ast.Gt), (ast.LtE, ast.GtE),
        (ast.Lt, ast.GtE), (ast.Gt, ast.LtE), (ast.Eq, ast.NotEq),
    )
}
_CMP_PAIRS = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
    ast.RShift: ">>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
    ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
    ast.And: "and", ast.Or: "or",
}
_FUNC_SWAPS = {"any": "all", "all": "any", "min": "max", "max": "min"}
# Methods that are easily confused for each other, offered even when the file uses
# only one of them.
_SIBLING_ATTRS = (
    ("startswith", "endswith"), ("lower", "upper"), ("append", "extend"),
    ("keys", "values", "items"), ("strip", "lstrip", "rstrip"), ("find", "rfind", "index"),
    ("pop", "popleft"), ("add", "discard", "remove"), ("split", "rsplit"),
    ("appendleft", "append"), ("sort", "reverse"), ("isupper", "islower"),
    ("isdigit", "isalpha", "isalnum", "isspace"), ("partition", "rpartition"),
    ("index", "rindex"), ("get", "setdefault"), ("update", "setdefault"),
    # strip's argument is a set of characters, not a suffix or prefix.
    ("rstrip", "removesuffix"), ("lstrip", "removeprefix"),
)
_GUARD_RESULTS = ("None", "0", "[]", "''", "False")
SMALL_ATTR_POOL = 12  # a file using at most this many attribute names offers them all
INSERT_WINDOW = 15  # lines: how far a statement may be copied from within its function


_N = TypeVar("_N", bound=ast.AST)


def _with(node: _N, **fields: Any) -> _N:
    """A shallow copy of `node` with some fields replaced (children are shared)."""
    new = copy.copy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def _base(node: ast.Attribute) -> str:
    try:
        return ast.unparse(node.value)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return ""


def _int_node(value: int) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
    return ast.Constant(value=value)


def _int_value(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    return None


def _short(node: ast.AST, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Builder:
    """Collects the edits of one file."""

    def __init__(self, model: FileModel) -> None:
        self.m = model
        self.edits: list[Edit] = []
        self.attrs_called: set[str] = set()
        self.attrs_plain: set[str] = set()
        self.attrs_by_base: dict[tuple[bool, str], set[str]] = {}
        self.locals: dict[ast.AST | None, list[str]] = {}
        self.twins: dict[ast.AST | None, set[frozenset[str]]] = {}
        self.facts = ModuleFacts.of(model.tree)
        self.first_use: dict[str, ast.Name | None] = {}
        self.ints: list[int] = []

    def add(self, edit: Edit) -> None:
        edit.seq = len(self.edits)
        self.edits.append(edit)

    def replace(self, node: ast.AST, new: ast.AST, cost: int, label: str, kind: str = "",
                deletes: bool = False, informed: bool = False, text: str | None = None) -> None:
        """An edit that puts `new` where `node` is (written as `text` when given: a
        string literal keeps its quotes; render checks it means `new`)."""
        self.replace_many(((node, new),), cost, label, kind, deletes, informed, text)

    def replace_many(self, changes: tuple[tuple[ast.AST, ast.AST], ...] | list[
                     tuple[ast.AST, ast.AST]], cost: int, label: str, kind: str = "",
                     deletes: bool = False, informed: bool = False,
                     text: str | None = None) -> None:
        """One edit that puts each `new` where its `node` is (a name renamed at every use,
        an import changed with its uses). Anchored at the first node's statement."""
        spans = []
        setters = []
        for node, new in changes:
            span = self.m.span(node)
            if span is None or node not in self.m.parents or node not in self.m.anchors:
                return
            try:
                text = ast.unparse(new) if text is None or len(changes) > 1 else text
            except (ValueError, TypeError, AttributeError, RecursionError):
                return
            spans.append((span[0], span[1], text, f"({text})"))
            setters.append((self.m.parents[node], new))
        if not spans:
            return
        first = changes[0][0]

        def mutate() -> Undo:
            undos = [set_field(parent, fieldname, index, new)
                     for (parent, fieldname, index), new in setters]

            def undo() -> None:
                for u in reversed(undos):
                    u()

            return undo

        self.add(Edit(
            path=self.m.path, line=first.lineno,  # type: ignore[attr-defined]
            anchor=self.m.anchors[first].lineno, cost=cost, label=label,
            spans=tuple(spans), mutate=mutate, pairable=len(spans) == 1, kind=kind,
            deletes=deletes, informed=informed,
            also=tuple(sorted({self.m.anchors[node].lineno for node, _ in changes[1:]}
                              - {self.m.anchors[first].lineno})),
        ))

    def body_edit(self, stmt: ast.stmt, cost: int, label: str,
                  start: int, end: int, text: str, mutate: Callable[[], Undo],
                  kind: str = "", deletes: bool = False, informed: bool = False,
                  pairable: bool = False) -> None:
        self.add(Edit(path=self.m.path, line=stmt.lineno, anchor=stmt.lineno, cost=cost,
                      label=label, spans=((start, end, text, text),), mutate=mutate,
                      kind=kind, deletes=deletes, informed=informed, pairable=pairable))


def _scope_names(scope: ast.AST | None) -> list[str]:
    """Parameters and assigned names of a function, in first-seen order."""
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    names: list[str] = []
    a = scope.args
    for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
        if arg is not None and arg.arg not in names:
            names.append(arg.arg)
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
            names.append(node.id)
    return names


def _twin_names(scope: ast.AST | None) -> set[frozenset[str]]:
    """Pairs of names a function binds in one statement (``lo, hi = ...``,
    ``for k, v in ...``) or takes as neighbouring parameters."""
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()
    twins: set[frozenset[str]] = set()
    params = [a.arg for a in [*scope.args.posonlyargs, *scope.args.args]]
    twins.update(frozenset(p) for p in itertools.pairwise(params))
    for node in ast.walk(scope):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.For | ast.comprehension):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Tuple | ast.List):
                bound = [e.id for e in target.elts if isinstance(e, ast.Name)]
                twins.update(frozenset(p) for p in itertools.combinations(bound, 2))
    return twins


def generate(model: FileModel) -> list[Edit]:
    """Every single edit of the file, in source order. Never raises for valid Python."""
    b = _Builder(model)
    for node in ast.walk(model.tree):
        if isinstance(node, ast.Attribute):
            parent = model.parents.get(node)
            called = parent is not None and isinstance(parent[0], ast.Call) and parent[1] == "func"
            (b.attrs_called if called else b.attrs_plain).add(node.attr)
            b.attrs_by_base.setdefault((called, _base(node)), set()).add(node.attr)
    for node in ast.walk(model.tree):
        if node in model._in_fstring:
            continue
        _expression_edits(b, node)
        _reshape_edits(b, node)
        if isinstance(node, ast.stmt):
            _statement_edits(b, node)
            _growth_edits(b, node)
    return b.edits


def _computed(node: ast.AST) -> bool:
    """Whether `node` computes something (a call, arithmetic, a subscript) that a
    constant or a plain name put in its place would throw away."""
    return any(isinstance(n, ast.Call | ast.BinOp | ast.BoolOp | ast.Subscript | ast.ListComp
                          | ast.GeneratorExp | ast.DictComp | ast.SetComp) for n in ast.walk(node))


def _calls_own_code(node: ast.AST) -> bool:
    """Whether `node` calls anything but a builtin (a function or method of the program,
    a recursive step): dropping that deletes behaviour; dropping `sorted(...)` or a
    stray operand is a natural fix."""
    return any(isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name)
                                                 and n.func.id in BUILTIN_NAMES)
               for n in ast.walk(node))


def _negate(b: _Builder, test: ast.expr, what: str) -> None:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        b.replace(test, test.operand, 1, f"negate {what}: drop not", "condition")
    else:
        b.replace(test, ast.UnaryOp(op=ast.Not(), operand=test), 1, f"negate {what}", "condition")


def _plus_minus(b: _Builder, node: ast.expr, cost: int, where: str, kind: str = "constant") -> None:
    value = _int_value(node)
    if value is not None:
        for delta in (1, -1):
            b.replace(node, _int_node(value + delta), cost,
                      f"{where} {value} -> {value + delta}", kind)
        return
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub)
            and isinstance(node.right, ast.Constant) and type(node.right.value) is int):
        # `n - 1` plus one is written `n`, not `n - 1 + 1`: the patch reads as the fix.
        offset = node.right.value if isinstance(node.op, ast.Add) else -node.right.value
        for delta in (1, -1):
            b.replace(node, _offset(node.left, offset + delta), cost,
                      f"{where} {_short(node)} -> {_short(_offset(node.left, offset + delta))}",
                      kind)
        return
    if isinstance(node, ast.Name | ast.BinOp | ast.Call | ast.Attribute | ast.Subscript):
        for delta in (1, -1):
            b.replace(node, _offset(node, delta), cost,
                      f"{where} {_short(node)} -> {_short(_offset(node, delta))}", kind)


def _offset(node: ast.expr, value: int) -> ast.expr:
    """`node + value` written the plain way: `node`, `node + 2` or `node - 1`."""
    if value == 0:
        return node
    op: ast.operator = ast.Add() if value > 0 else ast.Sub()
    return ast.BinOp(left=node, op=op, right=ast.Constant(value=abs(value)))


def _op_group(op: ast.operator) -> tuple[type[ast.operator], ...]:
    if isinstance(op, _ARITH):
        return _ARITH
    return _BITS if isinstance(op, _BITS) else ()


def _expression_edits(b: _Builder, node: ast.AST) -> None:
    m = b.m
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        _function_constants(b, node)
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            alternatives: list[tuple[type[ast.cmpop], int]] = []
            if type(op) in _CMP_PAIRS:
                alternatives.append((_CMP_PAIRS[type(op)], 1))
            elif isinstance(op, _ORDER_CMP):
                for cmp in _ORDER_CMP:
                    if cmp is not type(op):
                        close = frozenset((type(op), cmp)) in _CLOSE_CMP
                        alternatives.append((cmp, 1 if close else 2))
            for cmp_type, cost in alternatives:
                ops = [*node.ops[:i], cmp_type(), *node.ops[i + 1:]]
                b.replace(node, _with(node, ops=ops), cost,
                          f"compare {_SYMBOL[type(op)]} -> {_SYMBOL[cmp_type]}", "compare")
        if len(node.ops) == 1:
            b.replace(node, _with(node, left=node.comparators[0], comparators=[node.left]), 2,
                      "swap compared operands", "compare")
            _plus_minus(b, node.comparators[0], 2, "compared value", "compare")
    elif isinstance(node, ast.BinOp):
        for op_type in _op_group(node.op):
            if op_type is type(node.op):
                continue
            cost = 1 if frozenset((type(node.op), op_type)) in _CLOSE_BINOPS else 2
            b.replace(node, _with(node, op=op_type()), cost,
                      f"operator {_SYMBOL[type(node.op)]} -> {_SYMBOL[op_type]}", "operator")
        if not isinstance(node.op, ast.Mult | ast.BitAnd | ast.BitOr | ast.BitXor):
            b.replace(node, _with(node, left=node.right, right=node.left), 2,
                      f"swap operands of {_SYMBOL.get(type(node.op), '?')}", "operator")
        # Dropping a constant is a natural fix (a stray `+ " "`); dropping a computed
        # value (a call, a name) deletes behaviour.
        b.replace(node, node.left, 2, f"drop operand {_short(node.right)}", "operator",
                  _calls_own_code(node.right))
        b.replace(node, node.right, 2, f"drop operand {_short(node.left)}", "operator",
                  _calls_own_code(node.left))
    elif isinstance(node, ast.BoolOp):
        other_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        b.replace(node, _with(node, op=other_op), 1,
                  f"boolean {_SYMBOL[type(node.op)]} -> {_SYMBOL[type(other_op)]}", "condition")
        for i in range(len(node.values)):
            rest = node.values[:i] + node.values[i + 1:]
            dropped = rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
            b.replace(node, dropped, 2, f"drop condition {_short(node.values[i])}", "condition")
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            b.replace(node, node.operand, 1, "drop not", "condition")
        elif isinstance(node.op, ast.USub) and _int_value(node) is None:
            b.replace(node, node.operand, 2, "drop unary minus", "operator")
    elif isinstance(node, ast.Constant):
        parent = m.parents.get(node)
        if isinstance(node.value, bool):
            b.replace(node, ast.Constant(value=not node.value), 1,
                      f"constant {node.value} -> {not node.value}", "constant")
        elif type(node.value) is int and not (
            parent and isinstance(parent[0], ast.UnaryOp) and isinstance(parent[0].op, ast.USub)
        ):
            owner = parent[0] if parent else None
            if (isinstance(owner, ast.BinOp) and isinstance(owner.op, ast.Add | ast.Sub)
                    and owner.right is node and node.value in (1, -1)):
                # `x - 1` with the 1 made 0 reads better as plain `x`.
                b.replace(owner, owner.left, 1, f"constant {node.value} -> 0 "
                          f"({_short(owner)} -> {_short(owner.left)})", "constant")
                b.replace(node, _int_node(node.value + (1 if node.value > 0 else -1)), 1,
                          f"constant {node.value} -> {node.value + (1 if node.value > 0 else -1)}",
                          "constant")
            else:
                _plus_minus(b, node, 1, "constant")
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        scope = m.scopes.get(node)
        names = b.locals.setdefault(scope, _scope_names(scope))
        if node.id in names:
            twins = b.twins.setdefault(scope, _twin_names(scope))
            for name in names:
                if name != node.id:
                    # A name bound in the same statement (lo, hi = ...) is the likeliest
                    # mix-up: it comes first.
                    twin = frozenset((name, node.id)) in twins
                    b.replace(node, ast.Name(id=name, ctx=ast.Load()), 1 if twin else 2,
                              f"name {node.id} -> {name}", "name")
    elif isinstance(node, ast.Attribute):
        parent = m.parents.get(node)
        called = parent is not None and isinstance(parent[0], ast.Call) and parent[1] == "func"
        # Attributes of the same object first (self.width -> self.height); the whole
        # file's only when it uses few, or a big file would get thousands of candidates.
        pool = set(b.attrs_by_base.get((called, _base(node)), ()))
        everywhere = b.attrs_called if called else b.attrs_plain
        if len(everywhere) <= SMALL_ATTR_POOL:
            pool |= everywhere
        for siblings in _SIBLING_ATTRS:
            if node.attr in siblings:
                pool.update(siblings)
        for attr in sorted(pool - {node.attr}):
            b.replace(node, _with(node, attr=attr), 2, f"attribute .{node.attr} -> .{attr}",
                      "attribute")
    elif isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.Slice):
            for part in ("lower", "upper"):
                bound = getattr(index, part)
                if bound is not None:
                    _plus_minus(b, bound, 1, f"slice {part}", "index")
        elif not isinstance(index, ast.Tuple) and _int_value(index) is None:
            _plus_minus(b, index, 1, "index", "index")
        if isinstance(node.value, ast.Subscript) and not isinstance(node.value.slice, ast.Slice) \
                and not isinstance(index, ast.Slice):
            inner = copy.copy(node.value)
            inner.slice = index
            outer = copy.copy(node)
            outer.value, outer.slice = inner, node.value.slice
            b.replace(node, outer, 2, "swap subscripts", "index")
    elif isinstance(node, ast.Tuple | ast.List) and 2 <= len(node.elts) <= 4:
        for i, j in itertools.combinations(range(len(node.elts)), 2):
            elts = list(node.elts)
            elts[i], elts[j] = elts[j], elts[i]
            b.replace(node, _with(node, elts=elts), 2, f"swap elements {i} and {j}", "order")
    elif isinstance(node, ast.IfExp):
        _negate(b, node.test, "conditional expression")
    if isinstance(node, ast.Call):
        _call_edits(b, node)
    if isinstance(node, ast.For | ast.comprehension):
        _iteration_edits(b, node)
    if isinstance(node, ast.comprehension):
        for cond in node.ifs:
            _negate(b, cond, "comprehension filter")


def _call_edits(b: _Builder, node: ast.Call) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in _FUNC_SWAPS:
        b.replace(func, ast.Name(id=_FUNC_SWAPS[func.id], ctx=ast.Load()), 1,
                  f"call {func.id} -> {_FUNC_SWAPS[func.id]}", "call")
    if isinstance(func, ast.Name) and func.id == "range" and not node.keywords:
        for arg in node.args[:2]:
            _plus_minus(b, arg, 1, "range bound", "loop")
        if len(node.args) == 1:
            new = copy.copy(node)
            new.args = [ast.Constant(value=1), node.args[0]]
            b.replace(node, new, 2, "range(n) -> range(1, n)", "loop")
    elif not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args):
        for arg in node.args:
            if isinstance(arg, ast.Name | ast.Subscript | ast.Attribute | ast.BinOp):
                _plus_minus(b, arg, 3, "argument", "call")
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    if len(positional) == len(node.args) and len(node.args) >= 2:
        for i, j in itertools.combinations(range(min(len(node.args), 4)), 2):
            args = list(node.args)
            args[i], args[j] = args[j], args[i]
            new = copy.copy(node)
            new.args = args
            b.replace(node, new, 2, f"swap call arguments {i} and {j}", "call")
    name = ast.unparse(func) if isinstance(func, ast.Name | ast.Attribute) else ""
    if len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
        own = not (isinstance(func, ast.Name) and func.id in BUILTIN_NAMES)
        b.replace(node, node.args[0], 2, f"unwrap call {name}(...)", "call", own)
    elif not node.args and not node.keywords and isinstance(func, ast.Attribute):
        b.replace(node, func.value, 2, f"unwrap call .{func.attr}()", "call", True)
    _order_keywords(b, node)
    _recursive_yield(b, node)
    _normalizing_edits(b, node)


# Methods that only strings have: a receiver of one of them is text, which may need
# its surrounding whitespace or its case taken off first.
_TEXT_METHODS = frozenset({"split", "rsplit", "startswith", "endswith", "partition",
                           "rpartition", "splitlines", "isdigit", "isalpha", "isnumeric"})

_OPTIONAL_SEPARATOR = ("split", "rsplit")  # without it they split on runs of whitespace


def _normalizing_edits(b: _Builder, node: ast.Call) -> None:
    """Text used as it came in where it needed cleaning first: the receiver of a string
    method stripped or lower-cased (`line.split(",")` -> `line.strip().split(",")`), and
    a literal argument dropped where the method's default was meant (`s.split(" ")` ->
    `s.split()`, which also drops empty fields)."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS):
        return
    receiver = func.value
    if isinstance(receiver, ast.Name | ast.Attribute | ast.Subscript) and not (
            isinstance(receiver, ast.Name) and receiver.id in b.facts.modules):
        for clean in ("strip", "lower"):
            b.replace(receiver, _method(receiver, clean), 3,
                      f"{_short(receiver)}.{clean}() before .{func.attr}()", "call")
    if func.attr in _OPTIONAL_SEPARATOR and len(node.args) == 1 \
            and isinstance(node.args[0], ast.Constant) and not node.keywords:
        new = copy.copy(node)
        new.args = []
        b.replace(node, new, 3, f"{_short(node)} -> its default argument", "call")


_ORDERING = ("sorted", "min", "max")  # builtins that take key= (sorted and .sort: reverse= too)
_KEYS = ("len", "abs", "str.lower")   # key functions from the builtins


def _order_keywords(b: _Builder, node: ast.Call) -> None:
    """An ordering in the wrong direction or by the wrong measure: `reverse=True`
    added to `sorted(...)` / `.sort()`, and `key=` given (a builtin's, or a
    one-parameter function of the module) where there is none, or taken away."""
    func = node.func
    if isinstance(func, ast.Name) and func.id in _ORDERING and func.id not in b.facts.defined:
        sorts = func.id == "sorted"
    elif isinstance(func, ast.Attribute) and func.attr == "sort" and not node.args:
        sorts = True
    else:
        return
    given = {k.arg for k in node.keywords}
    if None in given:
        return  # **kwargs

    def with_keywords(keywords: list[ast.keyword]) -> ast.Call:
        new = copy.copy(node)
        new.keywords = keywords
        return new

    if sorts and "reverse" not in given:
        new = with_keywords([*node.keywords, ast.keyword(arg="reverse", value=ast.Constant(True))])
        b.replace(node, new, 2, f"{_short(node)} -> reverse=True", "call")
    if "key" in given:
        new = with_keywords([k for k in node.keywords if k.arg != "key"])
        b.replace(node, new, 3, f"{_short(node)} without key=", "call")
        return
    scope = b.m.scopes.get(node)
    own = [f.name for f in b.m.tree.body if isinstance(f, ast.FunctionDef) and f is not scope
           and len(f.args.args) == 1 and not f.args.vararg and not f.args.kwonlyargs]
    keys = [*_KEYS, *own[:4]]
    for key in keys:
        value = ast.parse(key, mode="eval").body
        new = with_keywords([*node.keywords, ast.keyword(arg="key", value=value)])
        b.replace(node, new, 3, f"{_short(node)} -> key={key}", "call")


def _recursive_yield(b: _Builder, node: ast.Call) -> None:
    """A generator that calls itself but drops what the call yields (`walk(child)` on
    a line of its own, or `yield walk(child)`, which yields the generator itself):
    `yield from walk(child)`."""
    scope = b.m.scopes.get(node)
    func = node.func
    if not (isinstance(scope, ast.FunctionDef) and isinstance(func, ast.Name)
            and func.id == scope.name and _is_generator(scope)):
        return
    parent = b.m.parents.get(node)
    if parent is None:
        return
    owner = parent[0]
    if isinstance(owner, ast.Expr):
        _replace_stmt(b, owner, ast.Expr(value=ast.YieldFrom(value=node)), 2,
                      f"yield from {_short(node)}", "statement")
    elif isinstance(owner, ast.Yield):
        b.replace(owner, ast.YieldFrom(value=node), 2, f"yield {_short(node)} -> yield from",
                  "statement")


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """Every node of a function's own code (nested functions and classes aside)."""
    todo = list(ast.iter_child_nodes(func))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                          | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))


def _is_generator(func: ast.FunctionDef) -> bool:
    return any(isinstance(node, ast.Yield | ast.YieldFrom) for node in _own_nodes(func))


_PAIRED = ("items", "enumerate", "zip", "range")  # iterations that already give pairs or indexes


def _iteration_edits(b: _Builder, loop: ast.For | ast.comprehension) -> None:
    """A loop over the wrong view of what it walks: pairs unpacked from a dict or a list
    itself (`for k, v in d`: `d.items()`; `for i, x in xs`: `enumerate(xs)`), or an
    index loop over the items (`for i in xs:` where the body reads `xs[i]`:
    `range(len(xs))`)."""
    it = loop.iter
    func = it.func if isinstance(it, ast.Call) else None
    called = (func.attr if isinstance(func, ast.Attribute) else
              func.id if isinstance(func, ast.Name) else None)
    if called in _PAIRED or not isinstance(it, ast.Name | ast.Attribute | ast.Subscript):
        return
    if isinstance(loop.target, ast.Tuple) and len(loop.target.elts) == 2:
        b.replace(it, _method(it, "items"), 2, f"iterate {_short(it)}.items()", "call")
        b.replace(it, _call("enumerate", it), 2, f"iterate enumerate({_short(it)})", "call")
    elif isinstance(loop.target, ast.Name) and isinstance(loop, ast.For):
        index = loop.target.id
        text = ast.unparse(it)
        reads = any(isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name)
                    and n.slice.id == index and ast.unparse(n.value) == text
                    for stmt in loop.body for n in ast.walk(stmt))
        if reads:
            b.replace(it, _call("range", _call("len", it)), 2,
                      f"iterate range(len({_short(it)}))", "loop")


def _swap_constants(b: _Builder, stmt: ast.stmt) -> None:
    """Two numbers of one expression swapped (`9 / 5` for `5 / 9`): both at once."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.If
                  | ast.For | ast.While | ast.With | ast.Try):
        return
    nums = [n for n in ast.walk(stmt) if isinstance(n, ast.Constant)
            and type(n.value) in (int, float) and b.m.anchors.get(n) is stmt]
    for one, two in itertools.combinations(nums[:6], 2):
        if one.value != two.value:
            b.replace_many([(one, ast.Constant(two.value)), (two, ast.Constant(one.value))], 2,
                           f"swap constants {one.value!r} and {two.value!r}", "constant")


def _statement_edits(b: _Builder, stmt: ast.stmt) -> None:
    m = b.m
    _swap_constants(b, stmt)
    if isinstance(stmt, ast.If | ast.While | ast.Assert):
        _negate(b, stmt.test, type(stmt).__name__.lower() + " condition")
    if isinstance(stmt, ast.AugAssign):
        for op_type in _op_group(stmt.op):
            if op_type is not type(stmt.op):
                cost = 1 if frozenset((type(stmt.op), op_type)) in _CLOSE_BINOPS else 2
                _replace_stmt(b, stmt, _with(stmt, op=op_type()), cost,
                              f"augmented {_SYMBOL[type(stmt.op)]}= -> {_SYMBOL[op_type]}=",
                              "operator")
        _plus_minus(b, stmt.value, 3, "augmented value", "loop")
    if isinstance(stmt, ast.Break | ast.Continue):
        other_stmt: ast.stmt = ast.Continue() if isinstance(stmt, ast.Break) else ast.Break()
        _replace_stmt(b, stmt, other_stmt, 2,
                      f"{type(stmt).__name__.lower()} -> {type(other_stmt).__name__.lower()}",
                      "loop")
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        scope = m.scopes.get(stmt)
        if not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
            b.replace(stmt.value, ast.Constant(value=None), 2, "return None", "statement",
                      _computed(stmt.value))
        for name in b.locals.setdefault(scope, _scope_names(scope)):
            if not (isinstance(stmt.value, ast.Name) and stmt.value.id == name):
                b.replace(stmt.value, ast.Name(id=name, ctx=ast.Load()), 2, f"return {name}",
                          "name", _calls_own_code(stmt.value))
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        _plus_minus(b, stmt.value, 3, "assigned value", "constant")
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        _plus_minus(b, stmt.value, 3, "returned value", "constant")
    parent = m.parents.get(stmt)
    if parent is None:
        return
    owner, fieldname, index = parent
    if index is None or not isinstance(owner, ast.FunctionDef | ast.AsyncFunctionDef | ast.If
                                       | ast.For | ast.While | ast.With | ast.Try):
        return
    body: list[ast.stmt] = getattr(owner, fieldname)
    where = m.whole_lines(stmt)
    if where is None:
        return
    start, end, indent = where
    _delete(b, stmt, body, index, start, end, indent)
    _swap_next(b, stmt, body, index)
    _split_in_place_call(b, stmt, body, index)
    scope = m.scopes.get(stmt)
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        _insert_copies(b, stmt, body, index, scope, start, indent)
        first = 1 if _has_docstring(scope) else 0
        if owner is scope and index == first:
            # Guards go where a missing one belongs: first thing in the function.
            _guards(b, stmt, body, index, scope, start, indent)
        if index > 0:
            _value_guards(b, stmt, body, index, start, indent)


def _replace_stmt(b: _Builder, stmt: ast.stmt, new: ast.stmt, cost: int, label: str,
                  kind: str = "statement") -> None:
    where = b.m.whole_lines(stmt)
    parent = b.m.parents.get(stmt)
    if where is None or parent is None:
        return
    start, end, indent = where
    owner, fieldname, index = parent
    try:
        text = "".join(indent + ln + "\n" for ln in ast.unparse(new).split("\n"))
    except (ValueError, TypeError, AttributeError):
        return
    # One simple statement rewritten in place: it combines with an edit elsewhere
    # (a two-place fix) as any one-expression edit does.
    b.body_edit(stmt, cost, label, start, end, text,
                lambda: set_field(owner, fieldname, index, new), kind,
                pairable=not isinstance(stmt, ast.If | ast.For | ast.While | ast.With | ast.Try))


def _delete(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
            start: int, end: int, indent: str) -> None:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return
    alone = len(body) == 1

    def mutate() -> Undo:
        if alone:
            body[index] = ast.Pass()
        else:
            del body[index]

        def undo() -> None:
            if alone:
                body[index] = stmt
            else:
                body.insert(index, stmt)

        return undo

    cost = 3 if not isinstance(stmt, ast.If | ast.For | ast.While | ast.With | ast.Try) else 4
    b.body_edit(stmt, cost, f"delete statement {_short(stmt, 30)!r}", start, end,
                indent + "pass\n" if alone else "", mutate, "delete", True)


def _swap_next(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int) -> None:
    if index + 1 >= len(body):
        return
    nxt = body[index + 1]
    here, there = b.m.whole_lines(stmt), b.m.whole_lines(nxt)
    if here is None or there is None or isinstance(stmt, ast.FunctionDef | ast.ClassDef) \
            or isinstance(nxt, ast.FunctionDef | ast.ClassDef):
        return
    text = b.m.text

    def mutate() -> Undo:
        body[index], body[index + 1] = nxt, stmt

        def undo() -> None:
            body[index], body[index + 1] = stmt, nxt

        return undo

    b.body_edit(stmt, 3, f"swap statement with the next one (line {nxt.lineno})", here[0],
                there[1], text[there[0]:there[1]] + text[here[0]:here[1]], mutate, "statement")
    # The swapped text may lack a final newline at the end of the file: render's
    # parse check drops the candidate in that case.


def _left_unused(loop: ast.stmt, after: list[ast.stmt]) -> set[str]:
    """Names a loop writes whose last value nothing after the loop reads: a statement of
    the loop that consumes one is likely missing once more after it (a last field)."""
    written = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name)
               and isinstance(n.ctx, ast.Store)}
    if isinstance(loop, ast.For):
        written -= {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    read_after = {n.id for s in after for n in ast.walk(s) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Load)}
    return written - read_after


def _insert_copies(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
                   scope: ast.AST, start: int, indent: str) -> None:
    loop = body[index - 1] if index > 0 and isinstance(body[index - 1], ast.For | ast.While) \
        else None
    unused = _left_unused(loop, body[index:]) if loop is not None else set()
    inside = set(ast.walk(loop)) if loop is not None else set()
    for other in ast.walk(scope):
        if not isinstance(other, ast.Assign | ast.AugAssign | ast.Expr | ast.Return
                          | ast.Break | ast.Continue) or other is stmt:
            continue
        if abs(other.lineno - stmt.lineno) > INSERT_WINDOW:
            continue  # a statement repeated far away is rarely the fix; keeps this O(n)
        if b.m.scopes.get(other) is not scope:
            continue
        src = b.m.source_of(other)
        if src is None:
            continue
        text = "".join(indent + ln + "\n" for ln in src.rstrip("\n").split("\n"))

        def mutate(other: ast.stmt = other) -> Undo:
            body.insert(index, other)
            return lambda: _pop(body, index)

        reads = {n.id for n in ast.walk(other) if isinstance(n, ast.Name)
                 and isinstance(n.ctx, ast.Load)}
        flushes = other in inside and bool(reads & unused)
        b.body_edit(stmt, 2 if flushes else 4,
                    f"insert a copy of line {other.lineno} before line {stmt.lineno}"
                    + (" (after the loop, for the value it leaves unused)" if flushes else ""),
                    start, start, text, mutate, "insert")


def _pop(body: list[ast.stmt], index: int) -> None:
    del body[index]


def _has_docstring(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = func.body[0]
    return (len(func.body) > 1 and isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str))


def _guards(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
            scope: ast.FunctionDef | ast.AsyncFunctionDef, start: int, indent: str) -> None:
    params = [a.arg for a in [*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs]]
    for name in [p for p in params if p not in ("self", "cls")]:
        for test in (f"{name} is None", f"not {name}"):
            _guard_edits(b, stmt, body, index, start, indent, test)


def _value_guards(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
                  start: int, indent: str) -> None:
    """A guard for a value computed just before `stmt` (``words = text.split()``)
    that `stmt` or a later statement of the block indexes (``words[-1]``): ``if not
    words: return R`` in front of `stmt`, for the empty input the code forgets."""
    before = body[index - 1]
    if not (isinstance(before, ast.Assign) and len(before.targets) == 1
            and isinstance(before.targets[0], ast.Name)):
        return
    name = before.targets[0].id
    indexed = any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                  and n.value.id == name and isinstance(n.ctx, ast.Load)
                  for later in body[index:] for n in ast.walk(later))
    if not indexed:
        return
    _guard_edits(b, stmt, body, index, start, indent, f"not {name}")


def _guard_edits(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
                 start: int, indent: str, test: str) -> None:
    """``if TEST: return R`` inserted in front of `stmt`, one edit per result R."""
    for result in _GUARD_RESULTS:
        guard = ast.parse(f"if {test}:\n    return {result}\n").body[0]
        text = f"{indent}if {test}:\n{indent}    return {result}\n"

        def mutate(guard: ast.stmt = guard) -> Undo:
            body.insert(index, guard)
            return lambda: _pop(body, index)

        b.body_edit(stmt, 3, f"guard: if {test}: return {result}", start, start, text,
                    mutate, "guard")


# -- edits that reshape an expression: wrap, extend, convert, look up with a default ----

# Calls the builtins offer, tried around a value: conversions first (a TypeError's fix).
_CONVERSIONS = ("str", "int", "float", "list", "tuple")
_WRAPS_RETURN = ("sorted", "len", "set", "abs", "round", "sum", "bool", "max", "min")
_WRAPS_VALUE = ("len", "sorted", "abs", "set")
# A separator or short punctuation constant may be any other of these.
_SEPARATORS = (",", ", ", ";", " ", "\t", "\n", "|", ":", "-", "_", "/", ".", "")
_STRFTIME = set("aAbBcdfHIjmMpSUwWxXyYzZ")
_SCALES = (2, 10, 60, 24, 1000)
_SPLITS = ("split", "rsplit", "splitlines")  # str methods whose result is a list of parts
_WRAPPABLE = (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.BinOp)
NAME_POOL = 6  # names in scope offered for an inserted statement
SIBLINGS = 6  # other functions of the same standard module offered for one
CLAUSE_NAMES = 3  # names a clause added to a condition may test


def _call(func: str, arg: ast.expr, *more: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=func, ctx=ast.Load()), args=[arg, *more], keywords=[])


def _method(value: ast.expr, name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=value, attr=name, ctx=ast.Load()),
                    args=list(args), keywords=[])


def _wrap(b: _Builder, node: ast.expr, funcs: tuple[str, ...], cost: int) -> None:
    """`f(node)` for each f (conversions are kind "convert", others "wrap")."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in funcs:
        return
    for func in funcs:
        kind = "convert" if func in _CONVERSIONS else "wrap"
        b.replace(node, _call(func, node), cost, f"wrap {_short(node)} in {func}()", kind)


def _holds_set(b: _Builder, node: ast.Name) -> bool:
    """Whether the function around `node` binds its name only to sets (`set()`,
    `{a, b}`, a set comprehension)."""
    scope = b.m.scopes.get(node)
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    values = [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
    return bool(values) and all(
        isinstance(v, ast.Set | ast.SetComp) or (isinstance(v, ast.Call) and isinstance(
            v.func, ast.Name) and v.func.id in ("set", "frozenset")) for v in values)


def _value_role(b: _Builder, node: ast.expr) -> str:
    """Where a value sits: "return", "assign", "argument", "operand", "compared" or ""."""
    parent = b.m.parents.get(node)
    if parent is None:
        return ""
    owner, fieldname, _ = parent
    if isinstance(owner, ast.IfExp) and fieldname in ("body", "orelse"):
        return _value_role(b, owner)  # either branch's value goes where the whole goes
    if isinstance(owner, ast.Return):
        return "return"
    if isinstance(owner, ast.Assign | ast.AnnAssign) and fieldname == "value":
        return "assign"
    if isinstance(owner, ast.Call) and fieldname == "args":
        return "argument"
    if isinstance(owner, ast.BinOp):
        return "operand"
    if isinstance(owner, ast.ListComp | ast.GeneratorExp | ast.SetComp) and fieldname == "elt":
        return "element"
    if isinstance(owner, ast.Tuple | ast.List) and fieldname == "elts":
        grand = b.m.parents.get(owner)
        return "element" if grand is not None and isinstance(grand[0], ast.Return) else ""
    if isinstance(owner, ast.Compare):
        return "compared"
    return ""


def _reshape_edits(b: _Builder, node: ast.AST) -> None:
    if isinstance(node, ast.expr) and isinstance(node, _WRAPPABLE):
        role = _value_role(b, node)
        if role == "return":
            if isinstance(node, ast.Name) and _holds_set(b, node):
                # A set returned where a list is wanted: only sorted() gives one order.
                b.replace(node, _call("sorted", node), 2, f"wrap {node.id} in sorted() "
                          "(a set has no order)", "wrap")
            _wrap(b, node, (*_CONVERSIONS, *_WRAPS_RETURN[:2]), 3)
            _wrap(b, node, _WRAPS_RETURN[2:], 4)
            b.replace(node, ast.List(elts=[node], ctx=ast.Load()), 3,
                      f"one-element list [{_short(node)}]", "wrap")
            b.replace(node, ast.Tuple(elts=[node], ctx=ast.Load()), 3,
                      f"one-element tuple ({_short(node)},)", "wrap")
        elif role == "assign":
            _wrap(b, node, (*_CONVERSIONS, *_WRAPS_VALUE), 3)
        elif role == "element":
            _wrap(b, node, ("str", "int", "float", "len"), 3)
        elif role in ("argument", "operand", "compared"):
            # Many values sit in these places: a TypeError at the line raises them (kind).
            _wrap(b, node, ("str", "int", "float", "len") if role != "argument"
                  else (*_CONVERSIONS, "len", "sorted"), 4)
        if role in ("return", "argument") and isinstance(node, ast.Name | ast.Attribute | ast.Call):
            for lower, upper, step in ((1, None, None), (None, -1, None), (None, None, -1)):
                sl = ast.Slice(lower=None if lower is None else _int_node(lower),
                               upper=None if upper is None else _int_node(upper),
                               step=None if step is None else _int_node(step))
                new = ast.Subscript(value=node, slice=sl, ctx=ast.Load())
                b.replace(node, new, 3 if role == "return" else 4, f"slice {_short(new)}",
                          "index")
        if role in ("argument", "operand", "return", "assign") and isinstance(
                node, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            for method in ("encode", "decode"):
                b.replace(node, _method(node, method), 3 if role in ("return", "assign") else 4,
                          f"{_short(node)}.{method}()", "convert")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and 1 <= len(node.args) <= 2 and not node.keywords \
                and not any(isinstance(a, ast.Starred) for a in node.args) \
                and not (isinstance(node.func.value, ast.Name)
                         and node.func.value.id in b.facts.modules):
            # A count or limit the call was meant to have (`split(":", 1)`).
            b.replace(node, _with(node, args=[*node.args, ast.Constant(1)]), 3,
                      f"{_short(node)} with a last argument 1", "call")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "join" and len(node.args) == 1 and not node.keywords:
        _join_conversions(b, node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in _SPLITS:
        _mapped_conversions(b, node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
            and _value_role(b, node) in ("argument", "return", "assign"):
        # A ratio where a percentage is meant, or the reverse.
        for op in (ast.Mult(), ast.Div()):
            scaled = ast.BinOp(left=node, op=op, right=ast.Constant(100))
            b.replace(node, scaled, 3, f"{_short(node)} {_SYMBOL[type(op)]} 100", "constant")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and not node.args \
            and node.func.value.id not in b.facts.modules:
        # The method meant for a part of its receiver: its first item, or all but it.
        receiver = node.func.value
        for sl in (ast.Slice(lower=None, upper=ast.Constant(1), step=None),
                   ast.Slice(lower=ast.Constant(1), upper=None, step=None)):
            new = ast.Subscript(value=receiver, slice=sl, ctx=ast.Load())
            b.replace(receiver, new, 4, f"receiver {_short(new)}", "index")
    if isinstance(node, ast.Return) and isinstance(node.value, ast.List):
        b.replace(node.value, ast.Tuple(elts=node.value.elts, ctx=ast.Load()), 2,
                  "return a tuple, not a list", "convert")
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        _subscript_edits(b, node)
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) \
            and id(node) not in b.facts.docstrings:
        _string_edits(b, node)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        _scaled_int_edits(b, node)
        if abs(node.value) >= 2:
            for name in _near_names(b, node):
                b.replace(node, ast.Name(id=name, ctx=ast.Load()), 3,
                          f"constant {node.value} -> {name}", "constant")
    if isinstance(node, ast.ExceptHandler) and node.type is not None:
        _exception_edits(b, node)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        _module_sibling_edits(b, node)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
            and node.id in b.facts.from_names:
        _imported_sibling_edits(b, node)
    if isinstance(node, ast.List | ast.Tuple) and not node.elts \
            and isinstance(node.ctx, ast.Load) and _value_role(b, node) in ("assign", "return"):
        _fill_empty(b, node)


def _mapped_conversions(b: _Builder, call: ast.Call) -> None:
    """The parts of a split text used as they are, where numbers were meant
    (`v.split(".")` as a sort key compares '10' < '9'): `list(map(int, ...))` and
    `list(map(float, ...))` around the split, where its whole result is used (not
    indexed, not a receiver, not already mapped)."""
    parent = b.m.parents.get(call)
    if parent is None:
        return
    owner = parent[0]
    if isinstance(owner, ast.Attribute | ast.Subscript | ast.Starred | ast.Expr) or (
            isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id in ("map", "len", *_CONVERSIONS)):
        return
    for conv in ("int", "float"):
        new = _call("list", _call("map", ast.Name(id=conv, ctx=ast.Load()), call))
        b.replace(call, new, 3, f"list(map({conv}, {_short(call, 30)}))", "convert")


def _join_conversions(b: _Builder, call: ast.Call) -> None:
    """``sep.join(...)`` of values that are not all strings: each element of a
    literal list or tuple that is not already a string made one with ``str()``, or
    ``map(str, ...)`` around any other iterable."""
    arg = call.args[0]
    if isinstance(arg, ast.List | ast.Tuple) and arg.elts:
        elts: list[ast.expr] = []
        said: list[str] = []
        for elt in arg.elts:
            span = b.m.span(elt)
            if span is None:
                return
            source = b.m.text[span[0]:span[1]]
            if isinstance(elt, ast.Starred) or (isinstance(elt, ast.Constant)
                                                and isinstance(elt.value, str)) \
                    or (isinstance(elt, ast.Call) and isinstance(elt.func, ast.Name)
                        and elt.func.id == "str"):
                elts.append(elt)
                said.append(source)
            else:
                elts.append(_call("str", elt))
                said.append(f"str({source})")
        if any(new is not old for new, old in zip(elts, arg.elts, strict=True)):
            inner = ", ".join(said)
            text = f"[{inner}]" if isinstance(arg, ast.List) else \
                f"({inner}{',' if len(said) == 1 else ''})"
            b.replace(arg, _with(arg, elts=elts), 2,
                      "str() around each joined element that is not a string", "convert",
                      text=text)
    elif not (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name)
              and arg.func.id == "map"):
        b.replace(arg, _call("map", ast.Name(id="str", ctx=ast.Load()), arg), 3,
                  f"join map(str, {_short(arg, 20)})", "convert")


def _near_names(b: _Builder, node: ast.AST, limit: int = 4) -> list[str]:
    """Names in scope at `node` a constant may stand for: the targets of the loops around
    it (innermost first), then the function's parameters."""
    scope = b.m.scopes.get(node)
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    names: list[str] = []
    at: ast.AST | None = node
    while at is not None and at is not scope:
        parent = b.m.parents.get(at)
        came_from = parent[1] if parent else ""
        at = parent[0] if parent else None
        if isinstance(at, ast.For) and came_from == "body":
            names += [n.id for n in ast.walk(at.target) if isinstance(n, ast.Name)]
    names += [a.arg for a in scope.args.args if a.arg not in ("self", "cls")]
    return list(dict.fromkeys(names))[:limit]


def _fill_empty(b: _Builder, node: ast.List | ast.Tuple) -> None:
    """An empty list or tuple that should hold something: a name in scope (a worklist
    seeded with its start, a group started with its first item)."""
    for arg in _near_names(b, node):
        elts: list[ast.expr] = [ast.Name(id=arg, ctx=ast.Load())]
        new = ast.List(elts=elts, ctx=ast.Load()) if isinstance(node, ast.List) \
            else ast.Tuple(elts=elts, ctx=ast.Load())
        b.replace(node, new, 3, f"empty {ast.unparse(node)} -> {ast.unparse(new)}", "constant")
    # The base case of a recursive enumeration (subsets, orderings): one empty one, not none.
    parent = b.m.parents.get(node)
    scope = b.m.scopes.get(node)
    if isinstance(node, ast.List) and parent is not None and isinstance(parent[0], ast.Return) \
            and isinstance(scope, ast.FunctionDef) and _calls_itself(scope):
        b.replace(node, ast.List(elts=[ast.List(elts=[], ctx=ast.Load())], ctx=ast.Load()), 3,
                  "return [] -> return [[]] (the base case holds one empty one)", "constant")


def _calls_itself(func: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id == func.name for n in ast.walk(func))


def _subscript_edits(b: _Builder, node: ast.Subscript) -> None:
    index = node.slice
    if isinstance(index, ast.Slice) and index.lower is not None and index.upper is not None \
            and not isinstance(index.lower, ast.Constant):
        # A window's end written as its length: values[i:size] -> values[i:i + size]
        end = ast.BinOp(left=index.lower, op=ast.Add(), right=index.upper)
        b.replace(index.upper, end, 2, f"slice upper {_short(index.upper)} -> {_short(end)}",
                  "index")
    if isinstance(index, ast.Slice):
        _slice_edits(b, node, index)
        return
    if isinstance(index, ast.Tuple):
        return
    value = _int_value(index)
    if value is not None:
        if value in (0, -1):
            b.replace(index, _int_node(-1 - value), 2, f"index {value} -> {-1 - value}", "index")
    else:
        seq = node.value
        if isinstance(index, ast.Name):
            length = _call("len", seq)
            for new, text in (
                (ast.BinOp(left=_int_node(-1), op=ast.Sub(), right=index), f"-1 - {index.id}"),
                (ast.BinOp(left=index, op=ast.FloorDiv(), right=ast.Constant(2)),
                 f"{index.id} // 2"),
                (ast.BinOp(left=length, op=ast.Sub(), right=index), f"len(...) - {index.id}"),
                (ast.BinOp(left=ast.BinOp(left=length, op=ast.Sub(), right=ast.Constant(1)),
                           op=ast.Sub(), right=index), f"len(...) - 1 - {index.id}"),
            ):
                b.replace(index, new, 3, f"index {index.id} -> {text}", "index")
        parent = b.m.parents.get(node)
        stored = parent is not None and isinstance(parent[0], ast.AugAssign)
        if not stored and isinstance(seq, ast.Name | ast.Attribute | ast.Subscript):
            b.replace(node, _method(seq, "get", index), 3,
                      f"{_short(node)} -> .get({_short(index)})", "get")
            defaults: list[ast.expr] = [ast.Constant(0), ast.Constant(""),
                                        ast.List(elts=[], ctx=ast.Load()), ast.Constant(None)]
            defaults += [ast.Name(id=n, ctx=ast.Load()) for n in b.facts.constants][:8]
            defaults += [ast.Constant(text) for text in _quoted_in_docstring(b, node)]
            defaults.append(index)  # fall back to the key itself
            for default in defaults:
                b.replace(node, _method(seq, "get", index, default), 3,
                          f"{_short(node)} -> .get({_short(index)}, {ast.unparse(default)})",
                          "get")


def _negated(node: ast.expr) -> ast.expr:
    """`-node`, written plainly: -3 for 3, n for -n."""
    value = _int_value(node)
    if value is not None:
        return _int_node(-value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    return ast.UnaryOp(op=ast.USub(), operand=node)


def _slice_edits(b: _Builder, node: ast.Subscript, sl: ast.Slice) -> None:
    """A one-sided slice whose bound is on the wrong side or counts from the wrong
    end (`xs[:n]` for the last n: `xs[-n:]`; `xs[1:]` for all but the last:
    `xs[:-1]`)."""
    if sl.step is not None or (sl.lower is None) == (sl.upper is None):
        return
    bound = sl.lower if sl.lower is not None else sl.upper
    assert bound is not None
    minus = _negated(bound)
    shapes: tuple[tuple[ast.expr | None, ast.expr | None, int], ...]
    if sl.lower is not None:  # xs[a:]
        shapes = ((None, bound, 2), (minus, None, 2), (None, minus, 3))
    else:  # xs[:b]
        shapes = ((bound, None, 2), (None, minus, 2), (minus, None, 3))
    for lower, upper, cost in shapes:
        new = ast.Subscript(value=node.value, slice=ast.Slice(lower=lower, upper=upper),
                            ctx=node.ctx)
        b.replace(node, new, cost, f"slice {_short(node)} -> {_short(new)}", "index")


# A quoted value, not an apostrophe (`unit's`): no word character just outside.
_QUOTED = re.compile(r"(?<!\w)'([^'\n]{1,40})'(?!\w)|(?<!\w)\"([^\"\n]{1,40})\"(?!\w)"
                     r"|`([^`\n]{1,40})`")


def _quoted_in_docstring(b: _Builder, node: ast.AST, limit: int = 3) -> list[str]:
    """Values the docstring of `node`'s function quotes ("unknown codes get
    'Unknown'"): what a default it names is written as, at most `limit`."""
    scope = b.m.scopes.get(node)
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    doc = ast.get_docstring(scope) or ""
    found = dict.fromkeys(next(g for g in match.groups() if g is not None)
                          for match in _QUOTED.finditer(doc))
    return list(found)[:limit]


def _literal(b: _Builder, node: ast.Constant, value: str | bytes) -> str:
    """`value` written as a literal in the quotes `node` is written in."""
    text = repr(value)
    span = b.m.span(node)
    original = b.m.text[span[0]:span[1]] if span else ""
    quote = original.lstrip("bBrRuU")[:1]
    body = text[2:-1] if isinstance(value, bytes) else text[1:-1]
    prefix = "b" if isinstance(value, bytes) else ""
    if quote == '"' and text[len(prefix)] == "'" and '"' not in body:
        return f'{prefix}"{body}"'
    return text


def _put_string(b: _Builder, node: ast.Constant, value: str | bytes, cost: int, label: str,
                kind: str) -> None:
    b.replace(node, ast.Constant(value), cost, label, kind, text=_literal(b, node, value))


def _separator_use(b: _Builder, node: ast.Constant) -> bool:
    """Whether a string is the receiver of a call (`",".join`), an argument of a method
    call (`s.split(",")`) or a keyword argument (`sep=","`)."""
    parent = b.m.parents.get(node)
    if parent is None:
        return False
    owner, fieldname, _ = parent
    if isinstance(owner, ast.Attribute) and fieldname == "value":
        grand = b.m.parents.get(owner)
        return grand is not None and isinstance(grand[0], ast.Call)
    if isinstance(owner, ast.Call) and fieldname == "args":
        return isinstance(owner.func, ast.Attribute)
    return isinstance(owner, ast.keyword)


def _string_edits(b: _Builder, node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, bytes):
        try:
            _put_string(b, node, value.decode("ascii"), 3, "bytes literal -> str", "convert")
        except UnicodeDecodeError:
            pass
        return
    assert isinstance(value, str)
    parent = b.m.parents.get(node)
    if parent is not None and isinstance(parent[0], ast.Assign | ast.AnnAssign) \
            and b.m.scopes.get(node) is None:
        defining = True  # a module constant's own definition: keep offering other values
    else:
        defining = False
    if value.isascii():
        _put_string(b, node, value.encode("ascii"), 3, "str literal -> bytes", "convert")
    if not defining:
        for name, const in b.facts.str_constants.items():
            if const != value:
                b.replace(node, ast.Name(id=name, ctx=ast.Load()), 2,
                          f"string {_short(node)} -> module constant {name}", "string")
    if len(value) <= 2 and not any(c.isalnum() for c in value):
        # A separator where the string is used as one (joins, splits, keywords), else
        # only a punctuation constant at a higher cost.
        used_as_separator = _separator_use(b, node)
        if used_as_separator or value:
            for sep in _SEPARATORS:
                if sep != value:
                    _put_string(b, node, sep, 2 if used_as_separator else 3,
                                f"string {value!r} -> {sep!r}", "string")
    directives = [i for i in range(len(value) - 1)
                  if value[i] == "%" and value[i + 1] in _STRFTIME
                  and (i == 0 or value[i - 1] != "%")]
    for i in directives:
        flipped = value[i + 1].swapcase()
        if flipped in _STRFTIME:
            new = value[: i + 1] + flipped + value[i + 2:]
            _put_string(b, node, new, 2, f"format {value!r} -> {new!r}", "string")
    for i, j in itertools.combinations(directives, 2):
        chars = list(value)
        chars[i + 1], chars[j + 1] = chars[j + 1], chars[i + 1]
        new = "".join(chars)
        if new != value:
            _put_string(b, node, new, 2, f"format {value!r} -> {new!r}", "string")
    others = [s for s in b.facts.strings if s != value and (len(s) <= 2) == (len(value) <= 2)]
    for other in closest(value, others, 4):
        _put_string(b, node, other, 3, f"string {_short(node)} -> {other!r}", "string")


def _scaled_int_edits(b: _Builder, node: ast.Constant) -> None:
    """An integer that is wrong by a unit, not by one: times or divided by 2, 10, 60,
    24, 1000, and a round decimal for the nearby power of two (1000 <-> 1024)."""
    if type(node.value) is not int:
        return
    n: int = node.value
    parent = b.m.parents.get(node)
    if (parent and isinstance(parent[0], ast.UnaryOp)) or abs(n) < 2:
        return
    values: list[int] = []
    for k in _SCALES:
        values.append(n * k)
        if n % k == 0:
            values.append(n // k)
    if n > 0:
        power = 1 << (n.bit_length() - 1)
        values += [power, power << 1]  # the powers of two around it
        exponent = n.bit_length() - 1
        if n == power and exponent % 10 == 0:
            values.append(1000 ** (exponent // 10))  # 1024 -> 1000, 1048576 -> 1000000
        for k in range(1, 5):
            if n == 1000 ** k:
                values.append(1024 ** k)  # 1000 -> 1024
    # A unit written more than once in a function (`size < 1000`, `size /= 1000`) is
    # changed at every use at once, before any one use alone (which would be
    # inconsistent with the others).
    twins = _same_constants(b, node) if abs(n) >= 10 else []
    seen: set[int] = {n, n + 1, n - 1}
    for value in values:
        if value not in seen and value > 0:
            seen.add(value)
            if twins and twins[0] is node:
                b.replace_many([(t, _int_node(value)) for t in twins], 2,
                               f"constant {n} -> {value} at every use in this function",
                               "constant")
            b.replace(node, _int_node(value), 3 if twins else 2, f"constant {n} -> {value}",
                      "constant")


def _same_constants(b: _Builder, node: ast.Constant) -> list[ast.Constant]:
    """The constants of `node`'s function equal to it (itself included) in source
    order, when there are at least two; else []."""
    anchor = b.m.anchors.get(node)
    scope = b.m.scopes.get(anchor) if anchor is not None else None
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    same = [c for c in ast.walk(scope) if isinstance(c, ast.Constant) and type(c.value) is int
            and c.value == node.value and b.m.span(c) is not None
            and not (b.m.parents.get(c) and isinstance(b.m.parents[c][0], ast.UnaryOp))]
    same.sort(key=lambda c: (c.lineno, c.col_offset))
    return same if len(same) >= 2 else []


def _exception_edits(b: _Builder, handler: ast.ExceptHandler) -> None:
    caught = handler.type
    if not isinstance(caught, ast.Name):
        return
    pool: list[str] = []
    for node in ast.walk(b.m.tree):
        if isinstance(node, ast.Name) and node.id.endswith(("Error", "Exception")) \
                and node.id != caught.id and node.id not in pool:
            pool.append(node.id)
    for name in [*exception_relatives(caught.id)[:8], "Exception"]:
        if name not in pool and name != caught.id:
            pool.append(name)
    for name in pool:
        b.replace(caught, ast.Name(id=name, ctx=ast.Load()), 2,
                  f"except {caught.id} -> {name}", "exception")
    for name in pool[:4]:
        both = ast.Tuple(elts=[caught, ast.Name(id=name, ctx=ast.Load())], ctx=ast.Load())
        b.replace(caught, both, 3, f"except {caught.id} -> ({caught.id}, {name})", "exception")


def _module_sibling_edits(b: _Builder, node: ast.Attribute) -> None:
    """`json.loads` -> `json.load`: another function of the same standard module."""
    assert isinstance(node.value, ast.Name)
    module = b.facts.modules.get(node.value.id)
    if module is None:
        return
    for other in stdlib_siblings(module, node.attr, SIBLINGS):
        b.replace(node, _with(node, attr=other), 2, f"call {module}.{node.attr} -> .{other}",
                  "call")


def _imported_sibling_edits(b: _Builder, node: ast.Name) -> None:
    """`from statistics import mean` -> `median`: the import and every use at once."""
    module, name = b.facts.from_names[node.id]
    if node.id != name or node is not _first_use(b, node.id):
        return
    uses = [n for n in ast.walk(b.m.tree) if isinstance(n, ast.Name) and n.id == name
            and b.m.span(n) is not None]
    aliases = [a for stmt in b.m.tree.body if isinstance(stmt, ast.ImportFrom)
               and stmt.module == module for a in stmt.names if a.name == name]
    if len(aliases) != 1:
        return
    for other in stdlib_siblings(module, name, SIBLINGS):
        changes: list[tuple[ast.AST, ast.AST]] = [
            (u, ast.Name(id=other, ctx=u.ctx)) for u in uses]
        changes.append((aliases[0], ast.alias(name=other)))
        b.replace_many(changes, 2, f"call {module}.{name} -> {module}.{other}", "call")


def _first_use(b: _Builder, name: str) -> ast.Name | None:
    if name not in b.first_use:
        b.first_use[name] = next((n for n in ast.walk(b.m.tree) if isinstance(n, ast.Name)
                                  and n.id == name and isinstance(n.ctx, ast.Load)), None)
    return b.first_use[name]


# -- edits that add: clauses, guards in loops, statements a function is missing --------


def _clause_names(b: _Builder, stmt: ast.stmt, test: ast.expr) -> list[str]:
    """Names a new clause may test: those the condition reads that are in scope, then
    the function's parameters; for a condition that reads none (`while True`), the names
    in scope its body reads. At most CLAUSE_NAMES."""
    scope = b.m.scopes.get(stmt)
    in_scope = b.locals.setdefault(scope, _scope_names(scope))
    names = [n.id for n in ast.walk(test) if isinstance(n, ast.Name) and n.id in in_scope]
    if not names:
        names = [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id in in_scope]
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        names += [a.arg for a in scope.args.args if a.arg not in ("self", "cls")]
    return list(dict.fromkeys(names))[:CLAUSE_NAMES]


def _widen_narrow(b: _Builder, stmt: ast.If | ast.While, test: ast.expr) -> None:
    names = _clause_names(b, stmt, test)
    clauses: list[ast.expr] = []
    for name in names:
        ref = ast.Name(id=name, ctx=ast.Load())
        clauses += [ref, ast.UnaryOp(op=ast.Not(), operand=ref),
                    ast.Compare(left=ref, ops=[ast.Is()], comparators=[ast.Constant(None)]),
                    ast.Compare(left=ref, ops=[ast.IsNot()], comparators=[ast.Constant(None)])]
    tested = [n.id for n in ast.walk(test) if isinstance(n, ast.Name) and n.id in names]
    for name in tested[:2]:
        for other in names:
            if other != name:
                for cmp in (ast.Gt(), ast.GtE(), ast.Lt(), ast.LtE()):
                    clauses.append(ast.Compare(left=ast.Name(id=name, ctx=ast.Load()), ops=[cmp],
                                               comparators=[ast.Name(id=other, ctx=ast.Load())]))
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Name) \
                and isinstance(sub.value, ast.Name):
            clauses.append(ast.Compare(left=sub.slice, ops=[ast.Lt()],
                                       comparators=[_call("len", sub.value)]))
    if isinstance(test, ast.Constant):
        for clause in clauses:
            b.replace(test, clause, 3, f"condition {_short(test)} -> {_short(clause)}",
                      "condition")
        return
    seen: set[str] = set()
    for clause in clauses:
        text = ast.unparse(clause)
        if text in seen or text == ast.unparse(test):
            continue
        seen.add(text)
        for values, word, cost in (([clause, test], f"{_short(clause)} and ...", 3),
                                   ([test, clause], f"... and {_short(clause)}", 3),
                                   ([test, clause], f"... or {_short(clause)}", 3)):
            op: ast.boolop = ast.Or() if "... or" in word else ast.And()
            b.replace(test, ast.BoolOp(op=op, values=values), cost, f"condition {word}",
                      "condition")


def _import_form_edits(b: _Builder, stmt: ast.Import | ast.ImportFrom) -> None:
    """`import M` where the code means the class M of module M (`datetime.strptime`
    after `import datetime`): `from M import M`; and the reverse, `from M import M` ->
    `import M`. Only for a standard module whose top level has a name like itself."""
    if isinstance(stmt, ast.Import):
        if len(stmt.names) != 1 or stmt.names[0].asname or "." in stmt.names[0].name:
            return
        name = stmt.names[0].name
        module = stdlib_module(name)
        if module is None or not callable(getattr(module, name, None)):
            return
        new: ast.stmt = ast.ImportFrom(module=name, names=[ast.alias(name=name)], level=0)
        b.replace(stmt, new, 2, f"import {name} -> from {name} import {name}", "import")
    elif stmt.module and not stmt.level and len(stmt.names) == 1 \
            and stmt.names[0].name == stmt.module and not stmt.names[0].asname \
            and stdlib_module(stmt.module) is not None:
        new = ast.Import(names=[ast.alias(name=stmt.module)])
        b.replace(stmt, new, 2, f"from {stmt.module} import {stmt.module} -> "
                  f"import {stmt.module}", "import")


def _sorted_for_sort(b: _Builder, stmt: ast.stmt) -> None:
    """`x = xs.sort(...)` / `return xs.sort(...)`: the sorted copy `sorted(xs, ...)`,
    which returns the order `.sort()` only makes in place (and leaves `xs` alone)."""
    value = getattr(stmt, "value", None)
    if not (isinstance(stmt, ast.Assign | ast.Return) and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute) and value.func.attr == "sort"
            and not value.args):
        return
    receiver = value.func.value
    if isinstance(receiver, ast.Name) and receiver.id in b.facts.modules:
        return
    copied = ast.Call(func=ast.Name(id="sorted", ctx=ast.Load()), args=[receiver],
                      keywords=value.keywords)
    b.replace(value, copied, 2, f".sort(...) -> sorted({_short(receiver, 20)}, ...)", "call")


def _in_place_result(b: _Builder, stmt: ast.stmt) -> None:
    """Every edit of an in-place method's None result kept at `stmt` (`sorted(...)`
    for `.sort()`, the call split from the value): what a `'NoneType'` TypeError at
    a line reading its name asks for first (`repair.informed`)."""
    _sorted_for_sort(b, stmt)
    parent = b.m.parents.get(stmt)
    if parent is not None and parent[2] is not None:
        _split_in_place_call(b, stmt, getattr(parent[0], parent[1]), parent[2])


def _growth_edits(b: _Builder, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Assign | ast.Return) and stmt.value is not None:
        _sorted_for_sort(b, stmt)  # (the call split from its value: `_split_in_place_call`)
    if isinstance(stmt, ast.Import | ast.ImportFrom) and b.m.scopes.get(stmt) is None:
        _import_form_edits(b, stmt)
    if isinstance(stmt, ast.Assign | ast.AugAssign) and _in_loop(b, stmt):
        _scaled_accumulation(b, stmt)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        _keep_result(b, stmt, stmt.value)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.BinOp) \
            and isinstance(stmt.value.left, ast.Name):
        # `n // 10` computed and thrown away: `n //= 10`
        value = stmt.value
        assert isinstance(value.left, ast.Name)
        aug = ast.AugAssign(target=ast.Name(id=value.left.id, ctx=ast.Store()), op=value.op,
                            value=value.right)
        _replace_stmt(b, stmt, aug, 2, f"keep the result: {_short(aug)}", "statement")
    if isinstance(stmt, ast.Return) and _in_loop(b, stmt):
        # A guard that belongs to one item: skip it, do not leave the function.
        _replace_stmt(b, stmt, ast.Continue(), 2, "return -> continue (skip this item)", "guard")
    if isinstance(stmt, ast.If | ast.While):
        _widen_narrow(b, stmt, stmt.test)
    if isinstance(stmt, ast.For) and stmt.body:
        _loop_guards(b, stmt)
        _guard_into_loop(b, stmt)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript) \
            and isinstance(stmt.op, ast.Add | ast.Sub):
        target = stmt.target
        got = _method(target.value, "get", target.slice, ast.Constant(0))
        new = ast.Assign(targets=[target], value=ast.BinOp(left=got, op=stmt.op, right=stmt.value),
                         lineno=stmt.lineno)
        _replace_stmt(b, stmt, new, 3, f"{_short(stmt)} -> .get with a default 0", "get")
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        _missing_statements(b, stmt)
        _mirrored_statements(b, stmt)
        _mutable_defaults(b, stmt)
        _never_recorded(b, stmt)
    if isinstance(stmt, ast.ClassDef):
        _counter_updates(b, stmt)
    _result_kept_wrong(b, stmt)


def _mutable_defaults(b: _Builder, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """A parameter whose default is a list, dict or set literal, shared by every call
    that leaves it out (`def add(x, seen=[])`): the default None, and a fresh one made
    first thing in the body (`if seen is None: seen = []`)."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    pairs_ = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                      strict=True))
    pairs_ += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
               if d is not None]
    first = 1 if _has_docstring(func) else 0
    if first >= len(func.body):
        return
    where = b.m.whole_lines(func.body[first])
    if where is None:
        return
    at, _, indent = where
    for arg, default in pairs_:
        mutable = isinstance(default, ast.List | ast.Dict | ast.Set) or (
            isinstance(default, ast.Call) and isinstance(default.func, ast.Name)
            and default.func.id in ("list", "dict", "set") and not default.args)
        span = b.m.span(default)
        parent = b.m.parents.get(default)
        if not mutable or span is None or parent is None:
            continue
        fresh = ast.If(test=ast.Compare(left=ast.Name(id=arg.arg, ctx=ast.Load()),
                                        ops=[ast.Is()], comparators=[ast.Constant(None)]),
                       body=[ast.Assign(targets=[ast.Name(id=arg.arg, ctx=ast.Store())],
                                        value=default, lineno=func.body[first].lineno)],
                       orelse=[])
        made = f"{indent}if {arg.arg} is None:\n{indent}    {arg.arg} = {ast.unparse(default)}\n"

        def mutate(parent: tuple[ast.AST, str, int | None] = parent,
                   fresh: ast.stmt = fresh) -> Undo:
            undo_default = set_field(*parent, ast.Constant(None))
            func.body.insert(first, fresh)

            def undo() -> None:
                _pop(func.body, first)
                undo_default()

            return undo

        b.add(Edit(path=b.m.path, line=func.lineno, anchor=func.lineno, cost=3,
                   label=f"default {arg.arg}={ast.unparse(default)} -> None, a fresh one "
                         "at each call", spans=((span[0], span[1], "None", "None"),
                                                (at, at, made, made)),
                   mutate=mutate, kind="statement"))


_RECORDS = {"set": "add", "list": "append"}  # how an item goes into a new empty one
_MUTATES = frozenset({"add", "append", "update", "extend", "insert", "setdefault",
                      "__setitem__", "appendleft", "put"})


def _empty_kind(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.List) and not value.elts:
        return "list"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and not value.args \
            and value.func.id in _RECORDS:
        return value.func.id
    return None


def _never_recorded(b: _Builder, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """A collection made empty (`seen = set()`), asked whether it holds an item (`if node
    in seen`), but never given one: the item recorded (`seen.add(node)`) right after the
    statement that asks, or first thing in the function that asks."""
    made: dict[str, str] = {}  # name -> "set" / "list", in this function or around it
    for outer in [func, *_enclosing(b, func)]:
        for node in ast.walk(outer):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                kind = _empty_kind(node.value)
                if kind is not None:
                    made.setdefault(node.targets[0].id, kind)
    if not made:
        return
    for node in ast.walk(b.m.tree):  # given an item anywhere: not this bug
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.attr in _MUTATES:
            made.pop(node.value.id, None)
        elif isinstance(node, ast.AugAssign | ast.Assign):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                base = target.value if isinstance(target, ast.Subscript) else target
                if isinstance(base, ast.Name) and (isinstance(node, ast.AugAssign)
                                                   or isinstance(target, ast.Subscript)):
                    made.pop(base.id, None)
    first = 1 if _has_docstring(func) else 0
    for node in ast.walk(func):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], ast.In | ast.NotIn)
                and isinstance(node.comparators[0], ast.Name)
                and node.comparators[0].id in made and b.m.scopes.get(node) is func):
            continue
        name = node.comparators[0].id
        record = ast.Expr(value=_method(ast.Name(id=name, ctx=ast.Load()),
                                        _RECORDS[made[name]], node.left))
        text = ast.unparse(record)
        asking = b.m.anchors.get(node)
        parent = b.m.parents.get(asking) if asking is not None else None
        if asking is not None and parent is not None and parent[2] is not None:
            body = getattr(parent[0], parent[1])
            _insert_each(b, body, parent[2] + 1, asking, [(record, text)], at_end=True, cost=3)
        if first < len(func.body) and func.body[first] is not asking:
            _insert_each(b, func.body, first, func.body[first], [(record, text)],
                         at_end=False, cost=3)


def _enclosing(b: _Builder, node: ast.AST) -> list[ast.AST]:
    """The functions around `node`, innermost first."""
    out: list[ast.AST] = []
    scope = b.m.scopes.get(node)
    while isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        out.append(scope)
        scope = b.m.scopes.get(scope)
    return out


def _returns_values(func: ast.AST) -> bool:
    """Whether a function returns a value somewhere (nested functions aside)."""
    return any(isinstance(node, ast.Return) and node.value is not None
               for node in _own_nodes(func))


def _result_kept_wrong(b: _Builder, stmt: ast.stmt) -> None:
    """A result that is computed but not kept the way the function needs it: a value
    computed and dropped where the function returns values (`fib(n - 1) + fib(n - 2)`:
    `return ...`); a value assigned in a loop that should add up (`total = x`:
    `total += x`) or be the running extreme (`best = max(best, x)`), one that works on
    itself and must not drop below zero (`run = max(0, run + x)`), or one added up that
    should be assigned (`last += x`: `last = x`)."""
    scope = b.m.scopes.get(stmt)
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    value = stmt.value if isinstance(stmt, ast.Expr) else None
    side_effect = isinstance(value, ast.Call) and (
        isinstance(value.func, ast.Attribute)  # out.append(x), log.info(...)
        or (isinstance(value.func, ast.Name) and value.func.id in BUILTIN_NAMES))  # print()
    if isinstance(stmt, ast.Expr) and not side_effect and not isinstance(
            stmt.value, ast.Constant | ast.Yield | ast.YieldFrom | ast.Await) \
            and _returns_values(scope):
        _replace_stmt(b, stmt, ast.Return(value=stmt.value, lineno=stmt.lineno), 2,
                      f"return {_short(stmt.value)}", "statement")
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name) and _in_loop(b, stmt):
        name = stmt.targets[0].id
        if _mentions(stmt.value, name):
            # It works on its own value (`best = best + x`): what it keeps may need to
            # be a running extreme that never drops below nothing (`max(0, ...)`).
            b.replace(stmt.value, _call("max", ast.Constant(0), stmt.value), 3,
                      f"{name} = max(0, ...)", "wrap")
            return
        for op, cost in ((ast.Add(), 2), (ast.Sub(), 3), (ast.Mult(), 3)):
            aug = ast.AugAssign(target=ast.Name(id=name, ctx=ast.Store()), op=op,
                                value=stmt.value, lineno=stmt.lineno)
            _replace_stmt(b, stmt, aug, cost, f"{name} = ... -> {name} "
                          f"{_SYMBOL[type(op)]}= ...", "operator")
        for extreme in ("max", "min"):  # a running extreme (`best = x`: the best so far)
            b.replace(stmt.value, _call(extreme, ast.Name(id=name, ctx=ast.Load()), stmt.value),
                      2, f"{name} = {extreme}({name}, ...)", "wrap")
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        plain = ast.Assign(targets=[ast.Name(id=stmt.target.id, ctx=ast.Store())],
                           value=stmt.value, lineno=stmt.lineno)
        _replace_stmt(b, stmt, plain, 3, f"{stmt.target.id} {_SYMBOL[type(stmt.op)]}= ... -> "
                      f"{stmt.target.id} = ...", "operator")


def _in_loop(b: _Builder, stmt: ast.stmt) -> bool:
    """Whether `stmt` is in the body of a loop of its own function."""
    return _in_body_of(b, stmt, ast.For | ast.While)


def _in_body_of(b: _Builder, stmt: ast.stmt, kinds: Any) -> bool:
    """Whether `stmt` is in the body of a statement of `kinds` (a type or a union of
    them) within its own function."""
    scope = b.m.scopes.get(stmt)
    at: ast.AST | None = stmt
    while at is not None and at is not scope:
        parent = b.m.parents.get(at)
        if parent is None:
            return False
        if isinstance(parent[0], kinds) and parent[1] == "body":
            return True
        at = parent[0]
    return False


def _mentions(node: ast.AST, name: str, *, load_only: bool = False) -> bool:
    """Whether the name `name` occurs anywhere in `node` (`load_only`: read there)."""
    return any(isinstance(n, ast.Name) and n.id == name
               and (not load_only or isinstance(n.ctx, ast.Load)) for n in ast.walk(node))


def _keep_result(b: _Builder, stmt: ast.Expr, call: ast.Call) -> None:
    """A call whose result is thrown away (`text.replace(...)`, `sorted(xs)`): its
    result assigned back to the name it works on."""
    func = call.func
    target: ast.expr | None = None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id not in b.facts.modules and func.attr not in _IN_PLACE:
        target = func.value
    elif isinstance(func, ast.Name) and func.id in BUILTIN_NAMES and call.args \
            and isinstance(call.args[0], ast.Name):
        target = call.args[0]
    if target is None:
        return
    assert isinstance(target, ast.Name)
    new = ast.Assign(targets=[ast.Name(id=target.id, ctx=ast.Store())], value=call,
                     lineno=stmt.lineno)
    _replace_stmt(b, stmt, new, 2, f"keep the result: {target.id} = {_short(call)}", "statement")


def _loop_guards(b: _Builder, loop: ast.For) -> None:
    """`if not item: continue` at the top of a loop body: a guard that belongs to each
    item rather than to the whole function."""
    first = loop.body[0]
    where = b.m.whole_lines(first)
    if where is None:
        return
    start, _, indent = where
    names = [n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)]
    for name in names[:3]:
        for test in (f"{name} is None", f"not {name}"):
            guard = ast.parse(f"if {test}:\n    continue\n").body[0]
            text = f"{indent}if {test}:\n{indent}    continue\n"

            def mutate(guard: ast.stmt = guard) -> Undo:
                loop.body.insert(0, guard)
                return lambda: _pop(loop.body, 0)

            b.body_edit(first, 3, f"guard in loop: if {test}: continue", start, start, text,
                        mutate, "guard")


SIBLING_CONSTANTS = 4  # other numbers of the same function offered for a number


def _function_constants(b: _Builder, node: ast.Constant) -> None:
    """A number replaced by another number the same function uses (nearest first, in
    the number's own type: ``0.0`` may become ``100.0`` where ``* 100`` is written):
    the constant a slip put in place of the one the code means elsewhere."""
    anchor = b.m.anchors.get(node)
    scope = b.m.scopes.get(anchor) if anchor is not None else None
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    line = getattr(node, "lineno", 0)
    others: dict[float | int, int] = {}
    for other in ast.walk(scope):
        if (isinstance(other, ast.Constant) and isinstance(other.value, int | float)
                and not isinstance(other.value, bool)
                and other is not node and other.value != node.value):
            value: int | float = float(other.value) if type(node.value) is float \
                else other.value
            if type(value) is not type(node.value) or value == node.value:
                continue  # an int site is not given a float (nor 2 for 2.0)
            distance = abs(getattr(other, "lineno", 0) - line)
            others[value] = min(others.get(value, distance), distance)
    for value in sorted(others, key=lambda v: (others[v], str(v)))[:SIBLING_CONSTANTS]:
        b.replace(node, ast.Constant(value=value), 2,
                  f"constant {node.value!r} -> {value!r} (used in this function)", "constant")


def _guard_into_loop(b: _Builder, loop: ast.For) -> None:
    """A guard that returns early for the whole input (``if any(x is None for x in xs):
    return ...``, ``if None in xs``, ``if not text.strip()`` before ``for line in
    text.splitlines()``) moved into the loop that follows it, as ``continue`` for the
    one item it is about: its condition said per item (`_per_item`)."""
    parent = b.m.parents.get(loop)
    if parent is None or not isinstance(loop.target, ast.Name):
        return
    owner, fieldname, index = parent
    if index is None:
        return
    body: list[ast.stmt] = getattr(owner, fieldname)
    first = loop.body[0]
    inside = b.m.whole_lines(first)
    if inside is None:
        return
    at, _, indent = inside
    for i in range(index):
        guard = body[i]
        if not (isinstance(guard, ast.If) and not guard.orelse and len(guard.body) == 1
                and isinstance(guard.body[0], ast.Return)):
            continue
        where = b.m.whole_lines(guard)
        if where is None:
            continue
        seen: set[str] = set()
        for test in _per_item(guard.test, loop):
            try:
                said = ast.unparse(test)
            except (ValueError, TypeError, AttributeError, RecursionError):
                continue
            if said in seen:
                continue
            seen.add(said)
            moved = ast.If(test=test, body=[ast.Continue()], orelse=[])
            text = f"{indent}if {said}:\n{indent}    continue\n"

            def mutate(g: ast.stmt = guard, moved: ast.stmt = moved) -> Undo:
                at_guard = body.index(g)
                del body[at_guard]
                loop.body.insert(0, moved)

                def undo() -> None:
                    del loop.body[0]
                    body.insert(at_guard, g)

                return undo

            b.add(Edit(path=b.m.path, line=guard.lineno, anchor=guard.lineno, cost=3,
                       label=f"move the guard of line {guard.lineno} into the loop: "
                             f"if {_short(test)}: continue",
                       spans=((where[0], where[1], "", ""), (at, at, text, text)),
                       mutate=mutate, kind="guard"))


def _per_item(test: ast.expr, loop: ast.For) -> list[ast.expr]:
    """`test`, a condition on a loop's whole iterable, said of one item (the loop's
    target): ``any(p(x) for x in ITER)`` becomes ``p(item)``, ``ITER[k]`` becomes
    ``item``, ``v in ITER`` becomes ``item == v`` (``is`` for None, True, False), and
    the name ITER is computed from (``text`` of ``text.splitlines()``) becomes
    ``item``; also the variant where only the first three apply and the clauses
    still about the whole iterable are dropped. Only variants about the item and no
    longer about the iterable are returned."""
    assert isinstance(loop.target, ast.Name)
    var = loop.target.id
    whole = ast.dump(loop.iter)
    root = loop.iter
    while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
        root = root.func if isinstance(root, ast.Call) else root.value
    root_name = root.id if isinstance(root, ast.Name) else None

    def item() -> ast.Name:
        return ast.Name(id=var, ctx=ast.Load())

    class PerItem(ast.NodeTransformer):
        def __init__(self, rename_root: bool) -> None:
            self.rename_root = rename_root

        def visit_Call(self, node: ast.Call) -> ast.AST:
            if (isinstance(node.func, ast.Name) and node.func.id in ("any", "all")
                    and len(node.args) == 1 and not node.keywords
                    and isinstance(node.args[0], ast.GeneratorExp)):
                gen = node.args[0]
                comp = gen.generators[0]
                if (len(gen.generators) == 1 and not comp.ifs and not comp.is_async
                        and isinstance(comp.target, ast.Name)
                        and ast.dump(comp.iter) == whole):
                    return _renamed(gen.elt, comp.target.id, var)
            return self.generic_visit(node)

        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            if ast.dump(node.value) == whole and _int_value(node.slice) is not None:
                return item()
            return self.generic_visit(node)

        def visit_Compare(self, node: ast.Compare) -> ast.AST:
            if (len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn)
                    and ast.dump(node.comparators[0]) == whole):
                single = isinstance(node.left, ast.Constant) and node.left.value in (
                    None, True, False)
                positive = isinstance(node.ops[0], ast.In)
                op: ast.cmpop = ((ast.Is() if positive else ast.IsNot()) if single
                                 else (ast.Eq() if positive else ast.NotEq()))
                return ast.Compare(left=item(), ops=[op], comparators=[node.left])
            return self.generic_visit(node)

        def visit_Name(self, node: ast.Name) -> ast.AST:
            if self.rename_root and node.id == root_name:
                return item()
            return node

    def about(node: ast.AST, name: str | None) -> bool:
        return name is not None and _mentions(node, name)

    found: list[ast.expr] = []
    for rename in (True, False):
        new = PerItem(rename).visit(copy.deepcopy(test))
        if not rename and isinstance(new, ast.BoolOp):
            kept = [v for v in new.values if not about(v, root_name)]
            if not kept:
                continue
            new = kept[0] if len(kept) == 1 else ast.BoolOp(op=new.op, values=kept)
        if about(new, var) and not about(new, root_name) and ast.dump(new) != ast.dump(test):
            found.append(ast.fix_missing_locations(new))
    return found


def _renamed(node: ast.expr, old: str, new: str) -> ast.expr:
    """A copy of `node` with every name `old` read as `new`."""
    out = copy.deepcopy(node)
    for n in ast.walk(out):
        if isinstance(n, ast.Name) and n.id == old:
            n.id = new
    return out


def _missing_statements(b: _Builder, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Statements a function may lack, built from what it already does: a call it makes
    with one name changed (`seen.add(x)` beside `out.append(x)`), and `a = b` between
    names in scope, each inserted before a statement of a loop, or at a loop's end (and
    the calls before a return); per loop, the updates its data flow lacks (an
    accumulator never updated, `_accumulations`; a step skipped by `continue`,
    `_advance_before_continue`; a consumed value never set back, `_resets`)."""
    names = b.locals.setdefault(func, _scope_names(func))
    calls: list[ast.Expr] = []
    assigned: list[str] = []
    loops: list[ast.For | ast.While] = []
    for node in ast.walk(func):
        if b.m.scopes.get(node) is not func:
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and len(calls) < 4:
            calls.append(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id not in assigned:
            assigned.append(node.targets[0].id)
        elif isinstance(node, ast.For | ast.While):
            loops.append(node)
    new_stmts: list[tuple[ast.stmt, str]] = []
    for call in calls:
        refs = [n for n in ast.walk(call.value) if isinstance(n, ast.Name) and n.id in names]
        for ref in refs[:3]:
            for other in names[:NAME_POOL + 2]:
                if other == ref.id:
                    continue
                old_id = ref.id
                ref.id = other
                try:
                    text = ast.unparse(call)
                finally:
                    ref.id = old_id
                new_stmts.append((ast.parse(text).body[0], text))
    for target in assigned[:NAME_POOL]:
        for source in names[:NAME_POOL + 2]:
            if source != target:
                text = f"{target} = {source}"
                new_stmts.append((ast.parse(text).body[0], text))
    for loop in loops:
        body = loop.body
        for index, stmt in enumerate(body):
            _insert_each(b, body, index, stmt, new_stmts, at_end=False)
        _insert_each(b, body, len(body), body[-1], new_stmts, at_end=True)
        if isinstance(loop, ast.For):
            # A name the loop reads but never updates, set before it (`prev`): carried
            # from one item to the next, it likely misses `prev = item` at the end.
            carried = [(ast.parse(f"{name} = {item}").body[0], f"{name} = {item}")
                       for name in _never_updated(loop, assigned)
                       for item in [n.id for n in ast.walk(loop.target)
                                    if isinstance(n, ast.Name)][:2]]
            _insert_each(b, body, len(body), body[-1], carried, at_end=True, cost=3)
            _accumulations(b, loop, assigned)
        elif isinstance(loop, ast.While):
            _advance_before_continue(b, loop)
        _resets(b, func, loop)
    # ... and the calls (not the assignments) before a return the function makes.
    calls_only: list[tuple[ast.stmt, str]] = [(s, t) for s, t in new_stmts
                                              if isinstance(s, ast.Expr)]
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and b.m.scopes.get(node) is func:
            parent = b.m.parents.get(node)
            if parent is not None and parent[2] is not None:
                body = getattr(parent[0], parent[1])
                _insert_each(b, body, parent[2], node, calls_only, at_end=False)


def _accumulations(b: _Builder, loop: ast.For, assigned: list[str]) -> None:
    """An accumulator the loop reads but never updates (`running` set before the loop,
    read in it): `running += item` (or `+= 1`, a count) inserted before the first
    statement of the loop that reads it, and at the loop's end."""
    items = [n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)][:1]
    body = loop.body
    # A name whose methods or items the loop uses holds an object (a list it appends
    # to), not a number to accumulate.
    objects = {n.value.id for n in ast.walk(loop) if isinstance(n, ast.Attribute | ast.Subscript)
               and isinstance(n.value, ast.Name)}
    for name in [n for n in _never_updated(loop, assigned) if n not in objects]:
        stmts = [(ast.parse(f"{name} += {value}").body[0], f"{name} += {value}")
                 for value in [*items, "1"] if value != name]
        first = next((i for i, s in enumerate(body) if _mentions(s, name, load_only=True)), None)
        if first is not None:
            _insert_each(b, body, first, body[first], stmts, at_end=False, cost=3)
        _insert_each(b, body, len(body), body[-1], stmts, at_end=True, cost=3)


def _resets(b: _Builder, func: ast.FunctionDef | ast.AsyncFunctionDef,
            loop: ast.For | ast.While) -> None:
    """A name set to a constant before the loop and grown from itself in it (a count,
    a buffer: `n += 1`, `n = n * 10 + d`) that is never set back: `name = <its first
    value>` inserted after each statement of the loop that uses it without updating it
    (the run it counted is consumed, the next one starts from zero). Pairable: it often
    comes with a second slip elsewhere."""
    firsts: dict[str, ast.expr] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.lineno < loop.lineno \
                and b.m.scopes.get(node) is func and node.targets[0].id not in firsts:
            firsts[node.targets[0].id] = node.value
    initial = {name: value for name, value in firsts.items()
               if (isinstance(value, ast.Constant) and not isinstance(value.value, bytes))
               or (isinstance(value, ast.List | ast.Set | ast.Tuple) and not value.elts)
               or (isinstance(value, ast.Dict) and not value.keys)}
    own = _loop_own_statements(loop)
    compound = ast.If | ast.For | ast.While | ast.With | ast.Try | ast.AsyncFor | ast.AsyncWith
    def accumulates(stmt: ast.stmt, name: str) -> bool:
        # `name += ...` or `name = f(name, ...)`: the value grows from itself.
        if isinstance(stmt, ast.AugAssign):
            return isinstance(stmt.target, ast.Name) and stmt.target.id == name
        return isinstance(stmt, ast.Assign) and _stores(stmt, {name}) \
            and _mentions(stmt.value, name)

    for name, value in initial.items():
        if not any(accumulates(s, name) for s in own):
            continue
        text = f"{name} = {ast.unparse(value)}"
        for stmt in own:
            if isinstance(stmt, compound) or _stores(stmt, {name}) \
                    or not _mentions(stmt, name, load_only=True):
                continue
            parent = b.m.parents.get(stmt)
            if parent is None or parent[2] is None:
                continue
            block: list[ast.stmt] = getattr(parent[0], parent[1])
            _insert_each(b, block, parent[2] + 1, stmt, [(ast.parse(text).body[0], text)],
                         at_end=True, cost=2, pairable=True)


def _scaled_accumulation(b: _Builder, stmt: ast.Assign | ast.AugAssign) -> None:
    """`x = x + d` (or `x += d`) where the digits of a number are accumulated:
    `x = x * 10 + d` (and base 2), the running value shifted before each new part."""
    if isinstance(stmt, ast.Assign):
        value = stmt.value
        if not (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
                and isinstance(value.left, ast.Name)
                and value.left.id == stmt.targets[0].id):
            return
        for k in (10, 2):
            shifted = ast.BinOp(left=value.left, op=ast.Mult(), right=ast.Constant(k))
            b.replace(value.left, shifted, 2, f"{value.left.id} -> {value.left.id} * {k} "
                      "(the running value shifted)", "operator")
    elif isinstance(stmt.target, ast.Name) and isinstance(stmt.op, ast.Add):
        name = stmt.target.id
        for k in (10, 2):
            new = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.BinOp(
                left=ast.BinOp(left=ast.Name(id=name, ctx=ast.Load()), op=ast.Mult(),
                               right=ast.Constant(k)), op=ast.Add(), right=stmt.value),
                lineno=stmt.lineno)
            _replace_stmt(b, stmt, new, 2, f"{name} += ... -> {name} = {name} * {k} + ... "
                          "(the running value shifted)", "operator")


def _loop_own_statements(loop: ast.For | ast.While) -> list[ast.stmt]:
    """The statements of a loop's body, nested blocks included, but not those of the
    loops or definitions nested in it (their `continue` and steps are their own)."""
    out: list[ast.stmt] = []
    stack: list[ast.stmt] = list(reversed(loop.body))
    while stack:
        stmt = stack.pop()
        out.append(stmt)
        if isinstance(stmt, ast.For | ast.While | ast.AsyncFor | ast.FunctionDef
                      | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for fieldname in ("body", "orelse", "finalbody", "handlers"):
            for child in reversed(getattr(stmt, fieldname, None) or []):
                if isinstance(child, ast.ExceptHandler):
                    stack.extend(reversed(child.body))
                elif isinstance(child, ast.stmt):
                    stack.append(child)
    return out


def _stores(stmt: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in names
               for n in ast.walk(stmt))


def _advance_before_continue(b: _Builder, loop: ast.While) -> None:
    """A `while` loop whose `continue` skips the step that its condition waits for
    (`i += 1` elsewhere in the loop): the loop's own steps of a name its condition
    reads, each inserted before a `continue` that nothing before it in its block
    advances (else the loop spins forever on that item)."""
    tested = {n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name)}
    own = _loop_own_statements(loop)
    steps: list[tuple[ast.stmt, str]] = []
    for stmt in own:
        if isinstance(stmt, ast.AugAssign | ast.Assign) and _stores(stmt, tested):
            text = b.m.source_of(stmt)
            if text is not None and "\n" not in text.rstrip("\n") \
                    and text.strip() not in {t for _, t in steps}:
                steps.append((ast.parse(text).body[0], text.strip()))
    if not steps:
        return
    for stmt in own:
        if not isinstance(stmt, ast.Continue):
            continue
        parent = b.m.parents.get(stmt)
        if parent is None or parent[2] is None:
            continue
        block: list[ast.stmt] = getattr(parent[0], parent[1])
        index = parent[2]
        if any(_stores(s, tested) for s in block[:index]):
            continue
        _insert_each(b, block, index, stmt, steps[:3], at_end=False, cost=2, kind="loop")


def _mirror_partners(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    """Each name's counterpart in the function: neighbouring parameters (`left`,
    `right`), names bound together (`lo, hi = ...`, `i = j = 0`). A name with several
    takes the first one found."""
    pairs: list[tuple[str, str]] = []
    params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]
              if a.arg not in ("self", "cls")]
    pairs += list(itertools.pairwise(params))
    for node in ast.walk(func):
        bound: list[str] = []
        if isinstance(node, ast.Assign):
            if len(node.targets) > 1:
                bound = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node.targets[0], ast.Tuple | ast.List):
                bound = [e.id for e in node.targets[0].elts if isinstance(e, ast.Name)]
        elif isinstance(node, ast.For | ast.comprehension) \
                and isinstance(node.target, ast.Tuple | ast.List):
            bound = [e.id for e in node.target.elts if isinstance(e, ast.Name)]
        if len(bound) == 2:
            pairs.append((bound[0], bound[1]))
    partner: dict[str, str] = {}
    for one, two in pairs:
        if one != two and one not in partner and two not in partner:
            partner[one], partner[two] = two, one
    return partner


def _mirrored_statements(b: _Builder, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """The mirror of a statement the function makes, with two or more names each
    changed to its counterpart at once (`merged.extend(left[i:])` ->
    `merged.extend(right[j:])`), inserted right after it: the other half of a
    symmetric step the code forgets."""
    partner = _mirror_partners(func)
    if len(partner) < 4:
        return
    for node in ast.walk(func):
        if b.m.scopes.get(node) is not func or not (
                isinstance(node, ast.AugAssign | ast.Assign)
                or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call))):
            continue
        parent = b.m.parents.get(node)
        if parent is None or parent[2] is None:
            continue
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in partner}
        if len(used) < 2:
            continue  # one name changed: `_missing_statements` proposes those
        new = copy.deepcopy(node)
        for n in ast.walk(new):
            if isinstance(n, ast.Name) and n.id in used:
                n.id = partner[n.id]
        text = ast.unparse(new)
        if "\n" in text:
            continue
        block: list[ast.stmt] = getattr(parent[0], parent[1])
        _insert_each(b, block, parent[2] + 1, node, [(ast.parse(text).body[0], text)],
                     at_end=True, cost=3)


def _counter_updates(b: _Builder, cls: ast.ClassDef) -> None:
    """A counter attribute that `__init__` sets to a number and no other method ever
    updates (`self.done = 0`), while another method updates its sibling
    (`self.added += 1`): that update, made to the counter, inserted at the end of
    every other method, before its final `return` (once its work is done: a method
    that raises half-way must not count)."""
    methods = [s for s in cls.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
               and s.args.args]
    init = next((m for m in methods if m.name == "__init__"), None)
    if init is None:
        return
    me = init.args.args[0].arg

    def stored_attrs(func: ast.AST) -> list[ast.Attribute]:
        return [n for n in ast.walk(func) if isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)
                and n.value.id == func.args.args[0].arg]  # type: ignore[attr-defined]

    counters = [a.attr for s in init.body if isinstance(s, ast.Assign)
                and isinstance(s.value, ast.Constant) and type(s.value.value) in (int, float)
                for a in s.targets if isinstance(a, ast.Attribute)
                and isinstance(a.value, ast.Name) and a.value.id == me]
    others = [m for m in methods if m is not init]
    updated = {a.attr for m in others for a in stored_attrs(m)}
    counters = [c for c in dict.fromkeys(counters) if c not in updated]
    templates: list[tuple[ast.operator, str]] = []
    for m in others:
        for node in ast.walk(m):
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute) \
                    and isinstance(node.target.value, ast.Name) \
                    and node.target.value.id == m.args.args[0].arg:
                value = ast.unparse(node.value)
                if (type(node.op), value) not in {(type(o), v) for o, v in templates}:
                    templates.append((node.op, value))
    if not counters or not templates:
        return
    for method in others:
        this = method.args.args[0].arg
        stmts = [(ast.parse(text).body[0], text) for counter in counters[:3]
                 for op, value in templates[:2]
                 for text in [f"{this}.{counter} {_SYMBOL[type(op)]}= {value}"]]
        body = method.body
        if isinstance(body[-1], ast.Return):
            _insert_each(b, body, len(body) - 1, body[-1], stmts, at_end=False, cost=3)
        elif not isinstance(body[-1], ast.Raise):
            _insert_each(b, body, len(body), body[-1], stmts, at_end=True, cost=3)


def _never_updated(loop: ast.For, assigned: list[str]) -> list[str]:
    """Names assigned in the function that the loop reads but never assigns."""
    stored = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    read = {n.id for s in loop.body for n in ast.walk(s) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}
    return [name for name in assigned if name in read and name not in stored][:3]


def _insert_each(b: _Builder, body: list[ast.stmt], index: int, stmt: ast.stmt,
                 new_stmts: list[tuple[ast.stmt, str]], *, at_end: bool,
                 cost: int = 4, kind: str = "insert", pairable: bool = False) -> None:
    where = b.m.whole_lines(stmt)
    if where is None:
        return
    start, end, indent = where
    at = end if at_end else start
    if at_end and not b.m.text[start:end].endswith("\n"):
        return
    for new, text in new_stmts:

        def mutate(new: ast.stmt = new) -> Undo:
            body.insert(index, new)
            return lambda: _pop(body, index)

        place = f"after line {stmt.lineno}" if at_end else f"before line {stmt.lineno}"
        b.body_edit(stmt, cost, f"insert {text!r} {place}", at, at, f"{indent}{text}\n",
                    mutate, kind, pairable=pairable)



# Methods of the builtin containers that change their receiver and return None: a
# value taken from such a call is always None.
_IN_PLACE = frozenset({
    "append", "extend", "insert", "remove", "sort", "reverse", "clear",  # list
    "update",  # dict, set
    "add", "discard", "difference_update", "intersection_update",
    "symmetric_difference_update",  # set
})


def _split_in_place_call(b: _Builder, stmt: ast.stmt, body: list[ast.stmt],
                         index: int) -> None:
    """A value taken from a call that changes its receiver in place and returns None
    (`merged = dict(base).update(extra)`, `return items.sort()`): the call on a
    statement of its own, and the receiver itself used as the value
    (`merged = dict(base)` then `merged.update(extra)`; `items.sort()` then
    `return items`)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name):
        target: str | None = stmt.targets[0].id
    elif isinstance(stmt, ast.Return):
        target = None
    else:
        return
    call = stmt.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr in _IN_PLACE):
        return
    receiver = call.func.value
    if isinstance(receiver, ast.Name) and receiver.id in b.facts.modules:
        return
    where = b.m.whole_lines(stmt)
    if where is None:
        return
    start, end, indent = where
    if not b.m.text[start:end].endswith("\n"):
        return
    new: list[ast.stmt]
    if isinstance(receiver, ast.Name):  # the call first, then the receiver is the value
        then: ast.stmt = (ast.Return(value=ast.Name(id=receiver.id, ctx=ast.Load()))
                          if target is None else
                          ast.Assign(targets=[ast.Name(id=target, ctx=ast.Store())],
                                     value=ast.Name(id=receiver.id, ctx=ast.Load())))
        new = [ast.Expr(value=call), then]
    elif target is not None:  # the receiver is built into the target, then changed
        changed = ast.Call(func=ast.Attribute(value=ast.Name(id=target, ctx=ast.Load()),
                                              attr=call.func.attr, ctx=ast.Load()),
                           args=call.args, keywords=call.keywords)
        new = [ast.Assign(targets=[ast.Name(id=target, ctx=ast.Store())], value=receiver),
               ast.Expr(value=changed)]
    else:
        return
    for node in new:
        node.lineno = stmt.lineno
    try:
        text = "".join(f"{indent}{ast.unparse(node)}\n" for node in new)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return

    def mutate() -> Undo:
        body[index:index + 1] = new

        def undo() -> None:
            body[index:index + len(new)] = [stmt]

        return undo

    b.body_edit(stmt, 2, f"split the in-place .{call.func.attr}() from the value: "
                f"{text.strip().splitlines()[0]}; ...", start, end, text, mutate, "statement")


__all__ = ["Edit", "FileModel", "generate", "pairs", "render"]
