"""Hostile input: every malformed handoff ends in corrupt/ with its fault named.

One real daemon serves the whole corpus (module scope, to stay fast). Each case plants
one hostile entry in `queue/` the way an attacker on the box could (a file, a directory,
a FIFO, a socket, a device node, a symlink or hard link, under odd names) and is checked
on its own: the entry ends in `processed/corrupt/` as itself (a link stays a link), its
reason file names the fault in readable text free of raw control characters, and one
`corrupt` metrics line says the same. Cases are dropped in groups of related faults;
after each group a fresh good handoff must still be repaired (a daemon that crashed,
hung on a FIFO or looped on a name would fail there).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSING, metric_lines, names, running, submit, variant, wait_for
from repairlab.config import load_config
from repairlab.state.fsops import FileChanged, NotARegularFile, read_regular_file
from repairlab.state.layout import Layout

MAX_FILES = 20
MAX_BYTES = 200_000
SECRET = f"never-read-{uuid.uuid4().hex}"


def doc(**changes: Any) -> dict[str, Any]:
    """A valid handoff as a dict, with fields replaced (a value of `...` drops one)."""
    base: dict[str, Any] = {
        "schema": "repairlab.handoff/1", "tool": "calc", "entrypoint": "calc.py",
        "files": dict(PASSING), "lineage": "hostile",
    }
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def enc(**changes: Any) -> bytes:
    """`doc(**changes)` as JSON bytes (ASCII-escaped, so any string survives)."""
    return json.dumps(doc(**changes)).encode()


def with_files(extra: dict[str, Any]) -> bytes:
    """A handoff whose files are the passing bundle plus `extra`."""
    return enc(files={**PASSING, **extra})


GOOD = enc()
LONG_STEM = "L" * (255 - len(".json"))


# -- planting hostile entries ----------------------------------------------------------


def drop(queue: Path, name: str | bytes, data: bytes) -> None:
    """Write `data` whole under a hidden temporary name, then rename it into place,
    as a producer does (so the daemon never sees it half-written)."""
    tmp = queue / f".drop-{uuid.uuid4().hex}.tmp"
    tmp.write_bytes(data)
    os.rename(os.fsencode(tmp), os.fsencode(queue) + b"/" + os.fsencode(name))


def plant_directory(queue: Path, name: str) -> None:
    (queue / name).mkdir()
    (queue / name / "inner.json").write_bytes(GOOD)


def plant_fifo(queue: Path, name: str) -> None:
    os.mkfifo(queue / name, 0o600)


def plant_socket(queue: Path, name: str) -> None:
    path = str(queue / name)
    if len(path.encode()) >= 108:
        pytest.skip(f"socket path too long for AF_UNIX: {len(path)} bytes")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)


def plant_device(queue: Path, name: str) -> None:
    null = os.stat("/dev/null")
    try:
        os.mknod(queue / name, stat.S_IFCHR | 0o600, null.st_rdev)
    except PermissionError as exc:
        pytest.skip(f"cannot make a device node here ({exc}); needs CAP_MKNOD")


def plant_link(target: Callable[[Path], Path]) -> Callable[[Path, str], None]:
    def plant(queue: Path, name: str) -> None:
        os.symlink(target(queue), queue / name)
    return plant


def plant_hardlink_to_secret(queue: Path, name: str) -> None:
    """A hard link is a regular file: it is read, but only as a handoff, and what it
    holds must not leak into any output."""
    os.link(queue.parent.parent / "outside" / "secret.txt", queue / name)


def outside(queue: Path) -> Path:
    """A valid handoff outside the state root, carrying a marker that must never leak."""
    return queue.parent.parent / "outside" / "valid.json"


@dataclass(frozen=True)
class Case:
    """One hostile queue entry and the fault its reason must name."""

    id: str
    expect: str
    data: bytes | None = None
    plant: Callable[[Path, str], None] | None = None
    name: str | bytes | None = None
    shown: str | None = None  # the name it ends under in corrupt/, when not `name`

    @property
    def file_name(self) -> str | bytes:
        return self.name if self.name is not None else f"{self.id}.json"

    @property
    def corrupt_name(self) -> str:
        if self.shown is not None:
            return self.shown
        name = self.file_name
        assert isinstance(name, str)
        return name


GROUPS: dict[str, list[Case]] = {
    "not-one-utf8-json-object": [
        Case("invalid-json", "not valid JSON", b"{this is not json"),
        Case("truncated", "not valid JSON", GOOD[: len(GOOD) // 2]),
        Case("zero-bytes", "empty (0 bytes)", b""),
        Case("non-utf8", "not UTF-8", b'{"schema": "repairlab.handoff/1", "tool": "\xff\xfe"}'),
        Case("bom", "byte-order mark", b"\xef\xbb\xbf" + GOOD),
        Case("json-array", "not an object", b"[1, 2, 3]"),
        Case("json-null", "not an object", b"null"),
        Case("trailing-garbage", "not valid JSON", GOOD + b" {}"),
        Case("nan-constant", "NaN", GOOD[:-1] + b', "x": NaN}'),
        Case("huge-integer", "not valid JSON", GOOD[:-1] + b', "x": ' + b"9" * 5000 + b"}"),
        Case("deep-arrays", "nests deeper", b"[" * 100_000),
        Case("deep-in-unknown-field", "nests deeper",
             GOOD[:-1] + b', "x": ' + b"[" * 200 + b"]" * 200 + b"}"),
        Case("lone-surrogate-content", "not UTF-8 text",
             with_files({}).replace(b'"def add', b'"\\ud800def add')),
        Case("lone-surrogate-key", "not UTF-8 text", with_files({"\udc00.py": "x = 1\n"})),
    ],
    "duplicate-keys-and-wrong-types": [
        Case("duplicate-top-level-key", 'duplicate key "tool"',
             GOOD[:-1] + b', "tool": "other"}'),
        Case("duplicate-key-in-files", 'duplicate key "calc.py"',
             GOOD.replace(b'"files": {', b'"files": {"calc.py": "x = 1\\n", ', 1)),
        Case("tool-int", "$.tool", enc(tool=7)),
        Case("tool-null", "$.tool", enc(tool=None)),
        Case("files-list", "$.files", enc(files=["calc.py", "test_calc.py"])),
        Case("file-content-int", "$.files", with_files({"data.py": 42})),
        Case("tests-str", "$.tests", enc(tests="test_calc.py")),
        Case("tests-of-ints", "$.tests", enc(tests=[1])),
        Case("lineage-int", "$.lineage", enc(lineage=3)),
        Case("failure-str", "$.failure", enc(failure="boom")),
        Case("schema-int", "unknown schema", enc(schema=1)),
    ],
    "missing-fields-and-schema": [
        Case("missing-schema", "missing required field 'schema'", enc(schema=...)),
        Case("missing-tool", "required field `tool`", enc(tool=...)),
        Case("missing-entrypoint", "required field `entrypoint`", enc(entrypoint=...)),
        Case("missing-files", "required field `files`", enc(files=...)),
        Case("unknown-schema", "unknown schema", enc(schema="repairlab.handoff/2")),
    ],
    "rules-over-the-fields": [
        Case("entrypoint-not-in-files", "is not a key of files", enc(entrypoint="other.py")),
        Case("entrypoint-dotdot", "contains '..'", enc(entrypoint="../calc.py")),
        Case("files-empty", "files is empty", enc(files={})),
        Case("no-test-file", "no test file", enc(files={"calc.py": PASSING["calc.py"]})),
        Case("tests-missing-file", "is not a key of files", enc(tests=["test_nowhere.py"])),
        Case("entrypoint-among-tests", "listed among the tests", enc(tests=["calc.py"])),
        Case("file-and-directory", "both a file and a directory",
             with_files({"pkg": "", "pkg/mod.py": ""})),
    ],
    "paths-in-files": [
        Case("path-dotdot", "contains '..'", with_files({"../evil.py": "x = 1\n"})),
        Case("path-dotdot-inside", "contains '..'", with_files({"a/../../evil.py": "x = 1\n"})),
        Case("path-absolute", "is absolute", with_files({"/tmp/evil.py": "x = 1\n"})),
        Case("path-backslash", "backslash", with_files({"a\\..\\evil.py": "x = 1\n"})),
        Case("path-nul", "NUL", with_files({"evil\u0000.py": "x = 1\n"})),
        Case("path-empty-part", "empty part", with_files({"a//evil.py": "x = 1\n"})),
        Case("path-dot-part", "contains '.'", with_files({"./evil.py": "x = 1\n"})),
        Case("path-empty", "empty path", with_files({"": "x = 1\n"})),
        Case("path-newline", "control character", with_files({"evil\n.py": "x = 1\n"})),
        Case("path-escape-sequence", "control character",
             with_files({"\u001b[31mred.py": "x = 1\n"})),
    ],
    "tool-metadata-and-limits": [
        Case("tool-slash", "does not match", enc(tool="a/b")),
        Case("tool-dotdot-path", "does not match", enc(tool="../../etc")),
        Case("tool-empty", "does not match", enc(tool="")),
        Case("tool-too-long", "does not match", enc(tool="t" * 129)),
        Case("parent-sha-not-hex", "parent_sha256", enc(parent_sha256="z" * 64)),
        Case("parent-sha-upper-case", "parent_sha256", enc(parent_sha256="A" * 64)),
        Case("created-at-words", "not RFC 3339", enc(created_at="yesterday")),
        Case("created-at-date-only", "not RFC 3339", enc(created_at="2026-11-26")),
        Case("created-at-no-offset", "not RFC 3339", enc(created_at="2026-11-26T10:00:00")),
        Case("more-files-than-max-files", f"max_files={MAX_FILES}",
             with_files({f"m{i}.py": "" for i in range(MAX_FILES)})),
        Case("more-bytes-than-max-bytes", f"max_handoff_bytes={MAX_BYTES}",
             with_files({"big.py": "#" * MAX_BYTES})),
    ],
    "not-a-regular-file": [
        Case("directory", "a directory", plant=plant_directory),
        Case("fifo", "a FIFO", plant=plant_fifo),
        Case("socket", "a socket", plant=plant_socket, name="s.json"),
        Case("symlink-to-valid-handoff", "a symbolic link", plant=plant_link(outside)),
        Case("symlink-to-etc-passwd", "a symbolic link",
             plant=plant_link(lambda q: Path("/etc/passwd"))),
        Case("symlink-dangling", "a symbolic link", plant=plant_link(lambda q: q / "nowhere")),
        Case("symlink-to-directory", "a symbolic link", plant=plant_link(lambda q: q.parent)),
        Case("hardlink-to-a-secret-outside", "not valid JSON", plant=plant_hardlink_to_secret),
    ],
    "odd-names": [
        Case("newline-name", "not valid JSON", b"{", name="bad\nname.json"),
        Case("rtl-override-name", "not valid JSON", b"{", name="evil\u202enosj.exe.json"),
        Case("combining-and-emoji-name", "not valid JSON", b"{",
             name="e\u0301\u0301\u0301-\U0001f4a3\U0001f525.json"),
        Case("escape-sequence-name", "not valid JSON", b"{", name="\u001b[2J\u001b[31mx.json"),
        Case("name-255-bytes", "not valid JSON", b"{", name=LONG_STEM + ".json",
             shown=LONG_STEM[:187] + "~"),
        Case("non-utf8-name", "is not UTF-8", GOOD, name=b"\xff\xfe-bad.json",
             shown="\\xff\\xfe-bad.json"),
    ],
}
CASES = [case for group in GROUPS.values() for case in group]


# -- one daemon for the corpus ---------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """A running daemon over a fresh root, with small limits; plus a file outside it."""
    base = tmp_path_factory.mktemp("hi")
    config = load_config(None, overrides={
        "paths": {"root": str(base / "state")},
        "instance": {"id": "hostile"},
        "backoff": {"base_seconds": 0.05, "max_seconds": 0.2},
        "repair": {"workers": 2, "test_timeout_seconds": 20, "bundle_timeout_seconds": 30,
                   "strategies": ["noop"]},
        "limits": {"max_files": MAX_FILES, "max_handoff_bytes": MAX_BYTES},
        "watch": {"rescan_seconds": 0.3, "heartbeat_seconds": 1},
    })
    layout = Layout.from_config(config)
    layout.ensure()
    (base / "outside").mkdir()
    target = outside(layout.queue)
    target.write_bytes(enc(id=SECRET))
    (base / "outside" / "secret.txt").write_text(f"password={SECRET}\n")
    os.utime(target, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    with running(config):
        yield layout


_counter = iter(range(10_000))


def good_handoff_completes(layout: Layout, timeout: float = 15.0) -> None:
    """Submit a fresh good handoff (a new bundle, so it is really tested) and wait
    for it in done/: the daemon is alive and not blocked."""
    n = next(_counter)
    name = f"good-{n}.json"
    submit(layout, variant(PASSING, 1000 + n), name)
    wait_for(lambda: name in names(layout.done), timeout=timeout,
             what=f"{name} in done/ after a hostile entry")


def reasons(layout: Layout) -> dict[str, dict[str, Any]]:
    """Every reason file in corrupt/, by the handoff name it describes."""
    found = {}
    for path in layout.corrupt.iterdir():
        if path.name.endswith(".reason.json") and not path.name.startswith("."):
            record = json.loads(path.read_bytes())
            found[record["handoff"]] = record
    return found


def reason_for(layout: Layout, case: Case) -> dict[str, Any]:
    """Wait for the reason file of `case` and return it."""
    want = case.corrupt_name
    got: dict[str, dict[str, Any]] = {}

    def present() -> bool:
        # The reason file is written first, then the handoff is moved beside it.
        got.update(reasons(layout))
        return any((n == want or (n.startswith(want) and want.endswith("~")))
                   and os.path.lexists(layout.corrupt / n) for n in got)

    wait_for(present, timeout=15, what=f"reason file for {case.id}")
    [key] = [n for n in got if n == want or (n.startswith(want) and want.endswith("~"))]
    return got[key]


def plant(layout: Layout, case: Case) -> None:
    """Put the hostile entry of `case` into the running daemon's queue."""
    if case.plant is not None:
        assert isinstance(case.file_name, str)
        case.plant(layout.queue, case.file_name)
    else:
        assert case.data is not None
        drop(layout.queue, case.file_name, case.data)


