"""Edits proposed from what a failure said: the exception's message names what went
wrong, and the program (or the runtime) names what would be right.

`informed_edits(model, symptoms, module_names)` lists, for each `repair.symptoms.Symptom`
raised in `model`'s file, the edits its exception calls for at its line:

- NameError `name 'x' is not defined`: `import x` when x is a standard module, `from M
  import x` for the standard modules M that define x (those the file imports first), and
  x renamed at every use to the nearest names in scope, of the module and of builtins;
- ModuleNotFoundError / ImportError: the module renamed to the nearest standard or bundle
  module, the imported name to the nearest name the module really has;
- AttributeError `'T' object has no attribute 'a'`: `.a` renamed to the attributes type T
  really has (a builtin type's, a class of the sources', a module's), nearest first, and
  `x.a(y)` turned into `y in x` when T supports `in` (`str.contains`); for `module 'M' has
  no attribute 'a'` where a class N of standard module M has `a`: `import M` -> `from M
  import M` (N named like M), and `M.a` -> `M.N.a` at every use;
- TypeError `'NoneType' object ...` at a line reading a name bound to an in-place
  method's result (`ranked = xs.sort()`): `sorted(...)`, or the receiver bound first;
- TypeError `'module' object is not callable`: `import M` -> `from M import M`, or
  `M(...)` -> `M.M(...)`, for a standard module M called where its own M was meant;
- TypeError naming types (`can only concatenate str (not "int") to str`): each value at
  its line converted to each type named (`bytes`: `.encode()` / `.decode()`);
- an exception raised inside a `try` whose handler does not catch it: the handler made to
  catch it; raised outside any `try` (ValueError from `int(text)`, KeyError, ...): the
  statement that raised it wrapped in one that catches it and returns None (or, in a
  loop, skips the item).

Every edit is marked `informed` (tried first at its line). Nothing is run or imported
but standard-library modules (see `repair.program`); odd messages yield no edits.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable

from repairlab.repair.mutations import (
    _Builder,
    _in_body_of,
    _in_loop,
    _in_place_result,
    _pop,
    _scope_names,
    _with,
)
from repairlab.repair.program import (
    BUILTIN_NAMES,
    STDLIB,
    builtin_type_attributes,
    closest,
    stdlib_module,
    stdlib_modules_defining,
    stdlib_names,
)
from repairlab.repair.sourcefile import Edit, FileModel, Undo, set_field
from repairlab.repair.symptoms import Symptom

_NAME = re.compile(r"name '(\w+)' is not defined")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_OBJECT_ATTR = re.compile(r"'(\w+)' object has no attribute '(\w+)'")
_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_TYPE_ATTR = re.compile(r"type object '(\w+)' has no attribute '(\w+)'")
NEAREST = 8  # alternatives offered for one wrong name


def informed_edits(model: FileModel, found: Iterable[Symptom],
                   bundle_modules: dict[str, list[str]] | None = None) -> list[Edit]:
    """The edits `found` calls for in `model`'s file. `bundle_modules` maps the bundle's
    own module names to their top-level names (for imports between its files)."""
    b = _Builder(model)
    # A statement wrapped in `try` is offered, but not ahead of the natural edits at its
    # line (KeyError: `.get` first): these edits are not marked informed.
    handlers = _Builder(model)
    modules = bundle_modules or {}
    done: set[tuple[str, str, int | None]] = set()
    for sym in found:
        key = (sym.exc_type, sym.message, sym.line)
        if sym.path != model.path or key in done:
            continue
        done.add(key)
        msg = sym.message
        if sym.exc_type == "NameError" and (m := _NAME.search(msg)):
            _missing_name(b, m.group(1), modules)
        elif sym.exc_type in ("ModuleNotFoundError", "ImportError"):
            if m := _CANNOT_IMPORT.search(msg):
                _wrong_import_name(b, m.group(1), m.group(2), modules, sym.line)
            elif m := _NO_MODULE.search(msg):
                _wrong_module(b, m.group(1), modules, sym.line)
        elif sym.exc_type == "AttributeError":
            _wrong_attribute(b, msg, modules, sym.line)
        elif sym.exc_type == "TypeError":
            if "'module' object is not callable" in msg:
                _module_called(b, sym.line)
            if "'NoneType'" in msg:
                _none_from_in_place(b, sym.line)
            _conversions(b, msg, sym.line)
        if sym.line is not None:
            _uncaught(b, sym.exc_type, sym.line)
            _unhandled(handlers, sym.exc_type, sym.line)
    for edit in b.edits:
        edit.informed = True
    return b.edits + handlers.edits


def _stmt_at(b: _Builder, line: int | None) -> list[ast.AST]:
    if line is None:
        return []
    return [n for n in ast.walk(b.m.tree) if isinstance(n, ast.stmt) and n.lineno == line]


def _uses(b: _Builder, name: str) -> list[ast.Name]:
    return [n for n in ast.walk(b.m.tree) if isinstance(n, ast.Name) and n.id == name
            and b.m.span(n) is not None]


def _insert_top(b: _Builder, text: str, label: str, cost: int) -> None:
    """Insert a statement after the module's docstring and `__future__` imports."""
    body = b.m.tree.body
    index = 0
    while index < len(body) and (
        (isinstance(body[index], ast.Expr) and isinstance(getattr(body[index], "value", None),
                                                           ast.Constant))
        or (isinstance(body[index], ast.ImportFrom) and body[index].module == "__future__")  # type: ignore[attr-defined]
    ):
        index += 1
    new = ast.parse(text).body[0]
    if index < len(body):
        anchor = body[index]
        where = b.m.whole_lines(anchor)
        if where is None:
            return
        at = where[0]
    else:
        anchor = body[-1] if body else None  # type: ignore[assignment]
        at = len(b.m.text)
        if anchor is None or not b.m.text.endswith("\n"):
            return

    def mutate() -> Undo:
        body.insert(index, new)
        return lambda: _pop(body, index)

    b.body_edit(anchor, cost, label, at, at, text + "\n", mutate, "import")


