"""The labelling guide workflow: examples belong to their class, definitions and confusions come from where they
should, data strings are escaped in Markdown and HTML, files are written; on real data (digits with a real audit,
Banking77 with MiniLM) the guide's examples instruct better than random ones."""

from __future__ import annotations

import json

import numpy as np

import pandas as pd
import pytest

from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder
from labelwise.generate.guide import clean_definition, labelling_guide, md, read_noise_matrix
from labelwise.testing import FakeBackend
from labelwise.report.guide_html import render_guide_html, write_guide
from tests.conftest import shared_dataset

EVIL = '<script>alert("x")</script> & [link](http://evil) | *bold*'


@pytest.fixture()
def tickets() -> pd.DataFrame:
    rows = []
    for i in range(12):
        rows.append({"body": f"refund for order {i} please money back", "topic": "refund", "channel": "email"})
        rows.append({"body": f"card {i} declined at the shop payment failed", "topic": "card_declined",
                     "channel": "chat"})
    for i in range(2):  # a class with fewer rows than the examples asked for
        rows.append({"body": f"close my account now {i}", "topic": "close account", "channel": "phone"})
    rows[0]["body"] = "refund " + EVIL
    return pd.DataFrame(rows)


def _by_name(guide) -> dict:
    return {c.name: c for c in guide.classes}


def test_guide_examples_definitions_confusions(tickets):
    names = ["card_declined", "close account", "refund"]  # sorted, the order of a plain array
    matrix = pd.DataFrame([[0.90, 0.004, 0.05], [0.02, 0.996, 0.00], [0.08, 0.00, 0.95]], index=names, columns=names)
    guide = labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(128), examples=3,
                            definitions={"Refund": "Asks for money back.", "refund ": None, "lost_card": "Lost."},
                            noise_matrix=matrix, folds=2)
    classes = _by_name(guide)
    assert [c.name for c in guide.classes] == ["card_declined", "refund", "close account"]  # largest first
    for c in guide.classes:
        assert 1 <= len(c.examples) <= 3
        assert all(tickets["topic"].iloc[e.row] == c.name for e in c.examples)
        assert all(e.text == " ".join(tickets["body"].iloc[e.row].split()) for e in c.examples)
        assert all(e.fields == {"channel": tickets["channel"].iloc[e.row]} for e in c.examples)
    assert classes["close account"].count == 2 and len(classes["close account"].examples) <= 2
    # definitions: matched ignoring case and spacing; the unknown one is reported
    assert (classes["refund"].definition, classes["refund"].definition_source) == ("Asks for money back.", "taxonomy")
    assert classes["card_declined"].definition_source == "none"
    assert guide.settings["definitions_not_in_data"] == ["lost_card"]
    # confusions: P(given=j | true=c) down the column, P(given=c | true=j) along the row
    confusion = classes["refund"].confused_with
    assert [x.label for x in confusion] == ["card_declined"]
    assert confusion[0].share == pytest.approx(0.05) and confusion[0].reverse_share == pytest.approx(0.08)
    closing = classes["close account"].confused_with  # 0.4% one way, 2% the other: listed
    assert [(x.label, x.share, x.reverse_share) for x in closing] == [("card_declined", 0.004, 0.02)]
    assert [x.label for x in classes["card_declined"].confused_with] == ["refund", "close account"]
    matrix.loc["close account", "card_declined"] = 0.0
    again = labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(128), examples=3,
                            noise_matrix=matrix.to_numpy(), evaluate=False)
    assert _by_name(again)["close account"].confused_with == []  # below half a percent both ways: not listed
    assert guide.quality["folds"] == 2 and 0 <= guide.quality["random"]["mean"] <= 1