def check_corrupt(layout: Layout, case: Case) -> None:
    """The entry is in corrupt/ as itself, beside a reason naming its fault in
    readable text, with one `corrupt` metrics line; nothing of it is left behind."""
    record = reason_for(layout, case)
    text = record["reason"]
    assert case.expect in text, f"{case.id}: {text!r}"
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text), f"{case.id}: {text!r}"
    assert record["rule"] and record["corrupt_at"] and record["instance"] == "hostile"
    placed = layout.corrupt / record["handoff"]
    assert os.path.lexists(placed), case.id
    queued = os.fsencode(layout.queue) + b"/" + os.fsencode(case.file_name)
    assert not os.path.lexists(queued), case.id
    if case.id.startswith("symlink"):
        assert placed.is_symlink(), case.id
    shown = {record["handoff"], case.file_name if isinstance(case.file_name, str) else None}

    def metric_written() -> bool:
        lines = [m for m in metric_lines(layout)
                 if m["event"] == "corrupt" and m.get("handoff") in shown]
        assert len(lines) <= 1, case.id
        return bool(lines) and lines[0]["reason"] == text.split(": ", 1)[1]

    wait_for(metric_written, timeout=10, what=f"corrupt metrics line for {case.id}")


def test_the_corpus_has_at_least_forty_distinct_cases() -> None:
    assert len(CASES) + 1 >= 40  # + the character device, tested on its own below
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("group", list(GROUPS), ids=list(GROUPS))
def test_malformed_handoffs_end_in_corrupt_with_their_fault_named_and_daemon_goes_on(
        hostile: Layout, group: str) -> None:
    """Each group's entries are dropped together, then a good handoff must still be
    repaired: the daemon survived every one of them and is not blocked."""
    for case in GROUPS[group]:
        plant(hostile, case)
    for case in GROUPS[group]:
        check_corrupt(hostile, case)
    assert names(hostile.claims_of("hostile")) == []
    good_handoff_completes(hostile)


