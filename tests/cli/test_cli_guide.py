"""`labelwise guide` as a user meets it: the files written, definitions from a taxonomy, confusions from an audit
folder, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelwise.cli.main import main
from tests.conftest import shared_dataset


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """A digits table with 10% of labels flipped (tabular: no text, no model needed), its audit folder and a taxonomy
    for some digits."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from labelwise.data import flip_labels

    digits = load_digits()
    folder = tmp_path_factory.mktemp("guide")
    frame = pd.DataFrame(digits.data[:400], columns=[f"p{i}" for i in range(64)])
    frame["digit"], _ = flip_labels(digits.target[:400], 0.1, random_state=0)  # so the audit finds confusions
    frame.to_csv(folder / "digits.csv", index=False)
    probs = cross_val_predict(LogisticRegression(max_iter=300), digits.data[:400] / 16, frame["digit"], cv=5,
                              method="predict_proba")
    np.save(folder / "probs.npy", probs)
    assert main(["audit", str(folder / "digits.csv"), "--label", "digit", "--pred-probs", str(folder / "probs.npy"),
                 "--out", str(folder / "audit"), "--quiet"]) == 0
    (folder / "taxonomy.yaml").write_text(
        "use_case: handwritten digits\ncategories:\n"
        "  - {name: '0', description: 'A closed loop, taller than wide.'}\n"
        "  - {name: '7', description: 'A bar on top and a stroke down to the left.'}\n"
        "  - {name: 'eleven', description: 'Not a digit of this data.'}\n", encoding="utf-8")
    return folder


def test_guide_writes_markdown_html_and_json(digits_folder, capsys):
    out = digits_folder / "out"
    code = main(["guide", str(digits_folder / "digits.csv"), "--label", "digit", "--examples", "3",
                 "--taxonomy", str(digits_folder / "taxonomy.yaml"), "--audit", str(digits_folder / "audit"),
                 "--method", "mmr", "--out", str(out), "--quiet"])
    assert code == 0
    saved = json.loads((out / "guide.json").read_text())
    classes = {c["name"]: c for c in saved["classes"]}
    assert len(classes) == 10 and saved["method"] == "mmr"
    assert classes["7"]["definition_source"] == "taxonomy" and classes["3"]["definition_source"] == "none"
    assert any(c["confused_with"] for c in saved["classes"])  # from the audit's noise matrix
    frame = pd.read_csv(digits_folder / "digits.csv")
    assert all(frame["digit"].iloc[e["row"]] == int(c["name"]) for c in saved["classes"] for e in c["examples"])
    assert "A bar on top" in (out / "guide.md").read_text() and "A bar on top" in (out / "guide.html").read_text()
    printed = capsys.readouterr()
    assert "held-out mAP" in printed.out and "2 from the taxonomy" in printed.out  # results on stdout
    assert "eleven" in printed.err  # the note on stderr
    err = printed.err
    from labelwise.audit.result import AuditResult

    audit = AuditResult.load(digits_folder / "audit")
    flagged = set(audit.row_ids[audit.is_issue])
    assert flagged and not flagged & {e["row"] for c in saved["classes"] for e in c["examples"]}
    assert "flagged rows were left out" in err and "flagged rows were left out" in (out / "guide.html").read_text()
    assert main(["guide", str(digits_folder / "digits.csv"), "--label", "digit", "--method", "mmr", "--no-evaluate",
                 "--out", str(digits_folder / "unchecked"), "--quiet"]) == 0
    assert "note: The examples were not checked against an audit" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--label", "digits"], "Did you mean 'digit'"),  # unknown column: close match and the columns listed
        (["--label", "digit", "--taxonomy", "missing.yaml"], "Taxonomy file not found"),
        (["--label", "digit", "--audit", "nowhere"], "noise_matrix.csv"),
        (["--label", "digit", "--method", "best"], "greedy-ap"),
    ],
)
def test_user_errors_exit_2_with_one_message(digits_folder, capsys, args, expected):
    code = main(["guide", str(digits_folder / "digits.csv"), *args, "--out", str(digits_folder / "x"), "--quiet",
                 "--no-evaluate"])
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (digits_folder / "x").exists()


@pytest.mark.shared
@pytest.mark.model
def test_guide_on_banking77_text(tmp_path):
    train = pd.read_csv(shared_dataset("banking77", "train.csv"))
    train[train["category"].isin(["card_arrival", "exchange_rate", "top_up_failed"])].to_csv(tmp_path / "b.csv",
                                                                                              index=False)
    assert main(["guide", str(tmp_path / "b.csv"), "--label", "category", "--text", "text", "--out",
                 str(tmp_path / "g"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "g" / "guide.json").read_text())
    assert saved["method"] == "greedy-ap" and saved["text_columns"] == ["text"]
    assert saved["quality"]["method"]["mean"] > saved["quality"]["random"]["mean"]


def test_taxonomy_definitions_add_the_other_that_labelling_adds(digits_folder):
    from labelwise.cli.guide import _taxonomy_definitions

    found = _taxonomy_definitions(digits_folder / "taxonomy.yaml")
    assert found == {"0": "A closed loop, taller than wide.", "7": "A bar on top and a stroke down to the left.",
                     "eleven": "Not a digit of this data.", "Other": "Fits none of the other categories."}
