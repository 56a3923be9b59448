"""labelwise.unlearning: the model file (safetensors + JSON config, read back exactly; anything else refused in one
line), what --forget names, and the checks that keep row numbers meaning the rows the model was trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from labelwise.errors import DataError, ParameterError
from labelwise.unlearning import load_model, parse_forget, train_model, unlearn

CLASSES = ["0", "1", "2", "cat"]


def test_forget_names_a_class_rows_or_a_file(tmp_path):
    assert parse_forget("cat", CLASSES, 10)[:2] == (3, None)
    assert parse_forget("1", CLASSES, 10)[:2] == (1, None)  # a class named like a number wins ...
    cls, rows, what = parse_forget("rows:1", CLASSES, 10)  # ... unless rows: says otherwise
    assert cls is None and rows.tolist() == [1] and what == "1 rows"
    assert parse_forget("7, 3,3", CLASSES, 10)[1].tolist() == [3, 7]
    assert parse_forget("class:2", CLASSES, 10)[0] == 2
    listed = tmp_path / "rows.txt"
    listed.write_text("4\n9\n4\n")
    assert parse_forget(str(listed), CLASSES, 10)[1].tolist() == [4, 9]
    chosen = tmp_path / "next.csv"  # a table with a 'row' column, as labelwise select writes
    pd.DataFrame({"selection_rank": [1, 2], "row": [8, 5], "text": ["a", "b"]}).to_csv(chosen, index=False)
    assert parse_forget(str(chosen), CLASSES, 10)[1].tolist() == [5, 8]
    with pytest.raises(ParameterError, match="'dog' is not a class of the model"):
        parse_forget("dog", CLASSES, 10)
    with pytest.raises(ParameterError, match="class 'dog' is not one of the model's classes"):
        parse_forget("class:dog", CLASSES, 10)
    with pytest.raises(ParameterError, match="row 10 is out of range; the data has 10 rows"):
        parse_forget("rows:2,10", CLASSES, 10)
    bad = tmp_path / "bad.txt"
    bad.write_text("3\nfour\n")
    with pytest.raises(DataError, match="found 'four'"):
        parse_forget(str(bad), CLASSES, 10)
    many = ",".join(str(i) for i in range(400))  # longer than any file name: row numbers, not an OS error
    assert len(parse_forget(many, CLASSES, 1000)[1]) == 400
    with pytest.raises(ParameterError, match="row 100000000000000000000 is out of range"):
        parse_forget("3,100000000000000000000", CLASSES, 10)  # no int64 overflow
    bad.write_text("3\n\u00b2\n")  # a superscript two: a digit to str.isdigit, not a row number
    with pytest.raises(DataError, match="found '\u00b2'"):
        parse_forget(str(bad), CLASSES, 10)


@pytest.fixture(scope="module")
def digits_table():
    X, y = load_digits(return_X_y=True)
    keep = y < 4
    frame = pd.DataFrame(X[keep], columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y[keep]
    return frame


@pytest.fixture(scope="module")
def trained(digits_table):
    return train_model(digits_table, label="digit", epochs=15, random_state=0)


def test_the_model_file_reads_back_exactly_and_nothing_else_is_a_model(trained, digits_table, tmp_path):
    from labelwise.data.dataset import load_labelled_table
    from labelwise.learn.unlearn import predict_proba

    assert trained.training["heldout_accuracy"] > 0.9
    assert len(trained.heldout_rows) == round(0.2 * len(digits_table))
    path = trained.save(tmp_path / "model.safetensors")
    again = load_model(path)
    assert again.classes == ["0", "1", "2", "3"] and again.inputs["features"] == [f"p{i}" for i in range(64)]
    assert again.heldout_rows == trained.heldout_rows
    table = load_labelled_table(digits_table, label="digit")
    X = again.features(table)
    assert np.array_equal(predict_proba(again.model, X), predict_proba(trained.model, X))
    not_model = tmp_path / "table.safetensors"
    digits_table.head().to_csv(not_model)
    with pytest.raises(DataError, match="is not a labelwise model file"):
        load_model(not_model)
    from safetensors.torch import save_file
    import torch

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(DataError, match="not a labelwise model"):
        load_model(other)
    with pytest.raises(DataError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_a_damaged_or_crafted_model_config_is_one_line_and_builds_nothing(trained, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = trained.save(tmp_path / "model.safetensors")
    weights = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["config"])

    def saved(change, name):
        crafted = json.loads(json.dumps(config))
        change(crafted)
        out = tmp_path / f"{name}.safetensors"
        save_file(weights, str(out), metadata={"format": "labelwise.split_mlp", "version": "1",
                                               "config": json.dumps(crafted)})
        return out

    with pytest.raises(DataError, match="weights do not fit the network"):  # checked before a 4e12-weight network
        load_model(saved(lambda c: c["network"].update(d_in=10**12), "huge"))
    for field, change in [("network", lambda c: c["network"].update(evil=1)),
                          ("heldout_rows", lambda c: c["heldout_rows"].append(10**6)),
                          ("classes", lambda c: c["classes"].pop()),
                          ("inputs", lambda c: c["inputs"]["scale"].pop()),
                          ("training", lambda c: c.pop("training"))]:
        with pytest.raises(DataError, match=f"the '{field}' field of its model config is missing or invalid"):
            load_model(saved(change, field))
    save_file(weights, str(tmp_path / "nojson.safetensors"),
              metadata={"format": "labelwise.split_mlp", "version": "1", "config": "{not json"})
    with pytest.raises(DataError, match="has no readable model config"):
        load_model(tmp_path / "nojson.safetensors")
    save_file(weights, str(tmp_path / "deep.safetensors"),
              metadata={"format": "labelwise.split_mlp", "version": "1", "config": "[" * 10**5 + "]" * 10**5})
    with pytest.raises(DataError, match="has no readable model config"):  # not a RecursionError
        load_model(tmp_path / "deep.safetensors")
    header = b"[" * 10**5 + b"]" * 10**5
    (tmp_path / "deep_header.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(DataError, match="is not a labelwise model file"):
        load_model(tmp_path / "deep_header.safetensors")


def test_a_small_table_with_a_large_test_share_still_splits():
    frame = pd.DataFrame({"a": np.arange(8.0), "b": np.arange(8.0) ** 2, "y": list("aabbccdd")})
    model = train_model(frame, label="y", features=["a", "b"], test_size=0.6, epochs=1)
    assert len(model.heldout_rows) == 5  # 3 training rows cannot hold 4 classes: split without stratifying


def test_unlearning_refuses_rows_the_model_never_saw_and_another_table(trained, digits_table):
    held = trained.heldout_rows[:2]
    with pytest.raises(ParameterError, match=f"rows {held[0]}, {held[1]} were held out"):
        unlearn(trained, digits_table, held, method="finetune")
    with pytest.raises(DataError, match="trained on a table of"):
        unlearn(trained, digits_table.iloc[:-1], "0", method="finetune")
    with pytest.raises(ParameterError, match="unknown method 'forget'"):
        unlearn(trained, digits_table, "0", method="forget")


def test_fine_tuning_without_a_class_on_the_table(trained, digits_table):
    result = unlearn(trained, digits_table, "class:0", method="finetune", epochs=3)
    zeros = (digits_table["digit"] == 0).to_numpy()
    held = np.zeros(len(digits_table), bool)
    held[trained.heldout_rows] = True
    assert result.n_forget == (zeros & ~held).sum() and result.n_test == held.sum()
    assert result.before.forget_accuracy > 0.95 and result.before.test_accuracy_forgotten > 0.9
    assert result.model.history == [{"method": "finetune", "forgot": "a class", "n_rows": result.n_forget}]
    assert trained.history == []  # the input model is left as it was
    assert set(result.to_frame().index) == {"original", "finetune"}


def test_laf_and_laf_r_through_the_table_api(trained, digits_table, monkeypatch):
    """The default method's wiring (the notes' temperature per task, --epochs, the head refit on a few labels),
    with the VAEs cut to 2 epochs so that it stays fast; whether LAF forgets is tests/learn/test_unlearn.py's."""
    import torch

    import labelwise.learn.unlearn as algorithms

    made, real = [], algorithms.LabelAgnosticForgetting

    def small(**kw):
        made.append(kw)
        return real(vae_epochs=2, **kw)

    monkeypatch.setattr(algorithms, "LabelAgnosticForgetting", small)
    rows = [r for r in range(60) if r not in set(trained.heldout_rows)]
    plain = unlearn(trained, digits_table, rows, method="laf", epochs=1)
    assert made[-1]["temperature"] == 5.0 and made[-1]["epochs"] == 1  # T = 5 for rows
    old, new = trained.model, plain.model.model
    assert not torch.equal(new.encoder[0].weight, old.encoder[0].weight)  # LAF moves the extractor ...
    assert torch.equal(new.head[-1].weight, old.head[-1].weight)  # ... and leaves the head
    refit = unlearn(trained, digits_table, rows, method="laf+r", epochs=1)
    assert torch.equal(refit.model.model.encoder[0].weight, new.encoder[0].weight)  # the same LAF, then the head
    assert not torch.equal(refit.model.model.head[-1].weight, old.head[-1].weight)
    assert refit.n_forget == len(rows) and refit.after.seconds > 0
    unlearn(trained, digits_table, "class:1", method="laf", epochs=1)
    assert made[-1]["temperature"] == 20.0  # T = 20 for a class