def test_character_device_ends_in_corrupt_as_a_device(hostile: Layout) -> None:
    case = Case("character-device", "a character device", plant=plant_device)
    plant(hostile, case)
    check_corrupt(hostile, case)
    assert stat.S_ISCHR(os.lstat(hostile.corrupt / "character-device.json").st_mode)
    good_handoff_completes(hostile)


def test_symlinked_handoff_outside_the_root_is_never_read_or_touched(hostile: Layout) -> None:
    """The outside handoff behind a symlink (planted here and by the corpus) was never
    opened: its atime is still the one set at the start (under relatime, any read
    would have moved it, as atime <= mtime). It was never moved, and neither its marker
    id nor the hard-linked secret appears in any output of the daemon (the link itself,
    in corrupt/, is the only file holding it)."""
    case = Case("symlink-again", "a symbolic link", plant=plant_link(outside))
    plant(hostile, case)
    check_corrupt(hostile, case)
    target = outside(hostile.queue)
    assert target.exists() and not target.is_symlink()
    st = target.stat()
    assert st.st_atime_ns == 1_000_000_000_000_000_000
    assert json.loads(target.read_bytes())["id"] == SECRET
    # The hard-linked secret is still in place; only the queue's link to it moved.
    assert (target.parent / "secret.txt").read_text() == f"password={SECRET}\n"
    passwd_line = Path("/etc/passwd").read_text().splitlines()[0]
    outputs = [hostile.metrics, *hostile.corrupt.iterdir(), *hostile.done.iterdir(),
               *hostile.challengers.glob("*.json")]
    for path in outputs:
        if path.is_file() and not path.is_symlink() and path.stat().st_nlink == 1:
            text = path.read_text(errors="replace")
            assert SECRET not in text, path
            assert passwd_line not in text, path