def _missing_name(b: _Builder, name: str, modules: dict[str, list[str]]) -> None:
    facts = b.facts
    if name in STDLIB and stdlib_module(name) is not None:
        _insert_top(b, f"import {name}", f"add import {name}", 1)
    imported = {*facts.modules.values(), *(m for m, _ in facts.from_names.values())}
    owners = [m for m, names in modules.items() if name in names]
    owners += sorted(stdlib_modules_defining(name), key=lambda m: m not in imported)
    for module in owners[:4]:
        _insert_top(b, f"from {module} import {name}", f"add from {module} import {name}", 1)
    uses = _uses(b, name)
    if not uses:
        return
    scope = b.m.scopes.get(uses[0])
    pool = set(b.locals.setdefault(scope, _scope_names(scope))) | set(facts.module_level()) \
        | set(BUILTIN_NAMES)
    for other in closest(name, pool, NEAREST, cutoff=0.5):
        b.replace_many([(u, ast.Name(id=other, ctx=u.ctx)) for u in uses], 1,
                       f"name {name} -> {other} (at every use)", "name")


def _import_nodes(b: _Builder, line: int | None) -> list[ast.Import | ast.ImportFrom]:
    found = [n for n in _stmt_at(b, line) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found or [n for n in ast.walk(b.m.tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def _wrong_module(b: _Builder, missing: str, modules: dict[str, list[str]],
                  line: int | None) -> None:
    pool = set(STDLIB) | set(modules)
    for stmt in _import_nodes(b, line):
        if isinstance(stmt, ast.ImportFrom):
            if stmt.module != missing or stmt.level:
                continue
            for other in closest(missing, pool, NEAREST, cutoff=0.5):
                b.replace(stmt, _with(stmt, module=other), 1,
                          f"from {missing} import -> from {other} import", "import")
            continue
        for i, alias in enumerate(stmt.names):
            if alias.name != missing:
                continue
            for other in closest(missing, pool, NEAREST, cutoff=0.5):
                names = list(stmt.names)
                names[i] = ast.alias(name=other, asname=alias.asname)
                changes: list[tuple[ast.AST, ast.AST]] = [(stmt, _with(stmt, names=names))]
                if alias.asname is None and "." not in missing:
                    changes += [(u, ast.Name(id=other, ctx=u.ctx)) for u in _uses(b, missing)]
                b.replace_many(changes, 1, f"import {missing} -> import {other}", "import")


def _module_top_names(module: str, modules: dict[str, list[str]]) -> list[str]:
    if module in modules:
        return modules[module]
    return stdlib_names(module)


def _wrong_import_name(b: _Builder, name: str, module: str, modules: dict[str, list[str]],
                       line: int | None) -> None:
    names = _module_top_names(module, modules)
    # A name may live in a submodule of the same package (`os` -> `os.path`).
    owners = [f"{module}.{sub}" for sub in names
              if stdlib_module(f"{module}.{sub}") is not None
              and name in stdlib_names(f"{module}.{sub}")][:2] if module in STDLIB else []
    owners += [m for m, top in modules.items() if name in top and m != module]
    for stmt in _import_nodes(b, line):
        if not isinstance(stmt, ast.ImportFrom) or stmt.module != module:
            continue
        for i, alias in enumerate(stmt.names):
            if alias.name != name:
                continue
            for other in closest(name, names, NEAREST, cutoff=0.5):
                new_names = list(stmt.names)
                new_names[i] = ast.alias(name=other, asname=alias.asname)
                changes: list[tuple[ast.AST, ast.AST]] = [(stmt, _with(stmt, names=new_names))]
                if alias.asname is None:
                    changes += [(u, ast.Name(id=other, ctx=u.ctx)) for u in _uses(b, name)]
                b.replace_many(changes, 1, f"from {module} import {name} -> {other}", "import")
            for owner in owners:
                b.replace(stmt, _with(stmt, module=owner), 1,
                          f"from {module} import -> from {owner} import", "import")


def _receiver_attributes(b: _Builder, msg: str, modules: dict[str, list[str]]
                         ) -> tuple[str, str, list[str]] | None:
    """(type or module, missing attribute, the attributes it really has)."""
    if m := _MODULE_ATTR.search(msg):
        module, attr = m.group(1), m.group(2)
        return module, attr, _module_top_names(module, modules)
    if m := _TYPE_ATTR.search(msg) or _OBJECT_ATTR.search(msg):
        kind, attr = m.group(1), m.group(2)
        attrs = builtin_type_attributes(kind)
        if not attrs and kind in b.facts.classes:
            attrs = sorted(b.facts.classes[kind])
        return kind, attr, attrs
    return None


def _class_meant(b: _Builder, msg: str, line: int | None) -> None:
    """`module 'M' has no attribute 'a'` where a class N of standard module M has it
    (`datetime.strptime` after `import datetime`): `import M` -> `from M import M`
    when N is named like M, else `M.a` -> `M.N.a` at the failing line."""
    m = _MODULE_ATTR.search(msg)
    if m is None:
        return
    module_name, attr = m.group(1), m.group(2)
    module = stdlib_module(module_name)
    if module is None:
        return
    owners = [n for n in stdlib_names(module_name)
              if isinstance(getattr(module, n, None), type)
              and hasattr(getattr(module, n), attr)][:3]
    local = next((k for k, v in b.facts.modules.items() if v == module_name), None)
    for owner in owners:
        if owner == module_name and local == module_name:
            for stmt in b.m.tree.body:
                if isinstance(stmt, ast.Import) and len(stmt.names) == 1 \
                        and stmt.names[0].name == module_name and not stmt.names[0].asname:
                    new = ast.ImportFrom(module=module_name, names=[ast.alias(name=owner)],
                                         level=0)
                    b.replace(stmt, new, 1, f"import {module_name} -> from {module_name} "
                              f"import {owner} (the class has .{attr})", "import")
        if local is None:
            continue
        uses = [n for n in ast.walk(b.m.tree) if isinstance(n, ast.Attribute)
                and n.attr == attr and isinstance(n.value, ast.Name) and n.value.id == local
                and b.m.span(n) is not None]
        if uses:
            b.replace_many([(n, _with(n, value=ast.Attribute(value=n.value, attr=owner,
                                                             ctx=ast.Load()))) for n in uses],
                           1, f"{local}.{attr} -> {local}.{owner}.{attr} (at every use)",
                           "attribute")


def _none_from_in_place(b: _Builder, line: int | None) -> None:
    """A `'NoneType' object ...` TypeError at a line reading a name that was bound to
    an in-place method's result (`ranked = players.sort(...)`): that assignment
    rewritten (`sorted(...)`, or the receiver bound and then changed)."""
    read = {n.id for stmt in _stmt_at(b, line) for n in ast.walk(stmt)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for node in ast.walk(b.m.tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in read \
                and line is not None and node.lineno < line:
            _in_place_result(b, node)


def _module_called(b: _Builder, line: int | None) -> None:
    """`'module' object is not callable`: a standard module M called (`copy(x)` after
    `import copy`) where its function or class M was meant: `import M` -> `from M
    import M`, or `M(...)` -> `M.M(...)` at every call."""
    called = {n.func.id for stmt in _stmt_at(b, line) for n in ast.walk(stmt)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
              and n.func.id in b.facts.modules}
    for local in sorted(called):
        name = b.facts.modules[local]
        module = stdlib_module(name)
        if module is None or not callable(getattr(module, name, None)):
            continue
        for stmt in b.m.tree.body:
            if isinstance(stmt, ast.Import) and len(stmt.names) == 1 \
                    and stmt.names[0].name == name and not stmt.names[0].asname:
                new = ast.ImportFrom(module=name, names=[ast.alias(name=name)], level=0)
                b.replace(stmt, new, 1, f"import {name} -> from {name} import {name} "
                          "(the module was called)", "import")
        calls = [n.func for n in ast.walk(b.m.tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == local
                 and b.m.span(n.func) is not None]
        if calls:
            b.replace_many([(f, ast.Attribute(value=ast.Name(id=local, ctx=ast.Load()),
                                              attr=name, ctx=ast.Load())) for f in calls],
                           1, f"{local}(...) -> {local}.{name}(...) (at every call)", "import")


def _wrong_attribute(b: _Builder, msg: str, modules: dict[str, list[str]],
                     line: int | None) -> None:
    _class_meant(b, msg, line)
    found = _receiver_attributes(b, msg, modules)
    if found is None:
        return
    kind, attr, real = found
    nodes = [n for n in ast.walk(b.m.tree) if isinstance(n, ast.Attribute) and n.attr == attr
             and b.m.span(n) is not None]
    at_line = [n for n in nodes if line is not None and n.lineno <= line <= (n.end_lineno or 0)]
    targets = at_line or nodes
    for node in targets[:3]:
        for other in closest(attr, real, NEAREST) + [a for a in real if a not in
                                                      closest(attr, real, NEAREST)][:12]:
            b.replace(node, _with(node, attr=other), 1,
                      f"attribute .{attr} -> .{other} (what {kind} has)", "attribute")
        parent = b.m.parents.get(node)
        kind_type = getattr(builtins, kind, None)
        if (parent and isinstance(parent[0], ast.Call) and parent[1] == "func"
                and len(parent[0].args) == 1 and isinstance(kind_type, type)
                and hasattr(kind_type, "__contains__")):
            call = parent[0]
            test = ast.Compare(left=call.args[0], ops=[ast.In()], comparators=[node.value])
            b.replace(call, test, 2, f"x.{attr}(y) -> y in x", "attribute")
    if len(nodes) > 1 and real:
        ranked = closest(attr, real, NEAREST)
        for other in ranked + [a for a in real if a not in ranked][:12]:
            b.replace_many([(n, _with(n, attr=other)) for n in nodes], 1,
                           f"attribute .{attr} -> .{other} at every use", "attribute")


_CONVERTIBLE = ("str", "int", "float", "list", "tuple")
_TYPE_WORD = re.compile(r"\b(str|int|float|list|tuple|bytes)\b")


def _conversions(b: _Builder, msg: str, line: int | None) -> None:
    """A TypeError naming types (`can only concatenate str (not "int") to str`,
    `unsupported operand type(s) for +: 'int' and 'str'`, `a bytes-like object is
    required, not 'str'`): each value at its line converted to each type it names."""
    if line is None:
        return
    named = list(dict.fromkeys(_TYPE_WORD.findall(msg)))
    if not named:
        return
    values: list[ast.expr] = []
    for stmt in _stmt_at(b, line):
        for node in ast.walk(stmt):
            if isinstance(node, ast.BinOp):
                values += [node.left, node.right]
            elif isinstance(node, ast.Compare):
                values += [node.left, *node.comparators]
            elif isinstance(node, ast.Call):
                values += [a for a in node.args if not isinstance(a, ast.Starred)]
            elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
                values.append(node.elt)
    for value in values:
        if not isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            continue
        for kind in named:
            if kind in _CONVERTIBLE:
                b.replace(value, ast.Call(func=ast.Name(id=kind, ctx=ast.Load()), args=[value],
                                          keywords=[]), 1,
                          f"convert {ast.unparse(value)[:30]} to {kind} (the TypeError's type)",
                          "convert")
            elif kind == "bytes":
                for method in ("encode", "decode"):
                    call = ast.Call(func=ast.Attribute(value=value, attr=method, ctx=ast.Load()),
                                    args=[], keywords=[])
                    b.replace(value, call, 1, f"{ast.unparse(value)[:30]}.{method}() "
                              "(the TypeError names bytes)", "convert")


def _uncaught(b: _Builder, exc_type: str, line: int) -> None:
    """An exception raised inside a `try` whose handlers do not name it."""
    if not exc_type.isidentifier() or exc_type == "timeout":
        return
    for node in ast.walk(b.m.tree):
        if not isinstance(node, ast.Try):
            continue
        body_end = max((s.end_lineno or s.lineno) for s in node.body)
        if not node.body[0].lineno <= line <= body_end:
            continue
        for handler in node.handlers:
            caught = handler.type
            if isinstance(caught, ast.Name) and caught.id != exc_type:
                b.replace(caught, ast.Name(id=exc_type, ctx=ast.Load()), 1,
                          f"except {caught.id} -> {exc_type} (what was raised)", "exception")
                both = ast.Tuple(elts=[caught, ast.Name(id=exc_type, ctx=ast.Load())],
                                 ctx=ast.Load())
                b.replace(caught, both, 1, f"except {caught.id} -> ({caught.id}, {exc_type})",
                          "exception")


# Exceptions that input can cause and a tool may be meant to handle (not those that
# mean its own code is wrong: NameError, AttributeError, TypeError, AssertionError ...).
_HANDLED = frozenset({"ValueError", "KeyError", "IndexError", "ZeroDivisionError",
                      "FileNotFoundError", "OSError", "UnicodeDecodeError",
                      "StopIteration", "LookupError", "ArithmeticError"})


def _unhandled(b: _Builder, exc_type: str, line: int) -> None:
    """An exception raised by a simple statement of a function, outside any `try`: the
    statement wrapped in `try`, its handler returning None or, in a loop, skipping
    the item."""
    if exc_type not in _HANDLED:
        return
    for stmt in _stmt_at(b, line):
        if not isinstance(stmt, ast.Return | ast.Assign | ast.AugAssign | ast.Expr):
            continue
        scope = b.m.scopes.get(stmt)
        parent = b.m.parents.get(stmt)
        where = b.m.whole_lines(stmt)
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) or parent is None \
                or parent[2] is None or where is None or _in_body_of(b, stmt, ast.Try):
            continue
        start, end, indent = where
        if not b.m.text[start:end].endswith("\n"):
            continue
        owner, fieldname, index = parent
        inner = "".join(f"    {ln}\n" if ln.strip() else "\n"
                        for ln in b.m.text[start:end].splitlines())
        endings: list[tuple[ast.stmt, str]] = [(ast.Return(value=ast.Constant(None)),
                                                "return None")]
        if _in_loop(b, stmt):
            endings.append((ast.Continue(), "continue"))
        for ending, word in endings:
            new = ast.Try(body=[stmt], handlers=[ast.ExceptHandler(
                type=ast.Name(id=exc_type, ctx=ast.Load()), name=None, body=[ending])],
                orelse=[], finalbody=[])
            text = (f"{indent}try:\n{inner}{indent}except {exc_type}:\n"
                    f"{indent}    {word}\n")

            def mutate(new: ast.stmt = new, owner: ast.AST = owner, fieldname: str = fieldname,
                       index: int | None = index) -> Undo:
                return set_field(owner, fieldname, index, new)

            b.body_edit(stmt, 3, f"catch {exc_type} at line {line}: {word}", start, end,
                        text, mutate, "exception")


def module_top_names(sources: dict[str, str]) -> dict[str, list[str]]:
    """The bundle's own modules (dotted names) and the names each binds at its top."""
    from repairlab.repair.program import ModuleFacts

    out: dict[str, list[str]] = {}
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            continue
        name = path[:-3].replace("/", ".").removesuffix(".__init__")
        out[name] = ModuleFacts.of(tree).module_level()
    return out


__all__ = ["informed_edits", "module_top_names"]
