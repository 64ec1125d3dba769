"""Turning a model's reply into candidate files, leniently but safely.

A reply is untrusted text. It is only parsed here, never run: the candidate it
yields is judged in the sandbox like any other. Three forms are understood, tried
in this order:

1. **A unified diff** (fenced as ``diff``/``patch`` or bare): each hunk is found in
   the current file by its context, near the line it names or anywhere else, with
   trailing whitespace ignored if need be; a hunk that matches nowhere rejects
   the reply.
2. **Fenced code blocks** (``python``, ``py`` or unlabeled): each block's file is
   named by a first-line comment (``# file: pkg/mod.py``) or by a path just before
   the fence, else it is the entrypoint. A block that defines every top-level
   function and class of its file replaces the whole file; a block holding only
   some of them (a model's usual "here is the fixed function") has each of its
   definitions spliced over the same-named one, new ones appended and its missing
   imports added at the top.
3. **A bare whole file**: the reply parses as Python by itself.

Line-number prefixes copied from the prompt (``  3 | ``) and a common indentation of
a whole block are removed. The files
then pass the same checks as an `external_agent` reply (`check_reply`): clean
relative paths, no test file edited or added, no file that steers pytest, size
limits. A reply that breaks a rule raises ReplyRejected naming it.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Mapping

import msgspec

from repairlab.repair.bundle import Bundle
from repairlab.repair.strategies.external import ReplyRejected, check_reply

MAX_TEXT_CHARS = 512 * 1024

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FILE_MARK = re.compile(r"^\s*#\s*(?:file(?:name)?\s*:\s*)?([\w./-]+\.py)\s*$", re.IGNORECASE)
_PATH_BEFORE = re.compile(r"([\w./-]+\.py)\W*$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_LINE_NO = re.compile(r"^\s*\d+ \| ?")
_PY_LANGS = {"", "python", "py", "python3"}


def parse_reply(text: str, bundle: Bundle) -> dict[str, str]:
    """The files the reply changes, checked like a handoff.

    Raises ReplyRejected when the reply holds no usable code, a diff does not
    apply, code does not parse, or the result breaks a rule of `check_reply`
    (a test file touched above all).
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ReplyRejected(f"reply longer than {MAX_TEXT_CHARS} characters")
    diff = _find_diff(text)
    files = apply_diff(diff, bundle.files) if diff is not None else _from_code(text, bundle)
    for path, new in files.items():
        old = bundle.files.get(path)
        if old is not None and old.endswith("\n") and not new.endswith("\n"):
            files[path] = new + "\n"
    return check_reply(msgspec.json.encode({"files": files}), bundle)


# -- unified diffs ----------------------------------------------------------------------


def _find_diff(text: str) -> str | None:
    for match in _FENCE.finditer(text):
        if match.group(1).lower() in ("diff", "patch", "udiff") or _looks_like_diff(
                match.group(2)):
            return match.group(2)
    return text if _looks_like_diff(text) else None


def _looks_like_diff(text: str) -> bool:
    return (re.search(r"^--- \S", text, re.MULTILINE) is not None
            and re.search(r"^\+\+\+ \S", text, re.MULTILINE) is not None
            and re.search(r"^@@ ", text, re.MULTILINE) is not None)


def _diff_path(header: str) -> str | None:
    path = header[4:].split("\t")[0].strip()
    if path == "/dev/null":
        return None
    if path.startswith(("a/", "b/")):
        path = path[2:]
    return path


def apply_diff(diff: str, files: Mapping[str, str]) -> dict[str, str]:
    """Apply a unified diff to `files` (path -> text); returns the new texts of the
    files it touches. Raises ReplyRejected when a hunk matches nowhere or the diff
    names a file it does not create and the bundle lacks."""
    existing: dict[str, str] = dict(files)
    lines = diff.splitlines()
    result: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines)
                and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        old_path, new_path = _diff_path(lines[i]), _diff_path(lines[i + 1])
        path = new_path or old_path
        if path is None or new_path is None:
            raise ReplyRejected("the diff deletes a file")
        i += 2
        text = result.get(path, existing.get(old_path or "", "") if old_path else "")
        if old_path is not None and old_path not in existing and old_path not in result:
            raise ReplyRejected(f"the diff edits {old_path[:200]!r}, which the bundle lacks")
        body = text.splitlines()
        cursor = 0
        while i < len(lines) and not lines[i].startswith("--- "):
            match = _HUNK.match(lines[i])
            if match is None:
                i += 1
                continue
            i += 1
            old_block: list[str] = []
            new_block: list[str] = []
            while i < len(lines) and not lines[i].startswith(("@@ ", "--- ")):
                line = lines[i]
                tag, rest = (line[:1], line[1:]) if line else (" ", "")
                if tag == " ":
                    old_block.append(rest)
                    new_block.append(rest)
                elif tag == "-":
                    old_block.append(rest)
                elif tag == "+":
                    new_block.append(rest)
                elif tag != "\\":  # "\ No newline at end of file"
                    break
                i += 1
            at = _locate(body, old_block, int(match.group(1)) - 1, cursor)
            if at is None:
                raise ReplyRejected(f"a hunk of the diff for {path[:200]} matches nowhere")
            body[at:at + len(old_block)] = new_block
            cursor = at + len(new_block)
        result[path] = "\n".join(body) + ("\n" if body else "")
    if not result:
        raise ReplyRejected("the diff holds no file")
    return result