@pytest.mark.parametrize("name", [
    "good\nnewline.json", "good\u202ertl.json", "go\u0301od-\U0001f600.json",
    "G" * 250 + ".json",
], ids=["newline", "rtl-override", "combining-emoji", "255-bytes"])
def test_valid_handoff_under_an_odd_name_is_repaired_under_that_name(
        hostile: Layout, name: str) -> None:
    drop(hostile.queue, name, json.dumps(doc(files=variant(PASSING, len(name)))).encode())
    wait_for(lambda: name in names(hostile.done), timeout=15, what="odd name in done/")
    [line] = [m for m in metric_lines(hostile)
              if m["event"] == "repaired" and m.get("handoff") == name]
    assert line["repair_strategy"] == "noop"


def test_a_taken_255_byte_name_still_gets_a_unique_name_in_done(hostile: Layout) -> None:
    name = "D" * 250 + ".json"

    def in_done() -> list[str]:
        return [n for n in names(hostile.done) if n.startswith("D" * 200)]

    for count in (1, 2):
        data = json.dumps(doc(files=variant(PASSING, 7000 + count))).encode()
        drop(hostile.queue, name, data)  # the first one has left the queue by now
        wait_for(lambda: len(in_done()) == count, timeout=15,  # noqa: B023 - awaited at once
                 what=f"long name #{count} in done/")
    assert name in in_done()
    assert all(len(os.fsencode(n)) <= 255 for n in in_done())


