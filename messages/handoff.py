"""The handoff, `repairlab.handoff/1`, and everything that makes one invalid.

`decode_handoff(data, limits)` is the only way bytes become a `Handoff`. It either
returns a handoff that satisfies every rule of SPEC §2, or raises `HandoffInvalid`
whose message names the field and the fault. It never raises anything else, so the
caller can send whatever fails to `processed/corrupt/` with that message.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import msgspec

from repairlab.errors import HandoffInvalid
from repairlab.repair.bundle import Bundle, bundle_sha256, default_tests

SCHEMA = "repairlab.handoff/1"
TOOL_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
HEX64_RE = re.compile(r"[0-9a-f]{64}")
# RFC 3339 `date-time`: full date, full time, and a `Z` or numeric offset (no bare dates,
# no local times, which `datetime.fromisoformat` would also accept).
RFC3339_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
MAX_JSON_DEPTH = 64  # a handoff is four levels deep; anything far deeper is hostile
# One JSON string, quotes and all; one that never ends runs to the end of the input, as
# in `_depth_walk`. Possessive: no backtracking, so one pass over the input whatever it
# holds (a hostile run of escaped quotes after an opening one made a backtracking
# pattern try again from every quote: quadratic).
_JSON_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class Failure(msgspec.Struct, kw_only=True):
    """What the producer saw; free-form apart from these two optional fields."""

    stage: str | None = None
    message: str | None = None


class Handoff(msgspec.Struct, kw_only=True):
    """One handoff, as SPEC §2 defines it. Unknown fields are ignored here and
    kept untouched in the file itself."""

    schema: str
    tool: str
    entrypoint: str
    files: dict[str, str]
    tests: list[str] | None = None
    lineage: str | None = None
    parent_sha256: str | None = None
    id: str | None = None
    failure: dict[str, Any] | None = None
    created_at: str | None = None

    @property
    def test_paths(self) -> tuple[str, ...]:
        """The given tests, or every `test_*.py` / `*_test.py` in the files."""
        if self.tests is not None:
            return tuple(self.tests)
        return default_tests(self.files)

    @property
    def sha256(self) -> str:
        """The SPEC's `bundle_sha256` of the files."""
        return bundle_sha256(self.files)

    def bundle(self) -> Bundle:
        """The engine's view of this handoff."""
        return Bundle(self.files, self.test_paths, self.entrypoint, self.tool)


def _shown(path: str) -> str:
    return json.dumps(path)[:200]


def check_relative_path(path: str, field: str) -> None:
    """Raise HandoffInvalid unless `path` is relative, uses `/`, and has no
    `..`, `.`, empty or absolute part and no NUL or control character."""
    if not isinstance(path, str) or not path:
        raise HandoffInvalid("path", f"{field}: empty path", field)
    if "\0" in path:
        raise HandoffInvalid("path", f"{field}: path {_shown(path)} contains NUL", field)
    if "\\" in path:
        raise HandoffInvalid("path", f"{field}: path {_shown(path)} contains a backslash", field)
    if path.startswith("/"):
        raise HandoffInvalid("path", f"{field}: path {_shown(path)} is absolute", field)
    if _CONTROL_RE.search(path):
        raise HandoffInvalid("path", f"{field}: path {_shown(path)} contains a control character",
                             field)
    if len(path.encode("utf-8")) > 1024:
        raise HandoffInvalid("path", f"{field}: path {_shown(path)}... is longer than 1024 bytes",
                             field)
    for part in path.split("/"):
        fault = ("has an empty part" if part == "" else "contains '..'" if part == ".."
                 else "contains '.'" if part == "." else
                 "has a part over 255 bytes" if len(part.encode("utf-8")) > 255 else None)
        if fault is not None:
            raise HandoffInvalid("path", f"{field}: path {_shown(path)} {fault}", field)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise HandoffInvalid("json", f"duplicate key {json.dumps(key)[:120]}", key)
        seen[key] = value
    return seen


def _depth_ok(data: bytes) -> bool:
    """Bracket depth, counted outside strings, stays within MAX_JSON_DEPTH.

    The depth is at most the number of opening brackets outside strings. A handoff
    has a handful, so counting them (in C: every bracket, then those left once the
    strings are cut out) settles almost every document; only one with more
    structural brackets than the limit is walked byte by byte. The strings are
    cut out exactly as the walk reads them (an escape takes the next byte, a
    string that does not end takes the rest), so the count passes only what the
    walk passes, and the answer is always the walk's."""
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return True
    structure = _JSON_STRING_RE.sub(b"", data)
    if structure.count(b"[") + structure.count(b"{") <= MAX_JSON_DEPTH:
        return True
    return _depth_walk(data)


