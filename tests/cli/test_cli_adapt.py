"""``labelwise adapt`` on a model and tables a user brings: a scikit-learn pipeline saved with joblib, scored on a
stream whose class mix shifted (digits, two classes made frequent); the same run from probability columns; and a
wrong input is one line and exit 2."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelwise.adapt_stream import adapt_stream
from labelwise.cli.main import main

HEAVY = (3, 8)  # the classes the stream over-represents


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """model.joblib (scaler + logistic regression on 300 digits), train.csv (those rows, labelled) and new.csv (400
    held-out rows, 70 % of them classes 3 and 8, labelled)."""
    folder = tmp_path_factory.mktemp("adapt")
    digits = load_digits(as_frame=True)
    X, y = digits.data, digits.target.to_numpy()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, rest = order[:300], order[300:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X.iloc[train], y[train])
    joblib.dump(model, folder / "model.joblib")
    source = X.iloc[train].assign(label=y[train])
    source.to_csv(folder / "train.csv", index=False)
    heavy = rest[np.isin(y[rest], HEAVY)]
    light = rest[~np.isin(y[rest], HEAVY)]
    picks = rng.permutation(np.concatenate([rng.choice(heavy, 280), rng.choice(light, 120, replace=False)]))
    stream = X.iloc[picks].assign(label=y[picks]).reset_index(drop=True)
    stream.to_csv(folder / "new.csv", index=False)
    for name, frame in (("train_p.csv", source), ("new_p.csv", stream)):  # the probability-columns form
        probs = model.predict_proba(frame[X.columns])
        frame[["label"]].assign(**{f"p_{c}": probs[:, j] for j, c in enumerate(model.classes_)}).to_csv(
            folder / name, index=False)
    return folder


def test_adapt_moves_the_prior_towards_the_stream_and_writes_both_files(files, capsys):
    out = files / "out"
    code = main(["adapt", str(files / "model.joblib"), "--source", str(files / "train.csv"), "--stream",
                 str(files / "new.csv"), "--label", "label", "--batch-size", "50", "--out", str(out), "--quiet"])
    assert code == 0
    shown = capsys.readouterr().out
    assert "400 rows in 8 batches" in shown and "accuracy on the stream's labels" in shown
    priors = pd.read_csv(out / "priors.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    assert priors["batch"].tolist() == list(range(1, 9)) and priors["rows"].sum() == 400
    heavy = priors[[f"prior_{c}" for c in HEAVY]].sum(axis=1).to_numpy()
    assert heavy[0] > 0.25 and heavy[-1] > 0.5 and np.all(np.diff(heavy) > -0.02)  # source: ~0.2, truth: 0.7
    assert len(predictions) == 400 and predictions["row"].tolist() == list(range(400))
    np.testing.assert_allclose(predictions[[f"proba_{c}" for c in range(10)]].sum(axis=1), 1.0)
    truth = pd.read_csv(files / "new.csv")["label"]
    assert (predictions["prediction"] == truth).mean() >= (predictions["source_prediction"] == truth).mean()


def test_probability_columns_give_the_same_result_as_the_model(files):
    kwargs = dict(label="label", batch_size=64)
    from_model = adapt_stream(str(files / "model.joblib"), files / "train.csv", files / "new.csv", **kwargs)
    from_columns = adapt_stream("columns", files / "train_p.csv", files / "new_p.csv", proba_prefix="p_", **kwargs)
    np.testing.assert_allclose(from_columns.priors.filter(like="prior_").to_numpy(),
                               from_model.priors.filter(like="prior_").to_numpy(), atol=1e-9)
    assert (from_columns.predictions["prediction"] == from_model.predictions["prediction"]).all()
    assert "largest prior moves" in repr(from_model)


def test_bad_inputs_are_one_line_and_exit_2(files, capsys):
    stream = pd.read_csv(files / "new.csv")
    stream.drop(columns=["pixel_0_3"]).to_csv(files / "missing.csv", index=False)
    stream.loc[5, "label"] = 11
    stream.to_csv(files / "unknown.csv", index=False)
    probs = pd.read_csv(files / "new_p.csv")
    probs.loc[70, "p_4"] = None
    probs.to_csv(files / "gap_p.csv", index=False)
    probs.loc[70, "p_4"] = 0.5
    probs.loc[90, [f"p_{c}" for c in range(10)]] = 0.0
    probs.to_csv(files / "zero_p.csv", index=False)
    (files / "notes.joblib").write_text("not a model")
    joblib.dump({"weights": [1, 2]}, files / "dict.joblib")
    model, train = str(files / "model.joblib"), str(files / "train.csv")
    train_p = str(files / "train_p.csv")
    cases = [
        ([model, "--stream", str(files / "unknown.csv")], "'11' in column 'label' at row 5 (line 7"),
        ([model, "--stream", str(files / "missing.csv")], "no column 'pixel_0_3'"),
        ([str(files / "notes.joblib"), "--stream", str(files / "new.csv")], "is not a model saved with joblib"),
        ([str(files / "dict.joblib"), "--stream", str(files / "new.csv")], "holds a dict, not a fitted classifier"),
        ([str(files / "nothing.joblib"), "--stream", str(files / "new.csv")], "does not exist"),
        (["columns", "--stream", str(files / "new.csv")], "column(s) starting with 'proba_'"),
        (["columns", "--stream", str(files / "gap_p.csv"), "--proba-prefix", "p_", "--batch-size", "50"],
         "probabilities at row 70 (line 72 of"),
        (["columns", "--stream", str(files / "zero_p.csv"), "--proba-prefix", "p_"], "row 90 (line 92 of"),
        ([model, "--stream", str(files / "new.csv"), "--batch-size", "0"], "batch size must be at least 1"),
    ]
    for args, words in cases:
        source = train_p if "--proba-prefix" in args else train
        code = main(["adapt", *args, "--source", source, "--label", "label", "--out", str(files / "bad"), "-q"])
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        assert err.startswith("error:") and "\n" not in err and words in err, err


def test_written_classes_keep_numbers_and_neutralise_formulas(tmp_path):
    """Labels -1 / 1 come back as -1 / 1 (not '-1); a class named like a formula gets its leading quote."""
    probs = np.array([[0.8, 0.2, 0.0], [0.3, 0.6, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    classes = ["-1", "1", "=HYPERLINK(1)"]
    table = pd.DataFrame(probs, columns=[f"proba_{c}" for c in classes]).assign(label=classes + ["-1"])
    table.to_csv(tmp_path / "t.csv", index=False)
    code = main(["adapt", "columns", "--source", str(tmp_path / "t.csv"), "--stream", str(tmp_path / "t.csv"),
                 "--label", "label", "--out", str(tmp_path / "out"), "-q"])
    assert code == 0
    written = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype=str)
    assert written["prediction"].tolist() == ["-1", "1", "'=HYPERLINK(1)", "-1"]
    assert written["source_prediction"].tolist() == written["prediction"].tolist()


def test_an_empty_stream_is_a_data_error(files):
    from labelwise.errors import DataError

    stream = pd.read_csv(files / "new.csv").iloc[:0]
    with pytest.raises(DataError, match="has no rows"):
        adapt_stream(str(files / "model.joblib"), files / "train.csv", stream, label="label")
