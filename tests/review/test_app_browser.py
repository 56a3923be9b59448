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

CLASSES = ["card_arrival", "card_linking", "pin_blocked"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def served(tmp_path):
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"<b>question</b> number {i}"}, "given": [CLASSES[i % 3]],
                           "label_quality": i / 10, "suggestion": {"labels": ["pin_blocked"],
                                                                   "probabilities": {"pin_blocked": 0.6}}}
                          for i in range(10)])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, pid, CLASSES, token="tok"), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield store, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_review_the_worst_item_in_a_browser(served):
    from playwright.sync_api import sync_playwright

    store, base = served
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                   "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/login?token=tok")
        assert "Worst labels first" in page.inner_text("body")
        page.screenshot(path=str(out / "review-queue.png"))
        with page.expect_navigation():
            page.click("a[href^='/item/']")
        assert "Row 0" in page.inner_text("h1")  # quality 0.0 is the worst
        assert "<b>question</b>" in page.inner_text(".text")  # shown as text, not markup
        page.screenshot(path=str(out / "review-item.png"), full_page=True)
        page.fill("input[name=reason]", "asks about a PIN")
        page.fill("#label", "pin_blocked")
        with page.expect_navigation():
            page.press("#label", "Enter")  # Enter relabels to the class in the search box
        assert "Row 1" in page.inner_text("h1")  # moved on to the next worst
        with page.expect_navigation():
            page.keyboard.press("k")  # keep row 1 with one key
        assert "Row 2" in page.inner_text("h1")
        page.goto(f"{base}/item/6")  # row 5, not reviewed yet
        with page.expect_navigation():
            page.keyboard.press("u")  # undo with nothing to undo: a clear 400, not a crash
        assert "no decision to undo" in page.inner_text("body")
        page.goto(f"{base}/item/1")
        assert "asks about a PIN" in page.inner_text("body")
        browser.close()
    assert store.current_labels(1)[0] == ["pin_blocked"]
    assert [e["decision"] for e in store.history(2) if e["source"] == "human"] == ["keep"]  # item 2 is row 1
    assert not errors
