"""What a program offers to build edits from: its imports, its module-level names and
constants, its literals, and the names of the standard library and builtins.

`ModuleFacts.of(tree)` reads one parsed source file (never runs it). `stdlib_names(m)`
lists the public names of a standard-library module, imported into this (the daemon's)
process: only modules of `sys.stdlib_module_names` are ever imported, never a bundle's,
and a few with side effects on import are refused. `stdlib_modules_defining(name)` finds
the standard-library modules that define a top-level name, by reading their source text
(a pure-Python module) or by importing a builtin (C) module. Every function here returns
an empty answer rather than raise.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache

# Modules that do something when imported (open a browser, print, start Tk), or are huge.
_NEVER_IMPORT = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3",
    "pydoc_data", "ensurepip", "venv", "test", "__main__", "pydoc", "msvcrt", "winreg",
    "winsound", "_winapi", "nt",
})
STDLIB = frozenset(n for n in sys.stdlib_module_names
                   if not n.startswith("_") and n not in _NEVER_IMPORT)
BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))
EXCEPTIONS = {n: getattr(builtins, n) for n in BUILTIN_NAMES
              if isinstance(getattr(builtins, n), type)
              and issubclass(getattr(builtins, n), BaseException)}


@dataclass
class ModuleFacts:
    """The top level of one module: what it imports and defines."""

    modules: dict[str, str] = field(default_factory=dict)  # local name -> module (import m)
    from_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # local -> (mod, name)
    defined: list[str] = field(default_factory=list)  # functions, classes, assigned names
    str_constants: dict[str, str] = field(default_factory=dict)  # NAME = "..." at top level
    constants: dict[str, object] = field(default_factory=dict)  # NAME = <literal> at top level
    classes: dict[str, set[str]] = field(default_factory=dict)  # class -> its attributes
    strings: list[str] = field(default_factory=list)  # every str literal, first-seen order
    docstrings: set[int] = field(default_factory=set)  # id() of docstring Constant nodes

    @classmethod
    def of(cls, tree: ast.Module) -> ModuleFacts:
        """Read `tree`; never raises."""
        facts = cls()
        for stmt in tree.body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    local = alias.asname or alias.name.split(".")[0]
                    facts.modules[local] = alias.name if alias.asname else local
            elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                for alias in stmt.names:
                    facts.from_names[alias.asname or alias.name] = (stmt.module, alias.name)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                facts.defined.append(stmt.name)
                if isinstance(stmt, ast.ClassDef):
                    facts.classes[stmt.name] = _class_attributes(stmt)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        facts.defined.append(target.id)
                        value = stmt.value
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            facts.str_constants[target.id] = value.value
                        if isinstance(value, ast.Constant) and value.value is not None:
                            facts.constants[target.id] = value.value
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef
                          | ast.ClassDef) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    facts.docstrings.add(id(first.value))
        seen: set[str] = set()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in facts.docstrings and node.value not in seen
                    and len(node.value) <= 40):
                seen.add(node.value)
                facts.strings.append(node.value)
        return facts

    def module_level(self) -> list[str]:
        """Every name the module binds at its top level."""
        return [*self.modules, *self.from_names, *self.defined]


def _class_attributes(node: ast.ClassDef) -> set[str]:
    attrs: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            attrs.add(sub.name)
        elif (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)
              and isinstance(sub.value, ast.Name) and sub.value.id == "self"):
            attrs.add(sub.attr)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            attrs.add(sub.id)
    return attrs


@lru_cache(maxsize=256)
def stdlib_module(name: str) -> object | None:
    """The standard-library module `name` (dotted names allowed), imported here; None
    for anything else or when it cannot be imported."""
    if name.split(".")[0] not in STDLIB:
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # any failure just means "no such module"
        return None


def stdlib_names(name: str) -> list[str]:
    """The public names of standard-library module `name` (empty when not one)."""
    module = stdlib_module(name)
    if module is None:
        return []
    public = getattr(module, "__all__", None)
    names = [n for n in dir(module) if not n.startswith("_")]
    if isinstance(public, list | tuple):
        names = sorted(set(names) | {n for n in public if isinstance(n, str)})
    return names


def stdlib_callables(name: str) -> list[str]:
    """The public functions and classes of standard-library module `name`."""
    module = stdlib_module(name)
    if module is None:
        return []
    return [n for n in stdlib_names(name) if callable(getattr(module, n, None))
            and not isinstance(getattr(module, n, None), type(sys))]


def stdlib_siblings(module: str, name: str, n: int) -> list[str]:
    """Up to `n` other callables of standard module `module` most like `name`, of the same
    sort (classes for a class, functions for a function); [] when `name` is not one."""
    mod = stdlib_module(module)
    if mod is None:
        return []
    is_class = isinstance(getattr(mod, name, None), type)
    pool = [c for c in stdlib_callables(module)
            if isinstance(getattr(mod, c, None), type) == is_class]
    return closest(name, pool, n)


@lru_cache(maxsize=128)
def stdlib_modules_defining(name: str) -> tuple[str, ...]:
    """Standard-library modules (top-level ones) whose top level defines `name`:
    pure-Python modules by a look at their source text, builtin ones by import. Those
    that define it come before those that import it from elsewhere."""
    if not name.isidentifier():
        return ()
    word = re.escape(name)
    defines = re.compile(rf"^(?:def|class|async def) {word}\b|^{word}\s*=", re.MULTILINE)
    pattern = re.compile(rf"^\s*from [\w.]+ import [^\n]*\b{word}\b", re.MULTILINE)
    found: list[str] = []
    reexports: list[str] = []
    for module in sorted(STDLIB):
        if module in sys.builtin_module_names:
            if name in stdlib_names(module):
                found.append(module)
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        origin = getattr(spec, "origin", None) if spec else None
        if not origin or not origin.endswith(".py"):
            if origin and name in stdlib_names(module):
                found.append(module)
            continue
        try:
            with open(origin, encoding="utf-8") as fh:
                text = fh.read(400_000)
        except (OSError, UnicodeDecodeError):
            continue
        if defines.search(text):
            found.append(module)
        elif pattern.search(text):
            reexports.append(module)
    return tuple(found + reexports)


def builtin_type_attributes(type_name: str) -> list[str]:
    """The public attributes of the builtin type called `type_name` ('str', 'list',
    'dict', 'NoneType' ...), or [] when it is not one."""
    kind = getattr(builtins, type_name, None)
    if not isinstance(kind, type):
        kind = {"NoneType": type(None), "dict_keys": type({}.keys()),
                "dict_values": type({}.values()), "dict_items": type({}.items()),
                "generator": type(_x for _x in ""), "method": type(ModuleFacts.of),
                "function": type(stdlib_names)}.get(type_name)
    if kind is None:
        return []
    return [n for n in dir(kind) if not n.startswith("_")]


def closest(word: str, pool: list[str] | set[str] | frozenset[str], n: int,
            cutoff: float = 0.0) -> list[str]:
    """Up to `n` names of `pool` most like `word` (difflib's ratio, then shortest),
    never `word` itself."""
    scored = []
    for cand in set(pool):
        if cand == word:
            continue
        ratio = difflib.SequenceMatcher(None, word.lower(), cand.lower()).ratio()
        if ratio >= cutoff:
            scored.append((-ratio, len(cand), cand))
    return [c for _, _, c in sorted(scored)[:n]]


def exception_relatives(name: str) -> list[str]:
    """Builtin exception classes near `name` in the builtin hierarchy: its bases,
    its subclasses and its siblings, nearest first ([] for a non-builtin name)."""
    kind = EXCEPTIONS.get(name)
    if kind is None:
        return []
    out: list[str] = []
    for base in kind.__mro__[1:]:
        if base.__name__ in EXCEPTIONS and base is not BaseException and base is not object:
            out.append(base.__name__)
    for sub in kind.__subclasses__():
        if sub.__name__ in EXCEPTIONS:
            out.append(sub.__name__)
    parent = kind.__mro__[1]
    for sib in parent.__subclasses__():
        if sib.__name__ in EXCEPTIONS and sib is not kind:
            out.append(sib.__name__)
    seen: list[str] = []
    for n in out:
        if n not in seen and n != name:
            seen.append(n)
    return seen


__all__ = [
    "BUILTIN_NAMES",
    "EXCEPTIONS",
    "STDLIB",
    "ModuleFacts",
    "builtin_type_attributes",
    "closest",
    "exception_relatives",
    "stdlib_callables",
    "stdlib_module",
    "stdlib_modules_defining",
    "stdlib_names",
    "stdlib_siblings",
]
