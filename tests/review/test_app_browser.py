"""The review app in Debian's chromium, served by uvicorn on loopback: log in, relabel the worst item, see it in
the history. Screenshots of the queue and an item page go to test-artifacts/."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the review app needs the review extra")
uvicorn = pytest.importorskip("uvicorn", reason="the review app needs the review extra")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser)")

from labelwise.review.app import create_app  # noqa: E402
from labelwise.review.store import ReviewStore  # noqa: E402
from tests.conftest import REPO  # noqa: E402

XSS_CLASS = '"><script>window.__xss = "label"</script>'
CLASSES = ["card_arrival", "card_linking", "pin_blocked", XSS_CLASS]
XSS_TEXT = "<img src=x onerror=\"window.__xss = 'text'\"><b>question</b>"
XSS_COLUMN = "<svg onload=\"window.__xss = 'column'\">note"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def served(tmp_path):
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"{XSS_TEXT} number {i}", XSS_COLUMN: f"field {i}"},
                           "given": [CLASSES[i % 4]], "label_quality": i / 10, "issues": ["label"] if i % 2 else [],
                           "suggestion": {"labels": ["pin_blocked"],
                                          "probabilities": {"pin_blocked": 0.6, XSS_CLASS: 0.3, "card_linking": 0.1}}}
                          for i in range(10)])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, pid, CLASSES), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield store, f"http://127.0.0.1:{port}", store.issue_token(pid, "ana")
    server.should_exit = True
    thread.join(timeout=10)


def _no_injection(page) -> None:
    """Payloads in text, labels and column names stayed text: no script ran, no element was created from them."""
    assert page.evaluate("window.__xss === undefined")
    assert page.query_selector_all("img") == [] and page.query_selector_all("svg") == []


def test_review_in_a_browser_with_keys_filters_and_hostile_data(served):
    from playwright.sync_api import sync_playwright

    store, base, token = served
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                   "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors, dialogs = [], []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{base}/login?token={token}")
        assert "Worst labels first" in page.inner_text("body") and "signed in as ana" in page.inner_text("nav")
        assert XSS_CLASS in page.inner_text("table")  # the hostile class name is shown as text
        _no_injection(page)
        page.screenshot(path=str(out / "review-queue.png"))
        with page.expect_navigation():
            page.click("#start")
        assert "Row 0" in page.inner_text("h1")  # quality 0.0 is the worst
        assert "<b>question</b>" in page.inner_text(".field") and XSS_COLUMN in page.inner_text("body")
        _no_injection(page)
        page.screenshot(path=str(out / "review-item.png"), full_page=True)
        page.fill("input[name=reason]", "asks about a PIN")
        page.fill("#label", "pin_blocked")
        with page.expect_navigation():
            page.press("#label", "Enter")  # Enter in the search box relabels to its class
        assert "Row 1" in page.inner_text("h1")  # moved on to the next worst
        page.keyboard.press("2")  # the second suggestion: the hostile class, chosen as plain data
        assert page.input_value("#label") == XSS_CLASS
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Row 2" in page.inner_text("h1")
        page.keyboard.press("1")
        page.keyboard.press("3")  # tick pin_blocked and card_linking
        with page.expect_navigation():
            page.keyboard.press("m")  # several labels
        assert "Row 3" in page.inner_text("h1")
        with page.expect_navigation():
            page.keyboard.press("p")  # previous: back to row 2
        assert "Row 2" in page.inner_text("h1") and "pin_blocked, card_linking" in page.inner_text("#current")
        with page.expect_navigation():
            page.keyboard.press("n")
        with page.expect_navigation():
            page.keyboard.press("k")  # keep row 3
        assert "Row 4" in page.inner_text("h1")
        page.goto(f"{base}/?issue=label&reviewed=no")  # odd rows, not yet reviewed: 5, 7, 9
        assert [r.inner_text() for r in page.query_selector_all("tr td:first-child")] == ["5", "7", "9"]
        page.goto(f"{base}/item/7")  # row 6, not reviewed yet
        with page.expect_navigation():
            page.keyboard.press("u")  # undo with nothing to undo: a clear 400, not a crash
        assert "no decision to undo" in page.inner_text("body")
        page.goto(f"{base}/item/1")
        assert "asks about a PIN" in page.inner_text("body")
        _no_injection(page)
        with page.expect_navigation():
            page.click("#logout")  # the button in every page's header
        assert "logged out" in page.inner_text("body")
        page.goto(f"{base}/")
        assert "Log in with the link" in page.inner_text("body")
        browser.close()
    current = store.current_labels(1)
    assert current[0] == ["pin_blocked"] and current[1] == [XSS_CLASS]
    assert current[2] == ["pin_blocked", "card_linking"] and current[3] == [CLASSES[3]]
    assert [e["author"] for e in store.human_events(1)] == ["ana"] * 4
    assert not errors and not dialogs