def test_data_strings_are_escaped_in_markdown_and_html(tickets, tmp_path):
    guide = labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(128), examples=12,
                            method="mmr", definitions={"card_declined": "<b>declined</b> & failed"}, evaluate=False)
    assert any(EVIL.split()[0] in e.text for c in guide.classes for e in c.examples)
    write_guide(guide, tmp_path)
    page = (tmp_path / "guide.html").read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(" in page
    assert "<b>declined</b>" not in page and "&lt;b&gt;declined&lt;/b&gt; &amp; failed" in page
    assert page.count('<section class="class"') == 3 and 'href="#class-0"' in page
    assert 'href="http' not in page and "src=" not in page and "<link" not in page  # self-contained, no network
    text = (tmp_path / "guide.md").read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;" in text and "\\[link\\]" in text and "\\|" in text
    assert "close account" in text and "row 24:" in text
    saved = json.loads((tmp_path / "guide.json").read_text(encoding="utf-8"))
    assert saved["classes"][0]["examples"][0]["row"] == guide.classes[0].examples[0].row
    assert saved["quality"] is None and "not measured" in text
    assert md("a_b\nc") == "a\\_b c"


def test_llm_definitions_keep_good_answers_and_drop_junk(tickets):
    answers = {"refund": " Requests to get money back for an order.\nExtra line",
               "card_declined": "!!! ### 123",
               "close account": "Texts asking to close the account " + "and more " * 80}
    backend = FakeBackend(complete=lambda prompt: next(v for k, v in answers.items() if f'label "{k}"' in prompt))
    guide = labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(128), method="mmr",
                            definitions={"close account": "Wants the account closed."}, backend=backend,
                            evaluate=False)
    classes = _by_name(guide)
    assert classes["refund"].definition == "Requests to get money back for an order."
    assert classes["refund"].definition_source == "llm"
    assert (classes["card_declined"].definition, classes["card_declined"].definition_source) == ("", "none")
    assert classes["close account"].definition_source == "taxonomy"  # a given definition wins; no model call
    assert len(backend.prompts) == 2 and all("Here are examples" in p for p in backend.prompts)
    assert len(clean_definition("Texts " + "that ask " * 100, "x")) <= 241
    assert clean_definition("refund", "refund") == "" and clean_definition("", "x") == ""


def test_wrong_column_and_method_say_how_to_fix(tickets):
    with pytest.raises(DataError, match="'body', 'topic', 'channel'"):
        labelling_guide(tickets, label="intent", text="body", encoder=HashingTextEncoder())
    with pytest.raises(DataError, match="greedy-ap"):
        labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(), method="class-mean")
    with pytest.raises(DataError, match="noise_matrix.csv"):
        labelling_guide(tickets, label="topic", text="body", encoder=HashingTextEncoder(), audit_dir="/nonexistent",
                        evaluate=False)


