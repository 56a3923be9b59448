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


DOUBLE = ["billing", "refund", "shipping"]
ANA = ["billing", "refund", "shipping", "billing", "refund", "shipping"]
BO = ["billing", "refund", "billing", "billing", "shipping", "shipping"]  # disagrees with ana on rows 2 and 4


def _serve(app):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_two_reviewers_label_blind_and_the_agreement_page_and_export_agree(tmp_path):
    """A blind double-annotation round: ana and bo each log in with their own link and label the same six items;
    bo cannot see ana's answer until he has given his; they agree on four items and disagree on two. The agreement
    page and `export_decisions` then show CROWDLAB's consensus, Krippendorff's alpha and Cohen's kappa exactly as
    labelwise.audit.multiannotator computes them from the same answers, and each reviewer's own labels."""
    import numpy as np
    import pandas as pd
    from playwright.sync_api import sync_playwright

    from labelwise.audit.multiannotator import (
        cohen_kappa_pairs, get_label_quality_multiannotator, krippendorff_alpha,
    )
    from labelwise.review.project import export_decisions

    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    pid = store.create_project("double", DOUBLE)
    store.add_items(pid, [{"row": i, "payload": {"text": f"message {i}"}, "given": [DOUBLE[(i + 1) % 3]],
                           "label_quality": i / 10} for i in range(6)])
    store.set_reviewers_per_item(pid, 2)
    tokens = {name: store.issue_token(pid, name) for name in ("ana", "bo")}
    probs = np.random.default_rng(3).dirichlet(np.ones(3), size=6)
    server, thread, base = _serve(create_app(store, pid, DOUBLE, pred_probs=probs, row_ids=np.arange(6)))
    errors = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                       "--disable-gpu",
                                                                       "--disable-background-networking"])
            pages = {}
            for name in ("ana", "bo"):  # one browser context each: their own cookies
                pages[name] = browser.new_context().new_page()
                pages[name].on("pageerror", lambda exc: errors.append(str(exc)))
                pages[name].goto(f"{base}/login?token={tokens[name]}")
                assert f"signed in as {name}" in pages[name].inner_text("nav")
                assert "0 of 6 reviewed" in pages[name].inner_text("nav")

            def answer(page, row, label):
                assert f"Row {row}" in page.inner_text("h1")
                page.fill("#label", label)
                with page.expect_navigation():
                    page.press("#label", "Enter")

            ana, bo = pages["ana"], pages["bo"]
            with ana.expect_navigation():
                ana.click("#start")
            for row in range(6):
                answer(ana, row, ANA[row])
            assert "6 of 6 reviewed" in ana.inner_text("nav")
            assert "No items match" in (ana.goto(f"{base}/?reviewed=no") and ana.inner_text("table"))
            with bo.expect_navigation():
                bo.click("#start")
            for row in range(6):
                history = bo.inner_text("table")  # the history: the given label only, not ana's answer
                assert "ana" not in history and "human" not in history
                assert bo.inner_text("#current") == DOUBLE[(row + 1) % 3]  # the given label, not ana's
                answer(bo, row, BO[row])
            bo.goto(f"{base}/item/3")  # row 2, answered by both: now bo sees ana's answer beside his own
            history = bo.inner_text("table")
            assert "ana" in history and "shipping" in history and bo.inner_text("#current") == "billing"

            with bo.expect_navigation():
                bo.goto(f"{base}/")
                bo.click("#agreement")
            text = bo.inner_text("body")
            cells = [[c.inner_text() for c in r.query_selector_all("td")]
                     for r in bo.query_selector_all("#items tr")[1:]]
            kappa_row = [c.inner_text() for c in bo.query_selector_all("#kappa tr")[1].query_selector_all("td")]
            alpha_shown = bo.inner_text("#alpha")
            bo.screenshot(path=str(REPO / "test-artifacts" / "review-agreement.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not errors

    labels = np.array([[DOUBLE.index(a), DOUBLE.index(b)] for a, b in zip(ANA, BO)], dtype=float)
    reference = get_label_quality_multiannotator(pd.DataFrame(labels, columns=["ana", "bo"]), probs, verbose=False)
    consensus = [DOUBLE[c] for c in reference["label_quality"]["consensus_label"]]
    assert [consensus[r] for r in (0, 1, 3, 5)] == [ANA[r] for r in (0, 1, 3, 5)]  # where they agree
    alpha, kappa = krippendorff_alpha(labels), cohen_kappa_pairs(labels)[0, 1]
    # by hand: 4 of 6 agree, chance (2*3 + 2*1 + 2*2) / 36 = 1/3, kappa = (2/3 - 1/3) / (2/3); alpha from the
    # coincidences: 4 disagreeing pairs of 12 values (5 billing, 3 refund, 4 shipping): 1 - 4 / (2 * 47 / 11)
    assert kappa == pytest.approx(0.5) and alpha == pytest.approx(1 - 44 / 94)
    assert "CROWDLAB" in text and alpha_shown == f"{alpha:.3f}"
    assert kappa_row == ["ana", "bo", "6", f"{kappa:.3f}"]
    by_row = {int(c[0]): c for c in cells}
    assert sorted(by_row) == list(range(6))
    for row in range(6):
        assert by_row[row][1] == consensus[row] and by_row[row][4:] == [ANA[row], BO[row]]
        assert by_row[row][3] == ("unanimous" if ANA[row] == BO[row] else "tie")

    table = tmp_path / "tickets.csv"
    table.write_text("id,topic\n" + "".join(f"{i:03d},{DOUBLE[(i + 1) % 3]}\n" for i in range(6)))
    result = export_decisions(store, pid, tmp_path, source=table, label_column="topic", pred_probs=probs,
                              row_ids=np.arange(6))
    written = pd.read_csv(result.paths["dataset"], dtype=str)
    assert list(written["topic"]) == consensus and list(written["id"]) == [f"{i:03d}" for i in range(6)]
    annotations = pd.read_csv(result.paths["annotations"])
    assert list(annotations.query("reviewer == 'ana'")["label"]) == ANA
    assert list(annotations.query("reviewer == 'bo'")["label"]) == BO
    agreement = pd.read_csv(result.paths["agreement"])
    assert agreement["value"].tolist() == pytest.approx([alpha, kappa])
    annotators = pd.read_csv(result.paths["annotators"]).set_index("reviewer")
    assert annotators["quality"].to_numpy() == pytest.approx(
        reference["annotator_stats"].loc[["ana", "bo"], "annotator_quality"].to_numpy())
    assert annotators["items_answered"].tolist() == [6, 6]
