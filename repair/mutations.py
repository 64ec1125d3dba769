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
from collections.abc import Callable
from typing import Any, TypeVar

from repair.sourcefile import Edit, FileModel, Undo, pairs, render, set_field

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

    def add(self, edit: Edit) -> None:
        edit.seq = len(self.edits)
        self.edits.append(edit)

    def replace(self, node: ast.AST, new: ast.AST, cost: int, label: str) -> None:
        """An edit that puts `new` where `node` is."""
        span = self.m.span(node)
        if span is None or node not in self.m.parents or node not in self.m.anchors:
            return
        parent, fieldname, index = self.m.parents[node]
        try:
            text = ast.unparse(new)
        except (ValueError, TypeError, AttributeError, RecursionError):
            return
        self.add(Edit(
            path=self.m.path, line=node.lineno, anchor=self.m.anchors[node].lineno,  # type: ignore[attr-defined]
            cost=cost, label=label, spans=((span[0], span[1], text, f"({text})"),),
            mutate=lambda: set_field(parent, fieldname, index, new), pairable=True,
        ))

    def body_edit(self, stmt: ast.stmt, cost: int, label: str,
                  start: int, end: int, text: str, mutate: Callable[[], Undo]) -> None:
        self.add(Edit(path=self.m.path, line=stmt.lineno, anchor=stmt.lineno, cost=cost,
                      label=label, spans=((start, end, text, text),), mutate=mutate))


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
        if isinstance(node, ast.stmt):
            _statement_edits(b, node)
    return b.edits


def _negate(b: _Builder, test: ast.expr, what: str) -> None:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        b.replace(test, test.operand, 1, f"negate {what}: drop not")
    else:
        b.replace(test, ast.UnaryOp(op=ast.Not(), operand=test), 1, f"negate {what}")


