"""Property-based tests of the handoff decoder: whatever the bytes, either a clear
`HandoffInvalid` or a handoff that satisfies every rule of SPEC §2, re-checked here
independently of the product code."""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repairlab.errors import HandoffInvalid
from repairlab.messages.handoff import (
    MAX_JSON_DEPTH,
    Handoff,
    _depth_ok,
    _depth_walk,
    decode_handoff,
)

MAX_BYTES = 20_000
MAX_FILES = 12
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SPEC_TOOL = re.compile(r"[A-Za-z0-9_.-]{1,128}")
SPEC_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
SPEC_RFC3339 = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
VALID: dict[str, Any] = {
    "schema": "repairlab.handoff/1",
    "tool": "calc",
    "entrypoint": "calc.py",
    "files": {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    },
    "tests": ["test_calc.py"],
    "lineage": "calc-line",
    "parent_sha256": "0" * 64,
    "id": "h-1",
    "failure": {"stage": "tests", "message": "boom"},
    "created_at": "2026-11-26T05:00:00.123456Z",
}


def decode(data: bytes) -> Handoff | None:
    """The decoder under test: None for a clear rejection; any other exception fails."""
    try:
        handoff = decode_handoff(data, max_bytes=MAX_BYTES, max_files=MAX_FILES)
    except HandoffInvalid as exc:
        assert str(exc), "a rejection must say what is wrong"
        assert not any(ord(c) < 32 for c in str(exc)), repr(str(exc))
        return None
    check_spec(data, handoff)
    return handoff


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"accepted a duplicate key among {keys!r}"
    return dict(pairs)


def _spec_path(path: str) -> None:
    assert path and not path.startswith("/"), path
    assert "\\" not in path and "\0" not in path, path
    for part in path.split("/"):
        assert part not in ("", "..", "."), path


def check_spec(data: bytes, handoff: Handoff) -> None:
    """Every SPEC §2 rule, checked on the raw bytes that were accepted."""
    assert len(data) <= MAX_BYTES
    text = data.decode("utf-8")  # raises (and fails the test) if not UTF-8
    assert not text.startswith("\ufeff")
    obj = json.loads(text, object_pairs_hook=_pairs_without_duplicates)
    assert isinstance(obj, dict)
    assert obj["schema"] == "repairlab.handoff/1"
    assert isinstance(obj["tool"], str) and SPEC_TOOL.fullmatch(obj["tool"])
    files = obj["files"]
    assert isinstance(files, dict) and 0 < len(files) <= MAX_FILES
    for path, content in files.items():
        _spec_path(path)
        assert isinstance(content, str)
        path.encode("utf-8")
        content.encode("utf-8")
    assert isinstance(obj["entrypoint"], str) and obj["entrypoint"] in files
    _spec_path(obj["entrypoint"])
    if obj.get("tests") is not None:
        assert isinstance(obj["tests"], list)
        for path in obj["tests"]:
            assert isinstance(path, str) and path in files
    if obj.get("parent_sha256") is not None:
        assert SPEC_HEX64.fullmatch(obj["parent_sha256"])
    if obj.get("created_at") is not None:
        assert SPEC_RFC3339.fullmatch(obj["created_at"]), obj["created_at"]
    for key in ("lineage", "id"):
        assert obj.get(key) is None or isinstance(obj[key], str)
    assert obj.get("failure") is None or isinstance(obj["failure"], dict)
    # What the repairer does next must not fail either.
    assert handoff.files == files and handoff.tool == obj["tool"]
    assert handoff.sha256 == spec_sha256(files)
    bundle = handoff.bundle()
    assert bundle.tests and all(t in files for t in bundle.tests)


def spec_sha256(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.encode("utf-8")):
        digest.update(path.encode("utf-8") + b"\0" + files[path].encode("utf-8") + b"\0")
    return digest.hexdigest()


def encode_pairs(pairs: list[tuple[str, Any]]) -> bytes:
    """A JSON object from key/value pairs, duplicates kept as given."""
    body = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs)
    return ("{" + body + "}").encode()


# -- strategies ------------------------------------------------------------------------

path_parts = st.sampled_from(["a", "b.py", "test_x.py", "..", ".", "", "x\\y", "n\0ul",
                              "\u202e", "é", "\udc80", "sub", "calc.py", "t\n"])
paths = st.lists(path_parts, min_size=1, max_size=4).map("/".join) | st.sampled_from(
    ["/abs.py", "calc.py", "test_calc.py", "a/../b.py"]) | st.text(max_size=12)
json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
field_values: dict[str, st.SearchStrategy[Any]] = {
    "schema": st.sampled_from(["repairlab.handoff/1", "repairlab.handoff/2", ""]) | json_values,
    "tool": st.from_regex(SPEC_TOOL, fullmatch=True) | st.sampled_from(["a/b", "..", ""])
    | json_values,
    "entrypoint": paths | json_values,
    "files": st.dictionaries(paths, st.text(max_size=30) | json_scalars, max_size=6)
    | json_values,
    "tests": st.lists(paths, max_size=3) | json_values,
    "lineage": st.text(max_size=10) | json_values,
    "parent_sha256": st.from_regex(r"[0-9a-fA-Fg]{62,66}", fullmatch=True) | json_values,
    "id": st.text(max_size=10) | json_values,
    "failure": st.dictionaries(st.text(max_size=5), json_scalars, max_size=3) | json_values,
    "created_at": st.sampled_from(["2026-11-26T05:00:00Z", "2026-11-26", "2026-13-01T00:00:00Z",
                                   "2026-11-26T05:00:00", "2026-11-26 05:00:00+01:00", "now"])
    | json_values,
}


