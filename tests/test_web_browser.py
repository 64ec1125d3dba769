"""The dashboard in a real browser: Debian's headless Chromium, driven through its chromedriver.

The state is the demo's (its example bundles, drained by a real daemon). The
test reads the page as an operator would, takes the screenshot the README
shows (`docs/dashboard.png`), releases the quarantined handoff with the token
through the page's own button, and watches the page pick up a new repair by
itself, without a reload. Nothing is installed or downloaded at run time: the
browser and driver are the system's (`.ci/run` installs `chromium` and
`chromium-driver`), given to Selenium by path, with Selenium Manager offline.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSING, names, running, submit, wait_for
from repairlab.cli.demo import BUNDLES, demo_config
from repairlab.cli.submit import build_handoff, enqueue, pack_directory
from repairlab.cli.web_cmd import source_for
from repairlab.config import Config, load_config
from repairlab.state.layout import Layout
from repairlab.web import Guard, WebApp, WebServer

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "docs" / "dashboard.png"
TOKEN = "browser-test-token"

pytestmark = pytest.mark.timeout(240)


def _binary(*candidates: str) -> str | None:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    chromium = _binary("chromium", "chromium-browser")
    driver_path = _binary("chromedriver")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    if driver_path is None:
        pytest.skip("chromedriver is not installed (Debian package chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1900", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _demo_state(tmp_path: Path) -> Config:
    """The demo's root: its example bundles (and the duplicate and the truncated
    file) drained by a real daemon."""
    settings = demo_config(tmp_path / "state")
    settings["instance"] = {"id": "demo-a"}
    settings["watch"] = {"rescan_seconds": 0.5, "heartbeat_seconds": 1}
    config = load_config(None, overrides=settings)
    layout = Layout.from_config(config)
    layout.ensure()
    for bundle in sorted(p for p in BUNDLES.iterdir() if p.is_dir()):
        meta = json.loads((bundle / "meta.json").read_text())
        files = {k: v for k, v in pack_directory(bundle).items() if k != "meta.json"}
        enqueue(layout, build_handoff(files, meta["tool"], meta["entrypoint"],
                                      meta.get("lineage")), meta["tool"], f"{bundle.name}.json")
    files = {k: v for k, v in pack_directory(BUNDLES / "slugify").items() if k != "meta.json"}
    enqueue(layout, build_handoff(files, "slugify", "slugify.py", "text-tools"), "slugify",
            "slugify-again.json")
    enqueue(layout, b'{"schema": "repairlab.handoff/1", "tool": ', "broken", "truncated.json")
    with running(config):
        wait_for(lambda: len(names(layout.done)) == 5 and names(layout.hard_fail) == [
            "roman.json", "roman.reason.json"] and "truncated.json" in names(layout.corrupt),
            timeout=150, what="the demo's bundles drained")
    return config


def _text(driver: Any, css: str) -> str:
    """The text of the element at `css`, read again when the page's refresh
    replaced it between finding and reading (a stale element)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            return str(driver.find_element(By.CSS_SELECTOR, css).text)
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept being replaced while read")