def _plus_minus(b: _Builder, node: ast.expr, cost: int, where: str) -> None:
    value = _int_value(node)
    if value is not None:
        for delta in (1, -1):
            b.replace(node, _int_node(value + delta), cost,
                      f"{where} {value} -> {value + delta}")
        return
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub)
            and isinstance(node.right, ast.Constant) and type(node.right.value) is int):
        # `n - 1` plus one is written `n`, not `n - 1 + 1`: the patch reads as the fix.
        offset = node.right.value if isinstance(node.op, ast.Add) else -node.right.value
        for delta in (1, -1):
            b.replace(node, _offset(node.left, offset + delta), cost,
                      f"{where} {_short(node)} -> {_short(_offset(node.left, offset + delta))}")
        return
    if isinstance(node, ast.Name | ast.BinOp | ast.Call | ast.Attribute | ast.Subscript):
        for delta in (1, -1):
            b.replace(node, _offset(node, delta), cost,
                      f"{where} {_short(node)} -> {_short(_offset(node, delta))}")


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
                          f"compare {_SYMBOL[type(op)]} -> {_SYMBOL[cmp_type]}")
        if len(node.ops) == 1:
            b.replace(node, _with(node, left=node.comparators[0], comparators=[node.left]), 2,
                      "swap compared operands")
            _plus_minus(b, node.comparators[0], 2, "compared value")
    elif isinstance(node, ast.BinOp):
        for op_type in _op_group(node.op):
            if op_type is type(node.op):
                continue
            cost = 1 if frozenset((type(node.op), op_type)) in _CLOSE_BINOPS else 2
            b.replace(node, _with(node, op=op_type()), cost,
                      f"operator {_SYMBOL[type(node.op)]} -> {_SYMBOL[op_type]}")
        if not isinstance(node.op, ast.Mult | ast.BitAnd | ast.BitOr | ast.BitXor):
            b.replace(node, _with(node, left=node.right, right=node.left), 2,
                      f"swap operands of {_SYMBOL.get(type(node.op), '?')}")
        b.replace(node, node.left, 2, f"drop operand {_short(node.right)}")
        b.replace(node, node.right, 2, f"drop operand {_short(node.left)}")
    elif isinstance(node, ast.BoolOp):
        other_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        b.replace(node, _with(node, op=other_op), 1,
                  f"boolean {_SYMBOL[type(node.op)]} -> {_SYMBOL[type(other_op)]}")
        for i in range(len(node.values)):
            rest = node.values[:i] + node.values[i + 1:]
            dropped = rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
            b.replace(node, dropped, 2, f"drop condition {_short(node.values[i])}")
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            b.replace(node, node.operand, 1, "drop not")
        elif isinstance(node.op, ast.USub) and _int_value(node) is None:
            b.replace(node, node.operand, 2, "drop unary minus")
    elif isinstance(node, ast.Constant):
        parent = m.parents.get(node)
        if isinstance(node.value, bool):
            b.replace(node, ast.Constant(value=not node.value), 1,
                      f"constant {node.value} -> {not node.value}")
        elif type(node.value) is int and not (
            parent and isinstance(parent[0], ast.UnaryOp) and isinstance(parent[0].op, ast.USub)
        ):
            owner = parent[0] if parent else None
            if (isinstance(owner, ast.BinOp) and isinstance(owner.op, ast.Add | ast.Sub)
                    and owner.right is node and node.value in (1, -1)):
                # `x - 1` with the 1 made 0 reads better as plain `x`.
                b.replace(owner, owner.left, 1, f"constant {node.value} -> 0 "
                          f"({_short(owner)} -> {_short(owner.left)})")
                b.replace(node, _int_node(node.value + (1 if node.value > 0 else -1)), 1,
                          f"constant {node.value} -> {node.value + (1 if node.value > 0 else -1)}")
            else:
                _plus_minus(b, node, 1, "constant")
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        scope = m.scopes.get(node)
        names = b.locals.setdefault(scope, _scope_names(scope))
        if node.id in names:
            for name in names:
                if name != node.id:
                    b.replace(node, ast.Name(id=name, ctx=ast.Load()), 2,
                              f"name {node.id} -> {name}")
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
            b.replace(node, _with(node, attr=attr), 2, f"attribute .{node.attr} -> .{attr}")
    elif isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.Slice):
            for part in ("lower", "upper"):
                bound = getattr(index, part)
                if bound is not None:
                    _plus_minus(b, bound, 1, f"slice {part}")
        elif not isinstance(index, ast.Tuple) and _int_value(index) is None:
            _plus_minus(b, index, 1, "index")
        if isinstance(node.value, ast.Subscript) and not isinstance(node.value.slice, ast.Slice) \
                and not isinstance(index, ast.Slice):
            inner = copy.copy(node.value)
            inner.slice = index
            outer = copy.copy(node)
            outer.value, outer.slice = inner, node.value.slice
            b.replace(node, outer, 2, "swap subscripts")
    elif isinstance(node, ast.Tuple | ast.List) and 2 <= len(node.elts) <= 4:
        for i, j in itertools.combinations(range(len(node.elts)), 2):
            elts = list(node.elts)
            elts[i], elts[j] = elts[j], elts[i]
            b.replace(node, _with(node, elts=elts), 2, f"swap elements {i} and {j}")
    elif isinstance(node, ast.IfExp):
        _negate(b, node.test, "conditional expression")
    if isinstance(node, ast.Call):
        _call_edits(b, node)
    if isinstance(node, ast.comprehension):
        for cond in node.ifs:
            _negate(b, cond, "comprehension filter")