@st.composite
def mutated_handoffs(draw: st.DrawFn) -> bytes:
    """A valid handoff with a few fields dropped, duplicated, retyped or replaced."""
    pairs = list(VALID.items())
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["drop", "duplicate", "replace", "add_file", "unknown"]))
        if op == "drop" and pairs:
            pairs.pop(draw(st.integers(0, len(pairs) - 1)))
        elif op == "duplicate" and pairs:
            pairs.append(pairs[draw(st.integers(0, len(pairs) - 1))])
        elif op == "replace":
            key = draw(st.sampled_from(sorted(field_values)))
            value = draw(field_values[key])
            pairs = [(k, value if k == key else v) for k, v in pairs]
        elif op == "add_file":
            extra = {draw(paths): draw(st.text(max_size=20))}
            pairs = [(k, {**v, **extra} if k == "files" and isinstance(v, dict) else v)
                     for k, v in pairs]
        else:
            pairs.append((draw(st.text(max_size=8)), draw(json_values)))
    return encode_pairs(pairs)


@st.composite
def byte_flipped(draw: st.DrawFn) -> bytes:
    """A valid handoff's bytes with a few bytes changed, cut or inserted."""
    data = bytearray(json.dumps(VALID).encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


# -- properties ------------------------------------------------------------------------


def test_the_valid_handoff_is_accepted_and_meets_the_spec() -> None:
    assert decode(json.dumps(VALID).encode()) is not None


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    decode(data)


@FUZZ
@given(mutated_handoffs())
def test_mutated_handoffs_are_either_rejected_clearly_or_meet_every_spec_rule(
        data: bytes) -> None:
    decode(data)


@FUZZ
@given(byte_flipped())
def test_byte_flipped_handoffs_are_either_rejected_clearly_or_meet_every_spec_rule(
        data: bytes) -> None:
    decode(data)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.sampled_from(sorted(field_values)), json_values, max_size=10))
def test_arbitrary_json_objects_with_handoff_keys_never_crash(obj: dict[str, Any]) -> None:
    decode(json.dumps(obj).encode())


# -- the depth check: counting brackets stands in for walking the bytes -----------------

def test_the_counted_depth_check_decides_as_the_byte_walk_whatever_the_bytes() -> None:
    # Any bytes at all: runs of brackets, strings with escaped quotes and backslashes,
    # strings that never end, stray escapes. Seeded, and many: a sizable share is
    # deeper than the limit outside its strings (counted below, so this cannot pass
    # by never meeting one), and a sizable share passes with more brackets than the
    # limit (inside strings, or side by side).
    tokens = [b"[" * 8, b"{", b"]", b"}", b'"', b"\\", b"a", b",", b'"\\""', b'"\\\\"',
              b'"[{"']
    rng = random.Random(20261130)
    refused = many_brackets_passed = 0
    for _ in range(5000):
        data = b"".join(rng.choice(tokens) for _ in range(rng.randint(0, 150)))
        walked = _depth_walk(data)
        assert _depth_ok(data) is walked, data
        refused += not walked
        many_brackets_passed += walked and data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH
    assert refused > 500 and many_brackets_passed > 500


@pytest.mark.timeout(30)
def test_the_depth_check_reads_a_hostile_run_of_escaped_quotes_in_one_pass() -> None:
    # A string pattern that backtracks tries again from every quote of such a run,
    # each try reading on to the end: 64 KB of it took 25 s. These are 400 KB.
    run = b'"' + b'\\"' * 200_000  # a string that never ends: every quote is escaped
    deep = b"[" * 70 + run  # deeper than the limit before the string
    shallow = b"[" * 30 + run + b"[" * 40  # the last brackets are inside the string
    assert _depth_ok(deep) is _depth_walk(deep) is False
    assert _depth_ok(shallow) is _depth_walk(shallow) is True


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_BRACKETY = st.text(alphabet='[]{}"\\ab', max_size=12)
_NESTED = st.recursive(_BRACKETY | st.integers(),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_BRACKETY, inner, max_size=3),
                       max_leaves=120)


@FUZZ
@given(_NESTED, st.integers(min_value=0, max_value=80))
def test_the_depth_check_of_json_is_its_nesting_whatever_its_strings_hold(
        value: Any, wrap: int) -> None:
    value = json.loads(json.dumps(value))
    for _ in range(wrap):  # deep enough, now and then, to be refused; escaped quotes
        value = ['"[{' * 3, value, "[{" * 40]  # before and between the brackets
    data = json.dumps(value).encode()
    assert _depth_ok(data) == (_depth(value) <= MAX_JSON_DEPTH) == _depth_walk(data)
