"""One parsed source file and how edits of it become new text.

`FileModel` parses a file once and keeps what edits need (parents, enclosing
statements, scopes, character spans). An `Edit` is a set of character replacements
plus the same change applied to the tree; `render` applies one edit (or a pair) to the
text and checks that the result parses to exactly the edited tree, so a candidate is
never invalid Python nor different from what its label says. `repair.mutations`
lists the edits.
"""

from __future__ import annotations

import ast
import bisect
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

Undo = Callable[[], None]


@dataclass(eq=False)
class Edit:
    """One edit of one file.

    `spans` are (start, end, text, parenthesised text) character replacements of the
    file's text; `mutate` applies the same edit to the model's tree in place and returns
    its undo. `pairable` edits touch one expression and may be combined with another.
    `kind` names the family of the edit ("compare", "import", "guard", ...: what error-
    driven localization matches against a failure's exception); `deletes` marks an edit
    that removes behaviour (drops a call, an operand or a statement, or puts a constant
    where a value was computed), which ranks after a natural edit; `informed` marks an
    edit proposed from a failure's own message (a receiver's real attributes, a module's
    names), tried first at its line. `also` holds the lines of the other statements an
    edit of several places changes (a constant or a name at every use): the edit is as
    suspicious as the most suspicious of them.
    """

    path: str
    line: int
    anchor: int
    cost: int
    label: str
    spans: tuple[tuple[int, int, str, str], ...]
    mutate: Callable[[], Undo]
    pairable: bool = False
    seq: int = 0
    kind: str = ""
    deletes: bool = False
    informed: bool = False
    also: tuple[int, ...] = ()


@dataclass(eq=False)
class FileModel:
    """A parsed source file with what edits need: parents, spans, scopes, anchors.

    Raises SyntaxError (or ValueError) when the text does not parse: such a file
    cannot be edited and the caller skips it.
    """

    path: str
    text: str
    tree: ast.Module = field(init=False)
    parents: dict[ast.AST, tuple[ast.AST, str, int | None]] = field(init=False)
    anchors: dict[ast.AST, ast.stmt] = field(init=False)
    scopes: dict[ast.AST, ast.AST | None] = field(init=False)
    _starts: list[int] = field(init=False)
    _lines: list[str] = field(init=False)
    _in_fstring: set[ast.AST] = field(init=False)
    _top_spans: list[tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.tree = ast.parse(self.text)
        self._lines = self.text.split("\n")
        self._starts = list(itertools.accumulate((len(ln) + 1 for ln in self._lines), initial=0))
        self.parents = {}
        self.anchors = {}
        self.scopes = {}
        self._in_fstring = set()
        self._index(self.tree, None, None)
        self._top_spans = []
        for top in self.tree.body:
            first = min([top.lineno] + [d.lineno for d in getattr(top, "decorator_list", [])])
            end = self.offset(top.end_lineno or top.lineno, top.end_col_offset or 0)
            self._top_spans.append((self.line_start(first), end))

    def _index(self, node: ast.AST, stmt: ast.stmt | None, scope: ast.AST | None) -> None:
        if isinstance(node, ast.stmt):
            stmt = node
        if isinstance(node, ast.JoinedStr):
            # Positions inside f-strings are unreliable before 3.12: never edit them.
            self._in_fstring.update(ast.walk(node))
        if stmt is not None:
            self.anchors[node] = stmt
        self.scopes[node] = scope
        inner = node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else scope
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        self.parents[child] = (node, name, i)
                        self._index(child, stmt, inner)
            elif isinstance(value, ast.AST):
                self.parents[value] = (node, name, None)
                self._index(value, stmt, inner)

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of a (1-based line, UTF-8 byte column) position."""
        line = self._lines[lineno - 1]
        if not line.isascii():
            col = len(line.encode("utf-8")[:col].decode("utf-8", "replace"))
        return self._starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int] | None:
        """The node's character span, or None when it has no usable position."""
        if node in self._in_fstring or getattr(node, "end_lineno", None) is None:
            return None
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def top_level_index(self, offset: int) -> int | None:
        """Index in the module body of the top-level statement spanning `offset`."""
        k = bisect.bisect_right([start for start, _ in self._top_spans], offset) - 1
        if k >= 0 and offset <= self._top_spans[k][1]:
            return k
        return None

    def line_start(self, lineno: int) -> int:
        """Offset of the first character of a 1-based line."""
        return self._starts[min(lineno - 1, len(self._starts) - 1)]

    def whole_lines(self, stmt: ast.stmt) -> tuple[int, int, str] | None:
        """(start, end, indent) of a statement alone on its lines, else None."""
        first = self._lines[stmt.lineno - 1]
        end_lineno = stmt.end_lineno or stmt.lineno
        last = self._lines[end_lineno - 1]
        indent = first[: stmt.col_offset]
        if indent.strip() or (not first.isascii() and first[: len(indent)] != indent):
            return None
        end_col = self.offset(end_lineno, stmt.end_col_offset or 0) - self._starts[end_lineno - 1]
        tail = last[end_col:].strip()
        if tail and not tail.startswith("#"):
            return None
        end = self._starts[end_lineno] if end_lineno < len(self._lines) else len(self.text)
        return self.line_start(stmt.lineno), end, indent

    def source_of(self, stmt: ast.stmt) -> str | None:
        """The statement's own lines, dedented, or None when not alone on its lines."""
        where = self.whole_lines(stmt)
        if where is None:
            return None
        start, end, indent = where
        lines = self.text[start:end].split("\n")
        out = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines]
        text = "\n".join(out)
        return text if text.endswith("\n") else text + "\n"