def test_hidden_and_temporary_names_are_left_alone_in_the_queue(hostile: Layout) -> None:
    for name in (".hidden.json", "pending.json.tmp", ".pending.json.tmp", "upper.JSON"):
        drop(hostile.queue, name, GOOD)
    good_handoff_completes(hostile)
    time.sleep(1.0)  # several rescans (0.3 s each) pass: none of these is ever claimed
    left = sorted(p.name for p in hostile.queue.iterdir() if not p.name.startswith(".drop"))
    assert left == [".hidden.json", ".pending.json.tmp", "pending.json.tmp", "upper.JSON"]


# -- vanishing and changing files ------------------------------------------------------


def test_handoff_vanishing_after_its_claim_leaves_no_record_and_crashes_nothing(
        make_config: Callable[..., Any]) -> None:
    # The first repairer message is delayed 2 s (the code's own injection point), so
    # the claimed file can be deleted before the repairer reads it.
    config = make_config(faults={"seed": 1, "points": {"actor.repairer": "slow:2#1"}})
    layout = Layout.from_config(config)
    layout.ensure()
    claimed = layout.claims_of("test-a") / "vanish.json"
    with running(config):
        submit(layout, variant(PASSING, 1), "vanish.json")
        wait_for(claimed.exists, timeout=10, what="the claim")
        claimed.unlink()
        submit(layout, variant(PASSING, 2), "after.json")
        wait_for(lambda: "after.json" in names(layout.done), timeout=20, what="next handoff")
    for place in (layout.queue, layout.done, layout.hard_fail, layout.corrupt,
                  layout.deferred, layout.claims_of("test-a")):
        assert "vanish.json" not in names(place) and "vanish.reason.json" not in names(place)
    lines = metric_lines(layout)
    assert not [m for m in lines if m.get("handoff") == "vanish.json"]
    assert not [m for m in lines if m["event"] == "actor_restarted"]