def _locate(body: list[str], block: list[str], hint: int, cursor: int) -> int | None:
    if not block:
        return max(0, min(hint + 1, len(body)))
    size = len(block)
    starts = sorted(range(len(body) - size + 1), key=lambda s: (s < cursor, abs(s - hint)))
    for strip in (False, True):
        want = [b.rstrip() for b in block] if strip else block
        for start in starts:
            window = body[start:start + size]
            if ([w.rstrip() for w in window] if strip else window) == want:
                return start
    return None


# -- code blocks -------------------------------------------------------------------------


def _strip_line_numbers(code: str) -> str:
    lines = code.splitlines()
    numbered = [ln for ln in lines if ln.strip()]
    if numbered and all(_LINE_NO.match(ln) for ln in numbered):
        return "\n".join(_LINE_NO.sub("", ln, count=1) for ln in lines) + "\n"
    return code


def _target(code: str, before: str, bundle: Bundle) -> tuple[str, str]:
    """(path, code without the file-naming comment)."""
    first, _, rest = code.partition("\n")
    mark = _FILE_MARK.match(first)
    if mark is not None and (mark.group(1) in bundle.files or "file" in first.lower()):
        return mark.group(1).removeprefix("./"), rest
    tail = before.rstrip().splitlines()[-1:] if before.strip() else []
    named = _PATH_BEFORE.search(tail[0]) if tail else None
    if named is not None and named.group(1).removeprefix("./") in bundle.files:
        return named.group(1).removeprefix("./"), code
    return bundle.entrypoint, code


def _from_code(text: str, bundle: Bundle) -> dict[str, str]:
    blocks: list[tuple[str, str]] = []
    for match in _FENCE.finditer(text):
        if match.group(1).lower() in _PY_LANGS:
            before = text[:match.start()]
            code = textwrap.dedent(_strip_line_numbers(match.group(2)))  # an indented block
            blocks.append(_target(code, before, bundle))
    if not blocks:
        bare = _strip_line_numbers(text.strip() + "\n")
        try:
            tree = ast.parse(bare)
        except (SyntaxError, ValueError, RecursionError):
            raise ReplyRejected("reply holds no code block, diff or Python file") from None
        if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                   for n in tree.body):
            raise ReplyRejected("reply holds no code block, diff or Python file")
        blocks = [(bundle.entrypoint, bare)]
    files: dict[str, str] = {}
    for path, code in blocks:
        base = files.get(path, bundle.files.get(path))
        files[path] = merge_code(base, code, path)
    return files


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    return {node.name: node for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def merge_code(original: str | None, code: str, path: str) -> str:
    """`code` as the new text of `path`: the whole file when it defines every
    top-level definition of `original` (or there is no original), else spliced
    definition by definition. Raises ReplyRejected when `code` does not parse."""
    try:
        new_tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise ReplyRejected(f"the code for {path[:200]} does not parse: {exc}") from None
    if original is None:
        return code
    try:
        old_tree = ast.parse(original)
    except (SyntaxError, ValueError, RecursionError):
        return code  # the original is broken: only a whole file can replace it
    old_defs, new_defs = _top_level(old_tree), _top_level(new_tree)
    if set(old_defs) <= set(new_defs) or not new_defs:
        return code
    old_lines = original.splitlines()
    new_lines = code.splitlines()
    # Bottom-up, so that earlier line numbers stay valid.
    replaced = sorted((node for name, node in old_defs.items() if name in new_defs),
                      key=lambda n: n.lineno, reverse=True)
    for node in replaced:
        start, end = _span(node)
        repl_start, repl_end = _span(new_defs[node.name])  # type: ignore[attr-defined]
        old_lines[start:end] = new_lines[repl_start:repl_end]
    added = [n for name, n in new_defs.items() if name not in old_defs]
    for node in added:
        start, end = _span(node)
        old_lines.extend(["", "", *new_lines[start:end]])
    old_imports = {ast.unparse(n) for n in old_tree.body if isinstance(n, ast.Import |
                                                                      ast.ImportFrom)}
    imports = [ast.unparse(n) for n in new_tree.body
               if isinstance(n, ast.Import | ast.ImportFrom) and ast.unparse(n) not in old_imports]
    if imports:
        at = _import_insertion_line(old_tree)
        old_lines[at:at] = imports
    return "\n".join(old_lines) + "\n"


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) of a definition, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
    return start, node.end_lineno or node.lineno


def _import_insertion_line(tree: ast.Module) -> int:
    """After the module docstring and any `from __future__` import."""
    at = 0
    for node in tree.body:
        is_doc = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  and isinstance(node.value.value, str))
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if is_doc or is_future:
            at = node.end_lineno or node.lineno
            continue
        break
    return at


__all__ = ["ReplyRejected", "apply_diff", "merge_code", "parse_reply"]
