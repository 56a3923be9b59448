"""`labelwise audit` as a user meets it: exit codes, one-line errors, files written, summary printed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from labelwise.data import flip_labels

    digits = load_digits()
    noisy, flipped = flip_labels(digits.target[:500], 0.1, random_state=0)
    folder = tmp_path_factory.mktemp("cli")
    frame = pd.DataFrame(digits.data[:500], columns=[f"p{i}" for i in range(64)])
    frame["digit"] = noisy
    frame.to_csv(folder / "digits.csv", index=False)
    probs = cross_val_predict(LogisticRegression(max_iter=300), digits.data[:500] / 16, noisy, cv=5, method="predict_proba")
    np.save(folder / "probs.npy", probs)
    return folder, flipped


def test_audit_with_pred_probs_writes_one_row_per_input_row(digits_csv, capsys):
    folder, flipped = digits_csv
    out = folder / "audit"
    code = main(["audit", str(folder / "digits.csv"), "--label", "digit", "--pred-probs", str(folder / "probs.npy"),
                 "--out", str(out), "--quiet"])
    assert code == 0
    issues = pd.read_csv(out / "issues.csv")
    assert len(issues) == 500
    assert {"row", "given_label", "suggested_label", "label_quality", "is_label_issue"} <= set(issues.columns)
    assert pd.read_parquet(out / "issues.parquet").equals(pd.read_parquet(out / "issues.parquet"))
    assert (issues["is_label_issue"].to_numpy() & flipped).sum() > 0.7 * flipped.sum()
    # the CLI's default filter is the audit's (not cleanlab's): the estimated count of lowest margins
    from labelwise.audit.label_errors import AUDIT_FILTER, find_label_issues

    assert json.loads((out / "summary.json").read_text())["filter_by"] == AUDIT_FILTER
    given = pd.read_csv(folder / "digits.csv")["digit"].to_numpy()
    expected = find_label_issues(given, np.load(folder / "probs.npy"), filter_by=AUDIT_FILTER)
    np.testing.assert_array_equal(issues["is_label_issue"].to_numpy(), expected)
    printed = capsys.readouterr().out
    assert "500 rows audited" in printed and "10 classes" in printed and "estimated label error rate" in printed
    assert "lowest-quality labels" in printed and "Most confused" in printed


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--label", "nope"], "nope"),  # unknown column: the message names it
        (["--label", "digit", "--pred-probs", "missing.npy"], "not found"),
        (["--label", "digit", "--filter-by", "magic"], "--filter-by"),
    ],
)
def test_user_errors_exit_2_with_one_message(digits_csv, capsys, args, expected):
    folder, _ = digits_csv
    code = main(["audit", str(folder / "digits.csv"), *args, "--out", str(folder / "x"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and err.startswith("error:")


def test_missing_file_and_unknown_column_messages(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nothere.csv"), "--label", "y", "--quiet"]) == 2
    assert "nothere.csv" in capsys.readouterr().err
    pd.DataFrame({"text": ["a", "b"], "category": ["x", "y"]}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["audit", str(tmp_path / "t.csv"), "--label", "categroy", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "categroy" in err and "category" in err  # lists what exists / the close match


def test_missing_option_is_a_usage_error(digits_csv, capsys):
    folder, _ = digits_csv
    assert main(["audit", str(folder / "digits.csv")]) == 2
    assert "--label" in capsys.readouterr().err


def test_bug_exits_1_without_traceback_unless_debug(digits_csv, monkeypatch, capsys):
    import labelwise.audit.out_of_fold as out_of_fold

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(out_of_fold, "out_of_fold_probabilities", broken)  # read by the LocalExecutor
    folder, _ = digits_csv
    args = ["audit", str(folder / "digits.csv"), "--label", "digit", "--out", str(folder / "y"), "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "boom" in err and "Traceback" not in err
    assert main(["--debug", *args]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_console_script_help_and_exit_codes(tmp_path):
    """The installed entry point, in a real process."""
    run = subprocess.run([sys.executable, "-m", "labelwise", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "audit" in run.stdout
    run = subprocess.run([sys.executable, "-m", "labelwise", "audit", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--pred-probs" in run.stdout
    run = subprocess.run([sys.executable, "-m", "labelwise", "audit", str(tmp_path / "none.csv"), "--label", "y"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "none.csv" in run.stderr


def test_report_command_writes_the_label_and_reads_a_datasheet(digits_csv, capsys):
    folder, _ = digits_csv
    (folder / "datasheet.yaml").write_text("source: scikit-learn digits\nlicence: CC-BY-4.0\ncontact: data@example.org\n")
    out = folder / "report"
    code = main(["report", str(folder / "digits.csv"), "--label", "digit", "--pred-probs", str(folder / "probs.npy"),
                 "--out", str(out), "--quiet"])
    assert code == 0
    html = (out / "report.html").read_text()
    assert "Dataset Nutrition Label" in html and "scikit-learn digits" in html
    import json

    data = json.loads((out / "report.json").read_text())
    assert data["headline"]["rows"] == 500 and data["provenance"]["licence"] == "CC-BY-4.0"
    assert data["duplicates"] is not None and data["outliers"] is not None  # the pixel columns are features
    assert (out / "issues.csv").exists()
    assert main(["report", str(folder / "digits.csv"), "--label", "digit", "--datasheet", str(folder / "none.yaml"),
                 "--pred-probs", str(folder / "probs.npy"), "--out", str(out), "--quiet"]) == 2
    assert "none.yaml" in capsys.readouterr().err