def test_file_changing_while_read_is_reported_as_changed(tmp_path: Path) -> None:
    path = tmp_path / "growing.json"
    path.write_bytes(b"{" + b" " * (4 << 20))
    stop = threading.Event()
    started = threading.Event()

    def writer() -> None:
        with open(path, "ab", buffering=0) as out:
            while not stop.is_set():
                out.write(b" " * 512)
                started.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    started.wait(5)
    changed = 0
    try:
        for _ in range(30):
            try:
                data, st = read_regular_file(path, 64 << 20)
            except FileChanged as exc:
                assert "changed while it was being read" in str(exc)
                changed += 1
                break
            else:
                assert len(data) == st.st_size  # a quiet moment: a consistent snapshot
    finally:
        stop.set()
        thread.join(5)
    assert changed > 0


def test_file_rewritten_in_place_with_its_mtime_restored_still_counts_as_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer strikes in the middle of the read (at a fixed point, so the test is
    exact): same size, and it sets the mtime back. Only the ctime, which no writer
    can set, tells; the writer waits out the kernel's coarse timestamp tick first."""
    path = tmp_path / "same-size.json"
    path.write_bytes(b"A" * (3 << 20))
    before = path.stat()
    real_read = os.read
    struck: list[bool] = []

    def read_with_a_writer_midway(fd: int, n: int) -> bytes:
        chunk = real_read(fd, n)
        if not struck and os.fstat(fd).st_ino == before.st_ino:
            struck.append(True)
            time.sleep(0.02)
            with open(path, "r+b") as out:
                out.write(b"B" * 4096)
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        return chunk

    monkeypatch.setattr(os, "read", read_with_a_writer_midway)
    with pytest.raises(FileChanged, match="changed while it was being read"):
        read_regular_file(path, 16 << 20)
    monkeypatch.undo()
    after = path.stat()
    assert struck and (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    """A writer blocked opening the FIFO would be released by any open for reading:
    it stays blocked, so read_regular_file never opened it."""
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # blocks until someone opens for reading
        opened.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(NotARegularFile, match="a FIFO"):
        read_regular_file(fifo, 1000)
    assert time.monotonic() - started < 1.0
    assert not opened.wait(0.3)
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # release the writer
    thread.join(5)
    assert opened.is_set()


@pytest.mark.parametrize("path,what", [("/dev/null", "a character device"),
                                       ("/tmp", "a directory")])
def test_special_files_are_refused_by_type(path: str, what: str) -> None:
    with pytest.raises(NotARegularFile, match=what):
        read_regular_file(Path(path), 1000)


def test_symlink_is_refused_without_being_followed(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_bytes(b"{}")
    os.symlink(target, tmp_path / "link.json")
    with pytest.raises(NotARegularFile, match="a symbolic link"):
        read_regular_file(tmp_path / "link.json", 1000)


def test_vanished_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "gone.json", 1000)
