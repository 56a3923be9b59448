"""The report in a real browser: Debian's chromium, networking off, no console errors, XSS payloads inert.

A screenshot at 1280 px wide is saved to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import contextlib
import shutil

import numpy as np
import pandas as pd
import pytest

import labelwise
from labelwise.features import HashingTextEncoder
from labelwise.report import write_report
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser)")

PAYLOADS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "javascript:window.__xss='js'",
    "\"><svg onload=\"window.__xss='svg'\">",
    "</textarea></style><script>window.__xss='close'</script>",
]


@contextlib.contextmanager
def offline_page(path):
    """The page at ``path`` in chromium with networking off; yields the loaded page, then checks that no payload
    ran (``window.__xss``), the page has no script and no event-handler attribute, logged no error and asked for
    nothing but files."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                    "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        requests, errors = [], []
        context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                             if route.request.url.startswith("file://") else route.abort()))
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        yield page
        assert page.evaluate("() => window.__xss") is None, "a payload from the data ran"
        assert page.evaluate("() => document.scripts.length") == 0
        assert page.evaluate("() => document.querySelectorAll('[onerror],[onload],[onmouseover]').length") == 0
        assert not errors, errors
        assert all(url.startswith("file://") for url in requests), requests
        browser.close()


def _xss_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    topics = ["card payment declined at shop", "transfer to another bank account", "exchange rate for euros"]
    rows = []
    for i in range(240):
        topic = i % 3
        text = f"{topics[topic]} {rng.integers(1000)}"
        if i % 40 == 0:
            text = PAYLOADS[(i // 40) % len(PAYLOADS)] + " " + text
        rows.append({"<b onmouseover=\"window.__xss='col'\">message": text, "label": PAYLOADS[topic]})
    frame = pd.DataFrame(rows)
    frame.loc[[5, 6], "label"] = PAYLOADS[4]  # a small, suspicious class with a payload name
    frame.loc[7, "label"] = PAYLOADS[1]
    return frame


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    frame = _xss_table()
    text_col = frame.columns[0]
    result = labelwise.audit_dataset(frame, label="label", text=text_col, encoder=HashingTextEncoder(64), n_folds=3)
    datasheet = {"source": PAYLOADS[0], "licence": "CC-BY-4.0", "contact": "javascript:alert(1)"}
    html, js = write_report(result, tmp_path_factory.mktemp("report"), datasheet=datasheet, name=PAYLOADS[1])
    return html


def test_report_is_self_contained(report_html):
    text = report_html.read_text()
    lowered = text.lower()
    assert "<script" not in lowered  # neither ours nor the data's
    assert "http://" not in lowered.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in lowered
    assert "&lt;script&gt;" in text  # the payload is there, as text


@needs_chromium
def test_report_renders_in_chromium_without_running_data(report_html):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True,
                                      java_script_enabled=True)
        requests, errors, dialogs = [], [], []
        context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                             if route.request.url.startswith("file://") else route.abort()))
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(report_html.as_uri())
        page.wait_for_load_state("load")
        page.hover("text=message")  # would fire an onmouseover payload in the column name
        assert page.evaluate("() => window.__xss") is None, "a payload from the data ran"
        assert page.evaluate("() => document.scripts.length") == 0
        assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        assert page.evaluate("() => document.querySelectorAll('[onerror],[onload],[onmouseover]').length") == 0
        body = page.inner_text("body")
        assert "Dataset Nutrition Label" in body and "Estimated label errors" in body
        assert "<script>window.__xss" in body  # shown as text
        assert not errors, errors
        assert not dialogs, dialogs
        assert all(url.startswith("file://") for url in requests), requests
        page.screenshot(path=str(out / "report-xss.png"), full_page=False)
        browser.close()