def _call_edits(b: _Builder, node: ast.Call) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in _FUNC_SWAPS:
        b.replace(func, ast.Name(id=_FUNC_SWAPS[func.id], ctx=ast.Load()), 1,
                  f"call {func.id} -> {_FUNC_SWAPS[func.id]}")
    if isinstance(func, ast.Name) and func.id == "range" and not node.keywords:
        for arg in node.args[:2]:
            _plus_minus(b, arg, 1, "range bound")
        if len(node.args) == 1:
            new = copy.copy(node)
            new.args = [ast.Constant(value=1), node.args[0]]
            b.replace(node, new, 2, "range(n) -> range(1, n)")
    elif not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args):
        for arg in node.args:
            if isinstance(arg, ast.Name | ast.Subscript | ast.Attribute | ast.BinOp):
                _plus_minus(b, arg, 3, "argument")
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    if len(positional) == len(node.args) and len(node.args) >= 2:
        for i, j in itertools.combinations(range(min(len(node.args), 4)), 2):
            args = list(node.args)
            args[i], args[j] = args[j], args[i]
            new = copy.copy(node)
            new.args = args
            b.replace(node, new, 2, f"swap call arguments {i} and {j}")
    name = ast.unparse(func) if isinstance(func, ast.Name | ast.Attribute) else ""
    if len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
        b.replace(node, node.args[0], 2, f"unwrap call {name}(...)")
    elif not node.args and not node.keywords and isinstance(func, ast.Attribute):
        b.replace(node, func.value, 2, f"unwrap call .{func.attr}()")


def _statement_edits(b: _Builder, stmt: ast.stmt) -> None:
    m = b.m
    if isinstance(stmt, ast.If | ast.While | ast.Assert):
        _negate(b, stmt.test, type(stmt).__name__.lower() + " condition")
    if isinstance(stmt, ast.AugAssign):
        for op_type in _op_group(stmt.op):
            if op_type is not type(stmt.op):
                cost = 1 if frozenset((type(stmt.op), op_type)) in _CLOSE_BINOPS else 2
                _replace_stmt(b, stmt, _with(stmt, op=op_type()), cost,
                              f"augmented {_SYMBOL[type(stmt.op)]}= -> {_SYMBOL[op_type]}=")
        _plus_minus(b, stmt.value, 3, "augmented value")
    if isinstance(stmt, ast.Break | ast.Continue):
        other_stmt: ast.stmt = ast.Continue() if isinstance(stmt, ast.Break) else ast.Break()
        _replace_stmt(b, stmt, other_stmt, 2,
                      f"{type(stmt).__name__.lower()} -> {type(other_stmt).__name__.lower()}")
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        scope = m.scopes.get(stmt)
        if not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
            b.replace(stmt.value, ast.Constant(value=None), 2, "return None")
        for name in b.locals.setdefault(scope, _scope_names(scope)):
            if not (isinstance(stmt.value, ast.Name) and stmt.value.id == name):
                b.replace(stmt.value, ast.Name(id=name, ctx=ast.Load()), 2, f"return {name}")
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        _plus_minus(b, stmt.value, 3, "assigned value")
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        _plus_minus(b, stmt.value, 3, "returned value")
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
    scope = m.scopes.get(stmt)
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        _insert_copies(b, stmt, body, index, scope, start, indent)
        first = 1 if _has_docstring(scope) else 0
        if owner is scope and index == first:
            # Guards go where a missing one belongs: first thing in the function.
            _guards(b, stmt, body, index, scope, start, indent)


def _replace_stmt(b: _Builder, stmt: ast.stmt, new: ast.stmt, cost: int, label: str) -> None:
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
    b.body_edit(stmt, cost, label, start, end, text,
                lambda: set_field(owner, fieldname, index, new))


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
                indent + "pass\n" if alone else "", mutate)


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
                there[1], text[there[0]:there[1]] + text[here[0]:here[1]], mutate)
    # The swapped text may lack a final newline at the end of the file: render's
    # parse check drops the candidate in that case.


def _insert_copies(b: _Builder, stmt: ast.stmt, body: list[ast.stmt], index: int,
                   scope: ast.AST, start: int, indent: str) -> None:
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

        b.body_edit(stmt, 4, f"insert a copy of line {other.lineno} before line {stmt.lineno}",
                    start, start, text, mutate)


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
            for result in _GUARD_RESULTS:
                guard = ast.parse(f"if {test}:\n    return {result}\n").body[0]
                text = f"{indent}if {test}:\n{indent}    return {result}\n"

                def mutate(guard: ast.stmt = guard) -> Undo:
                    body.insert(index, guard)
                    return lambda: _pop(body, index)

                b.body_edit(stmt, 3, f"guard: if {test}: return {result}", start, start, text,
                            mutate)


__all__ = ["Edit", "FileModel", "generate", "pairs", "render"]
