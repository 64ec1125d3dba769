"""`run.py web` (SPEC §10): a real server on a free loopback port, real HTTP requests.

The state is built as the daemon leaves it (files in their places, metric lines
as the daemon writes them), with a history whose every count is known, so each
metric's type and value can be checked exactly with prometheus_client's own
parser.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from repairlab.cli.web_cmd import source_for
from repairlab.config import Config, load_config
from repairlab.messages.records import FailureRecord, MetricLine, ReasonFile, rfc3339
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog
from repairlab.state.status import take_status
from repairlab.web import Guard, WebApp, WebServer
from repairlab.web.dashboard import reason_class

REPO = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-for-tests"
SHA_Q = "a" * 64
SHA_R = "b" * 64

pytestmark = pytest.mark.timeout(120)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None,
         data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request: (status, headers, body); error statuses are returned."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@contextmanager
def serving(config: Config, token_file: Path | None = None) -> Iterator[WebServer]:
    """The web window over `config`'s root on a free loopback port."""
    guard = Guard(token_file, loopback_only_hosts=True)
    server = WebServer(WebApp(source_for(config), guard), "127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.stop()


def line(event: str, **fields: Any) -> MetricLine:
    fields.setdefault("ts", rfc3339(time.time() - 60))
    return MetricLine(event=event, instance="test-a", meta_repair=event == "repaired", **fields)


def write_lines(path: Path, lines: list[MetricLine], junk: bool = False) -> None:
    with open(path, "ab") as fh:
        for item in lines:
            fh.write(msgspec.json.encode(item) + b"\n")
        if junk:
            fh.write(b"{not json at all\n")


def repaired(strategy: str, seconds: float, **fields: Any) -> MetricLine:
    return line("repaired", bundle_sha256=SHA_R, tool="calc", lineage="alpha",
                repair_strategy=strategy, duration_s=seconds, **fields)


def quarantine_one(layout: Layout, name: str, *, sha: str = SHA_Q, tool: str = "calc",
                   lineage: str = "alpha", reason: str = "tests fail: 0 passed, 1 failed"
                   ) -> Path:
    """A quarantined handoff with its reason file, as the quarantine actor writes them."""
    layout.hard_fail.mkdir(parents=True, exist_ok=True)
    path = layout.hard_fail / name
    path.write_text(json.dumps({"schema": "repairlab.handoff/1", "tool": tool,
                                "entrypoint": "calc.py", "lineage": lineage,
                                "files": {"calc.py": "x = 1\n"}}))
    stem = name.removesuffix(".json")
    failures = [FailureRecord(ts=rfc3339(time.time() - 30 + i), instance="test-a",
                              reason=reason) for i in range(3)]
    (layout.hard_fail / f"{stem}.reason.json").write_bytes(msgspec.json.encode(ReasonFile(
        handoff=name, rule="3 failures within 600 s", bundle_sha256=sha, failures=failures,
        quarantined_at=rfc3339(time.time() - 10), tool=tool, lineage=lineage,
        reason=reason, instance="test-a")))
    return path


def challenger(layout: Layout, stamp: str, tool: str, strategy: str, diff: str) -> Path:
    layout.challengers.mkdir(parents=True, exist_ok=True)
    path = layout.challengers / f"challenger_{stamp}_{SHA_R[:12]}.json"
    path.write_text(json.dumps({
        "schema": "repairlab.challenger/1", "tool": tool, "lineage": "alpha",
        "handoff_id": None, "bundle_sha256": SHA_R, "repaired_sha256": SHA_R,
        "repair_strategy": strategy, "repair_pattern_id": None, "repair_attempts": 1,
        "repair_details": {}, "meta_repair": True, "files": {"calc.py": "x = 2\n"},
        "diff": diff, "tests": {"passed": 1, "failed": 0, "duration_s": 0.1},
        "instance": "test-a", "created_at": rfc3339(time.time())}))
    return path


def known_state(layout: Layout) -> None:
    """queue 2 (oldest 100 s), in flight 1 (alive instance), deferred 2 (one due 40 s
    ago, one backing off), quarantined 2, a rotated and a live metrics file."""
    layout.ensure()
    now = time.time()
    for name, age in (("q1.json", 100), ("q2.json", 50)):
        (layout.queue / name).write_text("{}")
        os.utime(layout.queue / name, (now - age, now - age))
    (layout.claims_of("inst-a")).mkdir(parents=True, exist_ok=True)
    (layout.claims_of("inst-a") / "held.json").write_text("{}")
    (layout.instances / "inst-a.json").write_text(json.dumps({"pid": 1, "host": "h"}))
    (layout.instances / "inst-b.json").write_text(json.dumps({"pid": 2, "host": "h"}))
    os.utime(layout.instances / "inst-b.json", (now - 3600, now - 3600))  # long silent
    for name, due in (("due.json", now - 40), ("later.json", now + 300)):
        (layout.deferred / name).write_text("{}")
        os.utime(layout.deferred / name, (due, due))
    quarantine_one(layout, "bad.json")
    quarantine_one(layout, "worse.json", sha="c" * 64, tool="other", lineage="beta",
                   reason="crashed the repairer: RecursionError: maximum depth")
    rotated = layout.metrics.with_name("metrics.jsonl.20260101T000000000000Z")
    write_lines(rotated, [repaired("signature_adapter", 0.3)])
    write_lines(layout.metrics, [
        repaired("noop", 0.05),
        repaired("heuristic_microfix", 2.0),
        repaired("noop", 0.01, duplicate=True),
        line("repair_failed", tool="calc", lineage="alpha", bundle_sha256=SHA_Q),
        line("repair_failed", tool="calc", lineage="alpha", bundle_sha256=SHA_Q),
        line("quarantined", tool="calc", lineage="alpha", bundle_sha256=SHA_Q),
        line("corrupt", handoff="junk.json"),
        line("actor_restarted", actor="repairer-0"),
        line("actor_restarted", actor="watcher"),
        line("released", bundle_sha256=SHA_Q),
    ], junk=True)


def scrape(server: WebServer) -> dict[str, Any]:
    """name -> family, parsed by prometheus_client's own parser."""
    status, headers, body = http(server.url + "/metrics")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(family: Any, suffix: str = "", **labels: str) -> float:
    for sample in family.samples:
        if sample.name == family.name + suffix and sample.labels == labels:
            return float(sample.value)
    raise AssertionError(f"no sample {family.name}{suffix} {labels} in {family.samples}")


# -- /metrics -----------------------------------------------------------------------------


def test_metrics_report_every_family_with_its_type_and_the_value_of_the_state(
        make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config) as server:
        families = scrape(server)
        status = json.loads(http(server.url + "/api/status")[2])
    # The gauges are counted apart from `status` (cheaply), and agree with it.
    assert [value(families[f"repairlab_{name}"]) for name in
            ("queue_depth", "in_flight", "deferred", "quarantined", "instances_alive")] == [
        status["queue"], status["in_flight"], status["waiting"], status["quarantined"],
        sum(1 for i in status["instances"] if i["alive"])]
    types = {name: f.type for name, f in families.items() if name.startswith("repairlab_")}
    assert types == {
        "repairlab_queue_depth": "gauge", "repairlab_oldest_queued_seconds": "gauge",
        "repairlab_in_flight": "gauge", "repairlab_deferred": "gauge",
        "repairlab_quarantined": "gauge", "repairlab_instances_alive": "gauge",
        "repairlab_handoffs": "counter", "repairlab_repairs": "counter",
        "repairlab_actor_restarts": "counter", "repairlab_repair_duration_seconds": "histogram",
    }
    assert value(families["repairlab_queue_depth"]) == 2
    # the due deferral waited 40 s, the queue's oldest 100 s; the one backing off is ignored
    assert 99 <= value(families["repairlab_oldest_queued_seconds"]) < 115
    assert value(families["repairlab_in_flight"]) == 1
    assert value(families["repairlab_deferred"]) == 2
    assert value(families["repairlab_quarantined"]) == 2
    assert value(families["repairlab_instances_alive"]) == 1
    handoffs = families["repairlab_handoffs"]
    assert {o: value(handoffs, "_total", outcome=o)
            for o in ("repaired", "failed", "quarantined", "corrupt")} == {
        "repaired": 4, "failed": 2, "quarantined": 1, "corrupt": 1}
    repairs = families["repairlab_repairs"]
    assert value(repairs, "_total", strategy="noop") == 1  # the duplicate is not counted again
    assert value(repairs, "_total", strategy="signature_adapter") == 1  # from the rotated file
    assert value(repairs, "_total", strategy="heuristic_microfix") == 1
    assert value(repairs, "_total", strategy="pattern_transplant") == 0
    assert value(families["repairlab_actor_restarts"], "_total") == 2
    hist = families["repairlab_repair_duration_seconds"]
    assert value(hist, "_count") == 3
    assert value(hist, "_sum") == pytest.approx(2.35)
    assert value(hist, "_bucket", le="0.1") == 1
    assert value(hist, "_bucket", le="0.5") == 2
    assert value(hist, "_bucket", le="1.0") == 2
    assert value(hist, "_bucket", le="2.5") == 3
    assert value(hist, "_bucket", le="+Inf") == 3


def test_metrics_count_only_new_lines_across_scrapes_and_a_rotation(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config) as server:
        before = value(scrape(server)["repairlab_handoffs"], "_total", outcome="repaired")
        assert value(scrape(server)["repairlab_handoffs"], "_total",
                     outcome="repaired") == before  # a second scrape counts nothing again
        # The daemon appends, then the live file is rotated (renamed) and a new one begun.
        log = MetricsLog(layout.metrics, "test-a")
        log.append(repaired("pattern_transplant", 1.0))
        os.rename(layout.metrics, layout.metrics.with_name("metrics.jsonl.20270101T000000Z"))
        log.append(repaired("pattern_transplant", 1.0))
        log.append(line("corrupt", handoff="j2.json"))
        families = scrape(server)
    handoffs = families["repairlab_handoffs"]
    assert value(handoffs, "_total", outcome="repaired") == before + 2
    assert value(handoffs, "_total", outcome="corrupt") == 2
    assert value(families["repairlab_repairs"], "_total", strategy="pattern_transplant") == 2


def test_no_label_holds_a_name_a_tool_or_a_hash(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    write_lines(layout.metrics, [repaired("made-up-by-tool-xyz", 0.2),
                                 line("repair_failed", tool="evil-tool", handoff="h.json")])
    with serving(config) as server:
        families = scrape(server)
    labels = {(k, v) for f in families.values() for s in f.samples for k, v in s.labels.items()}
    keys = {k for k, _ in labels}
    assert keys <= {"outcome", "strategy", "le"}
    values = {v for k, v in labels if k != "le"}
    assert values <= {"repaired", "failed", "quarantined", "corrupt", "noop", "signature_adapter",
                      "pattern_transplant", "heuristic_microfix", "llm", "external_agent", "other"}
    assert value(families["repairlab_repairs"], "_total", strategy="other") == 1


def test_oldest_queued_age_leaves_out_handoffs_backing_off(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    now = time.time()
    (layout.deferred / "later.json").write_text("{}")
    os.utime(layout.deferred / "later.json", (now + 600, now + 600))
    with serving(config) as server:
        assert value(scrape(server)["repairlab_oldest_queued_seconds"]) == 0
        assert value(scrape(server)["repairlab_deferred"]) == 1
        os.utime(layout.deferred / "later.json", (now - 30, now - 30))  # its wait is over
        assert 29 <= value(scrape(server)["repairlab_oldest_queued_seconds"]) < 45


# -- /api ---------------------------------------------------------------------------------


def _cli_json(config: Config, tmp_path: Path, *args: str) -> Any:
    toml = tmp_path / "cli.toml"
    toml.write_text(f'[paths]\nroot = "{config.paths.root}"\n[instance]\nid = "test-a"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    proc = subprocess.run([sys.executable, str(REPO / "run.py"), *args, "--config", str(toml)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _steady(document: dict[str, Any]) -> dict[str, Any]:
    """The status without what changes from one instant to the next."""
    document = dict(document)
    for key in ("generated_at", "oldest_queued_age_s", "next_retry_in_s", "disk"):
        document.pop(key)
    document["instances"] = [{k: v for k, v in i.items() if k != "heartbeat_age_s"}
                             for i in document["instances"]]
    return document


def test_api_status_and_quarantine_are_the_documents_the_cli_prints(
        make_config: Any, tmp_path: Path) -> None:
    config = make_config()
    known_state(Layout.from_config(config))
    with serving(config) as server:
        status, headers, body = http(server.url + "/api/status")
        assert status == 200 and headers["Content-Type"] == "application/json"
        cli = _cli_json(config, tmp_path, "status", "--json")
        assert _steady(json.loads(body)) == _steady(json.loads(cli))
        assert json.loads(body)["queue"] == 2  # not two empty documents
        status, _, body = http(server.url + "/api/quarantine")
        cli = _cli_json(config, tmp_path, "quarantine", "list", "--json")
    assert status == 200
    assert body.decode() == cli  # byte for byte: nothing in it depends on the instant
    assert [e["name"] for e in json.loads(body)["entries"]] == ["bad.json", "worse.json"]


# -- actions, token, CSRF -----------------------------------------------------------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def test_release_needs_the_token_from_the_same_origin_and_then_requeues(
        make_config: Any, token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config, token_file) as server:
        url = server.url + "/api/quarantine/bad.json/release"
        own = server.url.removeprefix("http://")
        refused = [
            {},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": TOKEN},
            {"Authorization": "Basic " + TOKEN},
            {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"},
            {"Authorization": f"Bearer {TOKEN}", "Origin": f"http://{own}.evil.example"},
            {"Authorization": f"Bearer {TOKEN}", "Sec-Fetch-Site": "cross-site"},
        ]
        for headers in refused:
            status, _, body = http(url, "POST", headers)
            assert status == 403, (headers, body)
            assert (layout.hard_fail / "bad.json").exists(), headers
        assert not (layout.queue / "bad.json").exists()
        status, _, body = http(url, "POST", {"Authorization": f"Bearer {TOKEN}",
                                             "Origin": server.url,
                                             "Sec-Fetch-Site": "same-origin"})
        assert status == 200, body
    result = json.loads(body)
    assert result["name"] == "bad.json" and result["queued_as"] == str(layout.queue / "bad.json")
    assert (layout.queue / "bad.json").exists()
    assert not (layout.hard_fail / "bad.json").exists()
    assert not (layout.hard_fail / "bad.reason.json").exists()
    released = [json.loads(x) for x in layout.metrics.read_text().splitlines()
                if x.startswith("{") and '"released"' in x]
    assert released[-1]["handoff"] == "bad.json"


def test_release_all_requeues_every_quarantined_handoff(make_config: Any,
                                                         token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config, token_file) as server:
        status, _, body = http(server.url + "/api/quarantine/release-all", "POST",
                               {"Authorization": "Bearer nope"})
        assert status == 403 and len(list(layout.hard_fail.iterdir())) == 4
        status, _, body = http(server.url + "/api/quarantine/release-all", "POST",
                               {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    result = json.loads(body)
    assert sorted(r["name"] for r in result["released"]) == ["bad.json", "worse.json"]
    assert result["errors"] == []
    assert list(layout.hard_fail.iterdir()) == []
    assert {"bad.json", "worse.json"} <= {p.name for p in layout.queue.iterdir()}


def test_without_a_token_file_the_window_is_read_only(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config, None) as server:
        for path in ("/api/quarantine/bad.json/release", "/api/quarantine/release-all"):
            status, _, body = http(server.url + path, "POST", {"Authorization": "Bearer "})
            assert status == 403 and b"read-only" in body
        _, _, page = http(server.url + "/")
    assert len(list(layout.hard_fail.iterdir())) == 4
    assert b"data-release=" not in page and b"read-only" in page


def test_a_token_file_replaced_meanwhile_takes_effect_and_an_empty_one_refuses(
        make_config: Any, token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config, token_file) as server:
        token_file.write_text("")
        status, _, _ = http(server.url + "/api/quarantine/bad.json/release", "POST",
                            {"Authorization": "Bearer "})
        assert status == 403
        token_file.write_text("rotated")
        status, _, _ = http(server.url + "/api/quarantine/bad.json/release", "POST",
                            {"Authorization": f"Bearer {TOKEN}"})
        assert status == 403 and (layout.hard_fail / "bad.json").exists()
        status, _, _ = http(server.url + "/api/quarantine/bad.json/release", "POST",
                            {"Authorization": "Bearer rotated"})
    assert status == 200 and (layout.queue / "bad.json").exists()


# -- refusals -----------------------------------------------------------------------------


def test_bad_paths_and_wrong_methods_are_refused_and_nothing_moves(
        make_config: Any, token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(config, token_file) as server:
        for path in ("/nope", "/api", "/api/status/x", "/metrics/", "/static/app.py",
                     "/static/../web/app.py", "/api/quarantine/bad.json",
                     "/api/quarantine/bad.json/release/x"):
            status, _, _ = http(server.url + path)
            assert status == 404, path
        for path in ("/api/quarantine/..%2F..%2Fqueue%2Fq1.json/release",
                     "/api/quarantine/..%2Fbad.json/release",
                     "/api/quarantine/q1.json/release",  # in the queue, not quarantined
                     "/api/quarantine/bad.reason.json/release",
                     "/api/quarantine/.hidden/release",
                     "/api/quarantine/%00/release"):
            status, _, body = http(server.url + path, "POST", auth)
            assert status == 404, (path, body)
        assert http(server.url + "/api/quarantine/release-all", "GET")[0] == 405
        assert http(server.url + "/api/quarantine/bad.json/release", "GET")[0] == 405
        assert http(server.url + "/metrics", "POST", auth)[0] == 405
    assert sorted(p.name for p in layout.hard_fail.iterdir()) == [
        "bad.json", "bad.reason.json", "worse.json", "worse.reason.json"]
    assert sorted(p.name for p in layout.queue.iterdir()) == ["q1.json", "q2.json"]


def test_a_10_mb_body_is_refused_with_413_before_it_is_read(
        make_config: Any, token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    with serving(config, token_file) as server, \
            socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(b"POST /api/quarantine/bad.json/release HTTP/1.1\r\n"
                     b"Host: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() +
                     b"\r\nContent-Length: 10485760\r\n\r\n" + b"x" * 4096)
        # Only 4 KiB of the 10 MB sent: the answer comes anyway, so it was not waited for.
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert (layout.hard_fail / "bad.json").exists() and not (layout.queue / "bad.json").exists()


def test_a_foreign_host_name_is_refused_on_a_loopback_listener(make_config: Any) -> None:
    config = make_config()
    known_state(Layout.from_config(config))
    with serving(config) as server:
        for host in ("evil.example", f"evil.example:{server.port}", "10.0.0.1"):
            assert http(server.url + "/api/status", headers={"Host": host})[0] == 403, host
        assert http(server.url + "/api/status",
                    headers={"Host": f"localhost:{server.port}"})[0] == 200


# -- the page -----------------------------------------------------------------------------


def test_the_page_shows_counts_instances_repairs_with_diffs_and_quarantine_escaped(
        make_config: Any, token_file: Path) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    known_state(layout)
    quarantine_one(layout, "xss.json", sha="d" * 64, tool="x<script>alert(1)</script>",
                   reason="tests fail: <img src=x onerror=alert(1)>")
    challenger(layout, "20261130T000000000000Z", "calc", "heuristic_microfix",
               "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    with serving(config, token_file) as server:
        status, headers, body = http(server.url + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        page = body.decode()
        js = http(server.url + "/static/dashboard.js")
        _, _, fragment = http(server.url + "/fragment")
    assert js[0] == 200 and b"setInterval" in js[2]
    assert re.search(r'id="queue-depth">2<', page)
    assert re.search(r'id="quarantined">3<', page)
    assert "inst-a" in page and "held.json" in page and "SILENT" in page  # inst-b
    assert '<span class="add">+x = 2</span>' in page
    assert '<span class="del">-x = 1</span>' in page
    assert 'data-release="bad.json"' in page and 'data-release="worse.json"' in page
    assert 'data-reason="crashed the repairer: RecursionError"' in page
    assert 'data-lineage="beta"' in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    assert "<svg" in page  # the charts
    live = page.partition('<main id="live">')[2].partition("</main>")[0]
    assert live.partition('<p class="stamp"')[0] != ""  # the page's live part is /fragment's
    assert fragment.decode().partition('<section id="recent">')[2].partition("</section>")[0] \
        == live.partition('<section id="recent">')[2].partition("</section>")[0]


def test_a_fresh_empty_root_gives_a_page_and_zero_metrics(make_config: Any) -> None:
    config = make_config()
    Layout.from_config(config).ensure()
    with serving(config) as server:
        status, _, body = http(server.url + "/")
        assert status == 200, body
        assert b"no repair yet" in body and b"nothing quarantined" in body
        assert http(server.url + "/fragment")[0] == 200
        families = scrape(server)
    assert value(families["repairlab_queue_depth"]) == 0
    assert value(families["repairlab_handoffs"], "_total", outcome="repaired") == 0
    assert value(families["repairlab_repair_duration_seconds"], "_count") == 0


def test_a_root_that_does_not_exist_is_503_not_a_page_of_zeros(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    with serving(config) as server:
        layout.root.rename(layout.root.with_name("moved-away"))  # unmounted, say
        for path in ("/", "/metrics", "/api/status"):
            status, _, body = http(server.url + path)
            assert status == 503 and b"does not exist" in body, path


def test_reasons_are_classed_for_the_filter() -> None:
    assert reason_class("tests fail: 0 passed, 2 failed, 0 errors (exit 1); tried noop "
                        "(exhausted); first failure: NotImplementedError: nobody") == \
        "tests fail: NotImplementedError"
    assert reason_class("crashed the repairer: RecursionError: maximum recursion") == \
        "crashed the repairer: RecursionError"
    assert reason_class("tests fail: tests timed out after 30.0s") == "tests fail: tests timed out"
    assert reason_class(None) == "(no reason)"


# -- the command --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_web_command_serves_the_configured_root_until_sigterm(
        make_config: Any, tmp_path: Path, token_file: Path) -> None:
    config = make_config()
    known_state(Layout.from_config(config))
    port = _free_port()
    toml = tmp_path / "web.toml"
    toml.write_text(f'[paths]\nroot = "{config.paths.root}"\n'
                    f'[web]\nlisten = "127.0.0.1:1"\ntoken_file = "token"\n')
    with (tmp_path / "web.err").open("w") as err:
        proc = subprocess.Popen([sys.executable, str(REPO / "run.py"), "web", "--config",
                                 str(toml), "--listen", f"127.0.0.1:{port}"],
                                stderr=err, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = http(f"http://127.0.0.1:{port}/api/quarantine")
                break
            except urllib.error.URLError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.1)
        assert status == 200 and b"bad.json" in body
        status, _, _ = http(f"http://127.0.0.1:{port}/api/quarantine/bad.json/release", "POST",
                            {"Authorization": f"Bearer {TOKEN}"})  # token_file is relative
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"http://127.0.0.1:{port}/" in (tmp_path / "web.err").read_text()


def test_the_web_command_refuses_a_bad_listen_or_token_file_with_exit_2(
        make_config: Any, tmp_path: Path) -> None:
    config = make_config()
    Layout.from_config(config).ensure()
    toml = tmp_path / "web.toml"
    for web, extra, says in (
            ('listen = "nohost"', [], "[web] listen"),
            ("", ["--listen", "127.0.0.1:notaport"], "--listen"),
            ('token_file = "missing-token"', [], "missing-token")):
        toml.write_text(f'[paths]\nroot = "{config.paths.root}"\n[web]\n{web}\n')
        proc = subprocess.run([sys.executable, str(REPO / "run.py"), "web", "--config",
                               str(toml), *extra], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, (web, proc.stderr)
        assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_web_keys_have_their_defaults_and_resolve_the_token_file_beside_the_config(
        tmp_path: Path) -> None:
    defaults = load_config(None)
    assert (defaults.web.listen, defaults.web.token_file) == ("127.0.0.1:8470", "")
    toml = tmp_path / "c.toml"
    toml.write_text('[web]\nlisten = "[::1]:9000"\ntoken_file = "secret/token"\n')
    config = load_config(toml)
    assert config.web.listen == "[::1]:9000"
    assert config.web.token_file == str(tmp_path / "secret" / "token")


def test_status_lists_a_large_directory_again_only_when_it_changed(make_config: Any) -> None:
    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    for i in range(3):
        (layout.done / f"d{i}.json").write_text("{}")
    old = time.time() - 60
    os.utime(layout.done, (old, old))
    assert take_status(layout, config).done == 3
    # An entry slipped in with the directory's mtime put back: not listed again...
    (layout.done / "d3.json").write_text("{}")
    os.utime(layout.done, (old, old))
    assert take_status(layout, config).done == 3
    # ...but any real change of the directory is seen at once.
    (layout.done / "d4.json").write_text("{}")
    assert take_status(layout, config).done == 5
    os.unlink(layout.done / "d0.json")
    assert take_status(layout, config).done == 4
