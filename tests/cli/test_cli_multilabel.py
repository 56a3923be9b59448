"""``labelwise audit`` on a multi-label CSV (``--label-delimiter '|'``): the rows where a label was dropped or added
on purpose come back with that label in ``missing_labels`` / ``spurious_labels``, and the report has its label-set
section, escaped; a bad multi-label input exits 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main

WORDS = {"card": ["card", "debit", "atm", "pin"], "refund": ["refund", "money", "return", "reimburse"],
         "late": ["late", "delay", "wait", "slow"], "fee": ["fee", "charge", "cost", "price"],
         "<app>": ["app", "login", "phone", "screen"]}


def _table(n: int = 200, seed: int = 0):
    """Rows whose words name their labels; rows 0-11 lose one label (missing), rows 12-23 gain one (spurious)."""
    rng = np.random.default_rng(seed)
    classes = list(WORDS)
    texts, tags, truth = [], [], []
    for _ in range(n):
        labels = sorted(rng.choice(len(classes), size=rng.integers(1, 3), replace=False).tolist())
        texts.append(" ".join(w for c in labels for w in rng.choice(WORDS[classes[c]], 3)))
        tags.append([classes[c] for c in labels])
        truth.append(list(tags[-1]))
    dropped, added = {}, {}
    for i in range(12):
        if len(tags[i]) == 1:
            tags[i].append(next(c for c in classes if c not in tags[i]))
            texts[i] += " " + " ".join(WORDS[tags[i][-1]][:3])
        dropped[i] = tags[i].pop(0)
    for i in range(12, 24):
        added[i] = next(c for c in reversed(classes) if c not in tags[i])
        tags[i].append(added[i])
    return pd.DataFrame({"text": texts, "tags": ["|".join(t) for t in tags]}), dropped, added


def _out_of_fold(frame: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold one-vs-rest probabilities from TF-IDF (the audit's own default model, a cross-validated logistic
    regression per class, takes half a minute here), one column per class."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.multiclass import OneVsRestClassifier

    classes = sorted(WORDS)
    Y = np.array([[c in tags.split("|") for c in classes] for tags in frame["tags"]], dtype=int)
    X = TfidfVectorizer().fit_transform(frame["text"])
    probs = cross_val_predict(OneVsRestClassifier(LogisticRegression(C=10.0)), X, Y, cv=5, method="predict_proba")
    return pd.DataFrame(probs, columns=classes)


@pytest.mark.slow
def test_missing_and_spurious_labels_from_the_command_line(tmp_path, capsys):
    frame, dropped, added = _table()
    frame.to_csv(tmp_path / "tickets.csv", index=False)
    _out_of_fold(frame).to_csv(tmp_path / "probs.csv", index=False)
    out = tmp_path / "out"
    assert main(["audit", str(tmp_path / "tickets.csv"), "--label", "tags", "--text", "text", "--label-delimiter", "|",
                 "--pred-probs", str(tmp_path / "probs.csv"), "--encoder", "tfidf", "--quiet", "--report",
                 "--out", str(out)]) == 0
    assert "rows probably lack a label" in capsys.readouterr().out
    issues = pd.read_csv(out / "issues.csv", keep_default_na=False)
    missing = {i: set(s.split("|")) - {""} for i, s in enumerate(issues["missing_labels"])}
    spurious = {i: set(s.split("|")) - {""} for i, s in enumerate(issues["spurious_labels"])}
    found = sum(label in missing[i] for i, label in dropped.items()) + sum(label in spurious[i]
                                                                           for i, label in added.items())
    named = sum(len(v) for v in missing.values()) + sum(len(v) for v in spurious.values())
    assert found >= 18 and found / named >= 0.5, (found, named)  # 24 planted
    assert (issues["is_label_issue"] == ((issues["missing_labels"] != "") | (issues["spurious_labels"] != ""))).all()
    per_class = pd.read_csv(out / "per_class.csv")
    assert per_class["n_missing"].sum() == named - sum(len(v) for v in spurious.values())
    summary = json.loads((out / "summary.json").read_text())["checks"]["multilabel"]
    assert summary["cardinality"]["counts"][0] == 0 and summary["delimiter"] == "|"
    html = (out / "report.html").read_text()
    assert 'id="label-sets"' in html and "&lt;app&gt;" in html and "<app>" not in html
    report = json.loads((out / "report.json").read_text())["label_sets"]
    assert sum(report["cardinality"]["counts"]) == len(frame)
    assert report["rows_with_missing"] == sum(bool(v) for v in missing.values())


def test_a_multi_label_cell_that_is_empty_exits_2_with_one_line(tmp_path, capsys):
    frame, _, _ = _table(40)
    frame.loc[5, "tags"] = ""
    frame.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["audit", str(tmp_path / "bad.csv"), "--label", "tags", "--text", "text", "--label-delimiter", "|",
                 "--encoder", "tfidf", "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err and "--drop-missing" in err