def _depth_walk(data: bytes) -> bool:
    depth = 0
    in_string = False
    escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_json_object(data: bytes, what: str = "handoff") -> dict[str, Any]:
    """Strict JSON: UTF-8, one object, no duplicate keys, bounded depth.
    Raises HandoffInvalid naming the fault."""
    if not data:
        raise HandoffInvalid("empty", f"{what} is empty (0 bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HandoffInvalid("encoding", f"{what} is not UTF-8: {exc}") from None
    if text.startswith("\ufeff"):
        raise HandoffInvalid("encoding", f"{what} starts with a byte-order mark")
    if not _depth_ok(data):
        raise HandoffInvalid("json", f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        obj = json.loads(text, object_pairs_hook=_reject_duplicates,
                         parse_constant=_reject_constant)
    except HandoffInvalid:
        raise
    except (ValueError, RecursionError) as exc:
        raise HandoffInvalid("json", f"{what} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise HandoffInvalid("json", f"{what} is a JSON {type(obj).__name__}, not an object")
    _check_encodable(obj, what)
    return obj


def _check_encodable(obj: Any, what: str) -> None:
    """Every string and key is UTF-8 text: JSON's `\\uD800` escapes can smuggle a lone
    surrogate into a valid-looking document, which no file or hash could then hold."""
    stack: list[Any] = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                shown = json.dumps(item)[:80]
                raise HandoffInvalid(
                    "encoding", f"{what} holds a string that is not UTF-8 text "
                    f"(a lone surrogate escape): {shown}") from None


def _reject_constant(name: str) -> Any:
    raise HandoffInvalid("json", f"non-standard JSON constant {name}")


def decode_handoff(data: bytes, *, max_bytes: int, max_files: int) -> Handoff:
    """Decode and validate one handoff. Raises HandoffInvalid on any fault."""
    if len(data) > max_bytes:
        raise HandoffInvalid(
            "limit", f"handoff is {len(data)} bytes, over limits.max_handoff_bytes={max_bytes}"
        )
    obj = parse_json_object(data)
    schema = obj.get("schema")
    if "schema" not in obj:
        raise HandoffInvalid("field", "missing required field 'schema'", "schema")
    if schema != SCHEMA:
        raise HandoffInvalid(
            "schema", f"unknown schema {json.dumps(schema)[:80]}; expected {SCHEMA!r}", "schema"
        )
    files = obj.get("files")
    if isinstance(files, dict) and len(files) > max_files:
        raise HandoffInvalid(
            "limit", f"handoff has {len(files)} files, over limits.max_files={max_files}", "files"
        )
    try:
        handoff = msgspec.convert(obj, Handoff, strict=True)
    except msgspec.ValidationError as exc:
        raise HandoffInvalid("field", f"invalid handoff: {exc}", _field_of(str(exc))) from None
    _check_rules(handoff)
    return handoff


def _field_of(message: str) -> str | None:
    match = re.search(r"at `\$\.([A-Za-z_]+)", message) or re.search(
        r"required field `([A-Za-z_]+)`", message
    )
    return match.group(1) if match else None


def _check_rules(h: Handoff) -> None:
    if not TOOL_RE.fullmatch(h.tool):
        raise HandoffInvalid(
            "field", f"tool {json.dumps(h.tool)[:140]} does not match [A-Za-z0-9_.-]{{1,128}}",
            "tool",
        )
    if not h.files:
        raise HandoffInvalid("field", "files is empty", "files")
    for path in h.files:
        check_relative_path(path, "files")
    _check_no_prefix_clash(h.files)
    check_relative_path(h.entrypoint, "entrypoint")
    if h.entrypoint not in h.files:
        raise HandoffInvalid(
            "field", f"entrypoint {json.dumps(h.entrypoint)[:200]} is not a key of files",
            "entrypoint",
        )
    if h.tests is not None:
        if len(set(h.tests)) != len(h.tests):
            raise HandoffInvalid("field", "tests lists a path twice", "tests")
        for path in h.tests:
            check_relative_path(path, "tests")
            if path not in h.files:
                raise HandoffInvalid(
                    "field", f"test {json.dumps(path)[:200]} is not a key of files", "tests"
                )
        if h.entrypoint in h.tests:
            raise HandoffInvalid("field", "the entrypoint is listed among the tests", "tests")
    if not h.test_paths:
        raise HandoffInvalid("field", "the bundle has no test file", "tests")
    if h.parent_sha256 is not None and not HEX64_RE.fullmatch(h.parent_sha256):
        raise HandoffInvalid(
            "field", "parent_sha256 is not 64 lower-case hex characters", "parent_sha256"
        )
    if h.created_at is not None:
        try:
            if not RFC3339_RE.fullmatch(h.created_at):
                raise ValueError(h.created_at)
            datetime.fromisoformat(h.created_at.upper().replace("Z", "+00:00"))
        except ValueError:
            raise HandoffInvalid(
                "field", f"created_at {json.dumps(h.created_at)[:80]} is not RFC 3339",
                "created_at",
            ) from None
    for name, value in (("lineage", h.lineage), ("id", h.id)):
        if value is not None and len(value) > 1024:
            raise HandoffInvalid("field", f"{name} is longer than 1024 characters", name)


def _check_no_prefix_clash(files: dict[str, str]) -> None:
    """`a` and `a/b` cannot both be files: one would have to be a directory."""
    dirs: set[str] = set()
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    clash = dirs & set(files)
    if clash:
        name = json.dumps(sorted(clash)[0])[:200]
        raise HandoffInvalid("path", f"files: {name} is both a file and a directory", "files")
