"""``labelwise train-classifier`` and ``labelwise unlearn`` as a user runs them on a table: a model file trained,
a class forgotten with the metrics printed and written, and a wrong input one line and exit 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import load_digits

from labelwise.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unlearn")
    X, y = load_digits(return_X_y=True)
    keep = y < 4
    frame = pd.DataFrame(X[keep], columns=[f"p{i}" for i in range(64)])
    frame.insert(0, "digit", [f"d{v}" for v in y[keep]])
    data = folder / "digits.csv"
    frame.to_csv(data, index=False)
    model = folder / "model.safetensors"
    assert main(["train-classifier", str(data), "--label", "digit", "--out", str(model), "--epochs", "15",
                 "--quiet"]) == 0
    return data, model, folder


def test_train_then_forget_a_class(files, capsys):
    data, model, folder = files
    capsys.readouterr()
    out = folder / "forgot.safetensors"
    code = main(["unlearn", str(model), "--data", str(data), "--forget", "d0", "--method", "finetune", "--epochs", "2",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "forgot class 'd0' with finetune:" in printed.out and "held-out, forgotten class" in printed.out
    metrics = json.loads((folder / "forgot.metrics.json").read_text())
    assert metrics["method"] == "finetune" and metrics["n_forget"] > 100
    assert metrics["original"]["forget_accuracy"] > 0.95
    assert out.is_file() and "wrote" in printed.err


@pytest.mark.parametrize("args, message", [
    (["--forget", "d00"], "--forget 'd00' is not a class of the model, a file or row numbers like 3,17,42; did you "
                         "mean 'd0'? classes: d0, d1, d2, d3."),
    (["--forget", "rows:3,5000"], "row 5000 is out of range; the data has 720 rows"),
    (["--forget", "d0", "--method", "forget"], "--method must be one of laf, laf+r"),
])
def test_a_wrong_forget_or_method_is_one_line(files, capsys, args, message):
    data, model, folder = files
    code = main(["unlearn", str(model), "--data", str(data), "--out", str(folder / "x.safetensors"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_not_a_model_is_one_line(files, capsys):
    data, _, folder = files
    code = main(["unlearn", str(data), "--data", str(data), "--forget", "d0", "--out", str(folder / "x.safetensors")])
    err = capsys.readouterr().err
    assert code == 2 and "is not a labelwise model file" in err and len(err.strip().splitlines()) == 1