def set_field(parent: ast.AST, fieldname: str, index: int | None, value: ast.AST) -> Undo:
    """Put `value` in `parent.fieldname` (or at `index` of that list); returns the undo."""
    if index is None:
        old = getattr(parent, fieldname)
        setattr(parent, fieldname, value)
        return lambda: setattr(parent, fieldname, old)
    seq = getattr(parent, fieldname)
    old_item = seq[index]
    seq[index] = value

    def undo() -> None:
        seq[index] = old_item

    return undo


def render(model: FileModel, edits: Sequence[Edit]) -> str | None:
    """The file's text with `edits` applied, or None when they overlap or when the text
    would not parse to exactly the edited tree (the edit is then not offered)."""
    spans = sorted((s for e in edits for s in e.spans), key=lambda s: s[0])
    for (_, end1, _, _), (start2, _, _, _) in itertools.pairwise(spans):
        if start2 < end1:
            return None
    # Only the top-level statements holding the edits are compared: the text outside
    # the spans is untouched, so the rest of the module cannot differ unless the
    # number of top-level statements does.
    tops = {model.top_level_index(span[0]) for span in spans}
    whole = None in tops
    undos = [e.mutate() for e in edits]
    try:
        body = model.tree.body
        expected = ([ast.dump(model.tree)] if whole
                    else [ast.dump(body[k]) for k in sorted(t for t in tops if t is not None)])
        count = len(body)
    finally:
        for undo in reversed(undos):
            undo()
    for parenthesised in (False, True):
        text = model.text
        for start, end, plain, wrapped in reversed(spans):
            text = text[:start] + (wrapped if parenthesised else plain) + text[end:]
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            continue
        if whole:
            got = [ast.dump(tree)]
        elif len(tree.body) != count:
            continue
        else:
            got = [ast.dump(tree.body[k]) for k in sorted(t for t in tops if t is not None)]
        if got == expected:
            return text
    return None


def pairs(edits: Sequence[Edit], limit: int) -> Iterator[tuple[Edit, Edit]]:
    """Pairs of pairable edits of one file from the first `limit` of `edits` (already in
    priority order), in order of the later member's position: the best pairs first."""
    pool = [e for e in edits if e.pairable][:limit]
    for j in range(len(pool)):
        for i in range(j):
            first, second = pool[i], pool[j]
            one, two = first.spans[0], second.spans[0]
            if first.path == second.path and (one[1] <= two[0] or two[1] <= one[0]):
                yield first, second