@pytest.fixture(scope="module")
def digits_audit(tmp_path_factory):
    """Digits (tabular, no text) with 10% flipped labels, and a real audit of them saved to a folder."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    import labelwise
    from labelwise.data import flip_labels

    digits = load_digits()
    noisy, _ = flip_labels(digits.target[:600], 0.1, random_state=0)
    frame = pd.DataFrame(digits.data[:600], columns=[f"p{i}" for i in range(64)])
    frame["digit"] = noisy
    probs = cross_val_predict(LogisticRegression(max_iter=300), digits.data[:600] / 16, noisy, cv=5,
                              method="predict_proba")
    result = labelwise.audit_dataset(frame, label="digit", pred_probs=probs)
    folder = tmp_path_factory.mktemp("audit")
    result.save(folder)
    return frame, result, folder


def test_confusions_from_a_real_audit_folder_on_tabular_data(digits_audit):
    frame, result, folder = digits_audit
    guide = labelling_guide(frame, label="digit", audit_dir=folder, examples=3, method="mmr", folds=3)
    noise = pd.DataFrame(result.noise.noise_matrix, index=result.classes, columns=result.classes)
    pd.testing.assert_frame_equal(read_noise_matrix(folder), noise, check_exact=False, check_names=False)
    for c in guide.classes:
        assert all(frame["digit"].iloc[e.row] == int(c.name) for e in c.examples)
        assert all(e.text.startswith("p0=") for e in c.examples)  # tabular rows shown as column=value
        for x in c.confused_with:
            assert x.share == pytest.approx(noise.loc[x.label, c.name])
            assert x.reverse_share == pytest.approx(noise.loc[c.name, x.label])
        shares = [x.share + x.reverse_share for x in c.confused_with]
        assert shares == sorted(shares, reverse=True)
    assert sum(len(c.confused_with) for c in guide.classes) >= 5
    assert guide.quality["method"]["mean"] > guide.quality["random"]["mean"]
    again = labelling_guide(frame, label="digit", audit_dir=folder, examples=3, method="mmr", folds=3)
    assert again.to_dict() == guide.to_dict()  # same inputs, same guide


@pytest.mark.shared
@pytest.mark.model
def test_banking77_guide_with_minilm(tmp_path):
    train = pd.read_csv(shared_dataset("banking77", "train.csv"))
    keep = ["card_arrival", "card_delivery_estimate", "lost_or_stolen_card", "exchange_rate", "top_up_failed",
            "top_up_reverted"]
    data = train[train["category"].isin(keep)].reset_index(drop=True)
    guide = labelling_guide(data, label="category", text="text", examples=4)
    assert guide.method == "greedy-ap" and len(guide.classes) == 6
    q = guide.quality
    assert q["method"]["mean"] >= q["random"]["mean"] + 0.03 and q["method"]["mean"] > 0.8
    write_guide(guide, tmp_path)
    text, page = (tmp_path / "guide.md").read_text(), (tmp_path / "guide.html").read_text()
    for c in guide.classes:
        assert 1 <= len(c.examples) <= 4 and c.held_out_ap is not None
        for e in c.examples:
            assert data["category"].iloc[e.row] == c.name
            assert md(e.text) in text
            assert e.text.replace("'", "&#39;").replace('"', "&#34;") in page or e.text in page
    assert render_guide_html(guide) == page


def test_no_method_shows_a_row_the_audit_flags(digits_audit, tmp_path):
    """A known flagged set: the rows each method picks without an audit (so leaving them out must change the
    examples), plus a near-duplicate flag. With the audit, none of them is an example, for every method, and the
    held-out figure is still measured."""
    import dataclasses

    from labelwise.generate.instructions import EXAMPLE_METHODS

    frame, result, _ = digits_audit
    plain = {m: labelling_guide(frame, label="digit", examples=3, method=m, evaluate=False) for m in EXAMPLE_METHODS}
    assert all(g.settings["audit_excluded"] is None for g in plain.values())
    assert "not checked against an audit" in plain["mmr"].to_markdown()
    picked = {e.row for g in plain.values() for c in g.classes for e in c.examples}
    flagged = np.isin(result.row_ids, sorted(picked)[::2])
    duplicate = np.isin(result.row_ids, sorted(picked)[1::2])
    known = dataclasses.replace(result, is_issue=flagged)
    known.row_issues = lambda: {"label": flagged, "duplicate": duplicate}  # as an audit with the duplicates check
    for method in EXAMPLE_METHODS:
        guide = labelling_guide(frame, label="digit", examples=3, method=method, noise_matrix=known, folds=3)
        shown = {e.row for c in guide.classes for e in c.examples}
        assert not shown & picked, method
        assert all(len(c.examples) == 3 for c in guide.classes)  # other rows stand in
        assert guide.settings["audit_excluded"] == {"label": int(flagged.sum()), "duplicate": int(duplicate.sum())}
        assert guide.quality is not None
    assert "flagged rows were left out" in guide.to_markdown()
    # from a saved audit folder: its own flags are excluded
    folder = tmp_path / "audit"
    result.save(folder)
    guide = labelling_guide(frame, label="digit", examples=3, audit_dir=folder, evaluate=False)
    bad = set(result.row_ids[np.any(list(result.row_issues().values()), axis=0)])
    assert bad and not bad & {e.row for c in guide.classes for e in c.examples}
    with pytest.raises(DataError, match="table of 600 rows"):
        labelling_guide(frame.head(100), label="digit", audit_dir=folder, evaluate=False)
