"""`labelwise audit --privacy`: the label-only privacy audit of a model file the user brings, in the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch", reason="the privacy audit needs torch (labelwise[learn])")

from labelwise.cli.main import main  # noqa: E402
from labelwise.testing.privacy import digits_split  # noqa: E402

PIXELS = ",".join(f"p{i}" for i in range(64))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import joblib

    target, _, X_private, y_private, X_public = digits_split()
    folder = tmp_path_factory.mktemp("privacy")
    private = pd.DataFrame(X_private, columns=PIXELS.split(","))
    private["digit"] = y_private
    private.to_csv(folder / "private_clean.csv", index=False)
    private = private.astype({"p0": object})
    private.loc[0, "p0"] = "dark"  # a text cell among the model's inputs: the privacy audit refuses it
    private.to_csv(folder / "private.csv", index=False)
    pd.DataFrame(X_public, columns=PIXELS.split(",")).to_csv(folder / "public.csv", index=False)
    np.save(folder / "probs.npy", target.predict_proba(X_private))
    joblib.dump(target, folder / "target.joblib")
    return folder


@pytest.mark.slow
def test_audit_privacy_writes_the_leakage_into_the_report(files, capsys):
    out = files / "audit"
    code = main(["audit", str(files / "private_clean.csv"), "--label", "digit", "--features", PIXELS,
                 "--pred-probs", str(files / "probs.npy"), "--out", str(out), "--report", "--quiet", "--privacy",
                 "--privacy-target", str(files / "target.joblib"), "--privacy-public", str(files / "public.csv"),
                 "--privacy-queries", "3000", "--privacy-seconds", "6"])
    assert code == 0
    leakage = json.loads((out / "privacy.json").read_text())
    assert set(leakage["methods"]) == {"lokt", "naive_surrogate", "public_pick"}
    assert leakage["methods"]["lokt"]["queries"] + leakage["settings"]["public_rows"] <= 3000
    assert leakage["stopped_by"] in ("queries", "time")
    assert leakage["seconds"] < 6 + 10  # each stage stops at its share of --privacy-seconds
    html = (out / "report.html").read_text()
    assert "Label-only privacy audit" in html and "target.joblib" in html and "public_pick" in html
    assert json.loads((out / "report.json").read_text())["privacy"]["chance"] == pytest.approx(0.2)
    assert "label-only inversion (LOKT)" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    ([], "--privacy needs --privacy-target"),
    (["--privacy-target", "nothing.joblib", "--privacy-public", "public.csv"], "neither an http"),
    (["--privacy-target", "ftp://127.0.0.1/", "--privacy-public", "public.csv"], "neither an http"),
    (["--privacy-target", "target.joblib", "--privacy-public", "private.csv"], "not numeric"),
    (["--privacy-target", "target.joblib", "--privacy-public", "public.csv", "--privacy-queries", "10"],
     "--privacy-queries must be at least 64"),
])
def test_audit_privacy_bad_inputs_exit_2_with_one_line(files, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(files)
    code = main(["audit", "private_clean.csv", "--label", "digit", "--features", PIXELS, "--pred-probs", "probs.npy",
                 "--out", "a", "--quiet", "--privacy", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_audit_privacy_model_refusing_the_features_exits_2(files, capsys, monkeypatch):
    """--features that are not the model's inputs: the model's own error becomes one line, exit 2 (not a crash)."""
    monkeypatch.chdir(files)
    code = main(["audit", "private_clean.csv", "--label", "digit", "--features", "p0,p1", "--out", "a", "--quiet",
                 "--privacy", "--privacy-target", "target.joblib", "--privacy-public", "public.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot predict rows of 2 columns" in err and len(err.strip().splitlines()) == 1, err


def test_privacy_target_without_privacy_is_refused_not_ignored(files, capsys, monkeypatch):
    """Naming a target without --privacy audits nothing and contacts nothing: say so instead of ignoring it."""
    monkeypatch.chdir(files)
    code = main(["audit", "private_clean.csv", "--label", "digit", "--features", PIXELS, "--out", "unused", "--quiet",
                 "--privacy-target", "http://127.0.0.1:9/", "--privacy-public", "public.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "only take effect with --privacy" in err and len(err.strip().splitlines()) == 1, err
    assert not (files / "unused").exists()