def _click(driver: Any, css: str) -> None:
    """Click the element at `css`, found again if a refresh replaced it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept being replaced while clicked")


def test_the_dashboard_shows_the_state_releases_with_the_token_and_updates_itself(
        browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    config = _demo_state(tmp_path)
    layout = Layout.from_config(config)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    server = WebServer(WebApp(source_for(config), Guard(token_file, loopback_only_hosts=True)),
                       "127.0.0.1", 0).start()
    try:
        with running(config):  # an idle instance, so that the page shows one alive
            wait_for(lambda: bool(names(layout.instances)), 15, "a heartbeat")
            browser.get(server.url + "/")
            assert _text(browser, "#alive") == "1/1"
            SCREENSHOT.parent.mkdir(exist_ok=True)
            assert browser.save_screenshot(str(SCREENSHOT))
        assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert _text(browser, "#queue-depth") == "0"
        assert _text(browser, "#quarantined") == "1"
        rows = browser.execute_script(  # read at once: the refresh replaces the rows
            "return Array.from(document.querySelectorAll('#quarantine-rows tr[data-reason]'),"
            " r => [r.cells[0].textContent, r.dataset.reason])")
        assert [name for name, _ in rows] == ["roman.json"]
        assert "NotImplementedError" in rows[0][1]
        added = browser.execute_script(
            "return Array.from(document.querySelectorAll('#recent pre.diff span.add'),"
            " s => s.textContent)")
        assert added and all(a.startswith("+") for a in added)  # a diff, rendered

        # A release without the token is refused by the page itself, then by the server.
        browser.execute_script("window.__sameDocument = 42")
        _click(browser, 'button[data-release="roman.json"]')
        wait_for(lambda: "token" in _text(browser, "#notice"), 10, "the refusal shown")
        assert names(layout.hard_fail) == ["roman.json", "roman.reason.json"]
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "token-save").click()
        _click(browser, 'button[data-release="roman.json"]')
        wait_for(lambda: names(layout.queue) == ["roman.json"], 15, "released to queue/")
        assert names(layout.hard_fail, "") == []
        wait_for(lambda: not browser.execute_script(
            "return document.querySelector('#quarantine-rows tr[data-reason]')"), 15,
            "the row gone")
        assert "released roman.json" in _text(browser, "#notice")

        # A new repair lands: the page shows it by itself, in the same document.
        os.unlink(layout.queue / "roman.json")  # hopeless: keep it out of the way
        with running(config):
            submit(layout, PASSING, "fresh.json", tool="freshtool", lineage="fresh-line")
            wait_for(lambda: "freshtool" in _text(browser, "#recent"), 60,
                     "the new repair on the page")
        assert browser.execute_script("return window.__sameDocument") == 42
        assert "fresh-line" in _text(browser, "section.success")
    finally:
        server.stop()


def test_the_quarantine_filters_by_reason_and_lineage_and_releases_what_it_shows(
        browser: Any, make_config: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select
    from test_web import quarantine_one

    config = make_config()
    layout = Layout.from_config(config)
    layout.ensure()
    quarantine_one(layout, "a.json", sha="a" * 64, lineage="alpha",
                   reason="crashed the repairer: RecursionError: deep")
    quarantine_one(layout, "b.json", sha="b" * 64, lineage="alpha",
                   reason="tests fail: 0 passed, 1 failed; first failure: ValueError: x")
    quarantine_one(layout, "c.json", sha="c" * 64, lineage="beta",
                   reason="tests fail: 0 passed, 1 failed; first failure: ValueError: y")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    server = WebServer(WebApp(source_for(config), Guard(token_file, loopback_only_hosts=True)),
                       "127.0.0.1", 0).start()
    shown = ("return Array.from(document.querySelectorAll("
             "'#quarantine-rows tr[data-reason]:not(.hidden)'), r => r.cells[0].textContent)")
    try:
        browser.get(server.url + "/")
        assert browser.execute_script(shown) == ["a.json", "b.json", "c.json"]
        Select(browser.find_element("id", "filter-reason")).select_by_value(
            "tests fail: ValueError")
        assert browser.execute_script(shown) == ["b.json", "c.json"]
        Select(browser.find_element("id", "filter-lineage")).select_by_value("beta")
        assert browser.execute_script(shown) == ["c.json"]
        assert _text(browser, "#release-all") == "release the 1 shown"
        # The filter holds across the page's own refreshes.
        stamp = _text(browser, "#stamp")
        wait_for(lambda: _text(browser, "#stamp") != stamp, 15, "a refresh")
        assert browser.execute_script(shown) == ["c.json"]
        browser.find_element("id", "token").send_keys(TOKEN)
        browser.find_element("id", "token-save").click()
        _click(browser, "#release-all")
        wait_for(lambda: names(layout.queue) == ["c.json"], 15, "the shown one released")
        assert names(layout.hard_fail) == ["a.json", "a.reason.json", "b.json", "b.reason.json"]
    finally:
        server.stop()
