"""Top-level definitions of a module, found by reading its source, never by running it.

Shared by the pattern library (what to learn, how to recognise the same code) and
the strategies that replace or adapt definitions. Every function here accepts
hostile source: what `ast` cannot handle (`PARSE_ERRORS`) yields an empty answer.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections.abc import Sequence

import msgspec

PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)
"""What `ast` raises on source it cannot handle: bad syntax, NUL bytes, or nesting so
deep that the parser (or a recursive walk of its tree) runs out of stack."""


class Definition(msgspec.Struct, frozen=True, kw_only=True):
    """A top-level function or class of a module, as located in its source."""

    name: str
    kind: str
    signature: str
    params: tuple[str, ...]
    source: str  # the whole lines, decorators included
    start: int  # 1-based first line (first decorator)
    end: int  # 1-based last line
    content_sha256: str
    uses: frozenset[str] = frozenset()


def normalized_sha256(kind: str, source: str, tool: str = "") -> str:
    """The content key: SHA-256 over tool, kind and ``ast.unparse`` of the source.

    Source that does not parse is hashed as it is (it is never learned anyway).
    """
    try:
        text = ast.unparse(ast.parse(source))
    except PARSE_ERRORS:
        text = source
    return hashlib.sha256(f"{tool}\0{kind}\0{text}".encode()).hexdigest()


def _params(args: ast.arguments, *, drop_self: bool = False) -> tuple[str, ...]:
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if drop_self and names:
        names = names[1:]
    names += [a.arg for a in args.kwonlyargs]
    return tuple(names)


def _class_init(node: ast.ClassDef) -> ast.FunctionDef | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return item
    return None


def definitions(source: str) -> list[Definition]:
    """The top-level functions and classes of a module, in source order.

    Returns [] when the source does not parse: nothing can be located in it.
    """
    try:
        return _definitions(source, ast.parse(source))
    except PARSE_ERRORS:
        return []


def _definitions(source: str, tree: ast.Module) -> list[Definition]:
    lines = source.splitlines(keepends=True)
    found: list[Definition] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        text = "".join(lines[start - 1 : end])
        if isinstance(node, ast.ClassDef):
            kind = "class"
            init = _class_init(node)
            signature = ast.unparse(init.args) if init else ""
            params = _params(init.args, drop_self=True) if init else ()
        else:
            kind = "function"
            signature = ast.unparse(node.args)
            params = _params(node.args)
        uses = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        found.append(
            Definition(
                name=node.name, kind=kind, signature=signature, params=params, source=text,
                start=start, end=end, content_sha256=normalized_sha256(kind, text), uses=uses,
            )
        )
    return found


def imports_used(source: str, uses: frozenset[str]) -> tuple[str, ...]:
    """The module's top-level import statements that bind a name the definition uses."""
    try:
        tree = ast.parse(source)
    except PARSE_ERRORS:
        return ()
    wanted: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & uses:
                wanted.append(ast.unparse(node))
    return tuple(wanted)


def _tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name.lower()) if t}


def name_similarity(a: str, b: str) -> float:
    """1.0 for the same name, 0.9 for the same name up to case and underscores,
    else a blend of token overlap and character similarity (0..0.8)."""
    if a == b:
        return 1.0
    if a.lower().replace("_", "") == b.lower().replace("_", ""):
        return 0.9
    ta, tb = _tokens(a), _tokens(b)
    jaccard = len(ta & tb) / len(ta | tb) if ta | tb else 0.0
    ratio = difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()
    return 0.8 * max(jaccard, ratio * 0.9)


def signature_params(signature: str | Sequence[str]) -> tuple[str, ...]:
    """Parameter names of a signature given as source (``"a, b=1"``) or as names."""
    if not isinstance(signature, str):
        return tuple(signature)
    text = signature.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    try:
        tree = ast.parse(f"def _f({text}): pass")
    except PARSE_ERRORS:
        return ()
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    return _params(func.args)


def traceback_lines(output: str, entrypoint: str) -> list[int]:
    """Line numbers of the entrypoint that the output's tracebacks point at, in order."""
    base = re.escape(entrypoint.rsplit("/", 1)[-1])
    pattern = rf"(?:^|[\s/\"']){base}\"?(?::|, line )(\d+)"
    return [int(m.group(1)) for m in re.finditer(pattern, output, re.MULTILINE)]
