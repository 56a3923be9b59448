"""AuditResult.save and AuditResult.load, its only reader: the same arrays, checks and summary come back; a folder
that is not one, or whose files do not belong together, is a clear error."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import labelwise
from labelwise.audit.checks import JudgeSummary, LLMJudgeCheckResult
from labelwise.audit.result import AuditResult
from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder

TOPICS = ["card payment declined at the shop", "transfer to another bank account", "exchange rate for euros"]


def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    topic = np.arange(n) % 3
    text = [f"{TOPICS[t]} {rng.integers(40)}" for t in topic]
    label = np.array([f"t{t}" for t in topic], dtype=object)
    label[[5, 6, 7]] = "t0"  # a few wrong labels
    return pd.DataFrame({"text": text, "label": label, "n": rng.integers(0, 5, n)})


def _assert_same(loaded: AuditResult, result: AuditResult):
    for name in ("row_ids", "given", "suggested", "label_quality", "is_issue", "pred_probs"):
        a, b = getattr(loaded, name), getattr(result, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    if result.noise is None:
        assert loaded.noise is None
    else:
        for field in dataclasses.fields(result.noise):
            np.testing.assert_array_equal(getattr(loaded.noise, field.name), getattr(result.noise, field.name))
    assert loaded.summary() == result.summary()
    assert (loaded.classes, loaded.texts, loaded.settings) == (result.classes, result.texts, result.settings)
    assert (loaded.source, loaded.source_path, loaded.classes_too_small) == (
        result.source, result.source_path, result.classes_too_small)
    assert [c.name for c in loaded.checks.results()] == [c.name for c in result.checks.results()]
    assert loaded.checks.skipped == result.checks.skipped
    for mine, theirs in zip(loaded.checks.results(), result.checks.results()):
        assert json.dumps(dataclasses.asdict(mine.summary), default=str) == json.dumps(
            dataclasses.asdict(theirs.summary), default=str)
        for name, values in theirs.arrays().items():
            np.testing.assert_array_equal(mine.arrays()[name], values, err_msg=f"{mine.name}.{name}")
    pd.testing.assert_frame_equal(loaded.to_frame(), result.to_frame())


def test_round_trip_with_every_check(tmp_path):
    frame = _table()
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    other = _table(90, seed=1)
    result = labelwise.audit_dataset(str(path), label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3,
                             compare_to=other)
    n = result.n_rows
    judged = np.full(n, np.nan)
    judged[:4] = [0.1, 0.9, 0.5, 0.2]
    result.checks.add(LLMJudgeCheckResult(JudgeSummary(4, ["fake"], 3), llm_judge_score=judged,
                                          combined_quality=judged / 2))
    assert [c.name for c in result.checks.results()] == [
        "balance", "columns", "error_interval", "duplicates", "outliers", "shift", "llm_judge"]
    assert result.checks.shift.summary.mlls is not None and result.checks.shift.summary.test is not None
    result.save(tmp_path / "audit")
    loaded = AuditResult.load(tmp_path / "audit")
    _assert_same(loaded, result)
    assert loaded.source_path == str(path.resolve())
    assert loaded.checks.shift.summary.test == result.checks.shift.summary.test

    issues = pd.read_csv(tmp_path / "audit" / "issues.csv")
    assert list(issues.columns) == [
        "row", "given_label", "suggested_label", "label_quality", "is_label_issue", "suggested_probability",
        "duplicate_group", "is_duplicate_issue", "outlier_score", "outlier_distance", "is_outlier_issue",
        "llm_judge_score", "combined_quality", "text"]
    np.testing.assert_array_equal(issues["is_outlier_issue"], result.checks.outliers.is_outlier_issue)
    assert AuditResult.saved_in(tmp_path / "audit") and not AuditResult.saved_in(tmp_path)
    loaded.save(tmp_path / "again")  # what load gives can be saved again, unchanged
    _assert_same(AuditResult.load(tmp_path / "again"), result)


def test_round_trip_multi_label_with_dropped_rows_and_skipped_checks(tmp_path):
    rng = np.random.default_rng(2)
    n, k = 300, 4
    truth = rng.random((n, k)) < 0.35
    frame = pd.DataFrame(truth * 2.0 + rng.normal(0, 0.4, (n, k)), columns=list("abcd"))
    frame["tags"] = [[f"t{j}" for j in np.flatnonzero(row)] for row in truth]
    frame.loc[[4, 9], "tags"] = None
    probs = np.clip(truth + rng.normal(0, 0.3, (n, k)), 0.01, 0.99)
    result = labelwise.audit_dataset(frame, label="tags", pred_probs=probs, drop_missing=True, multi_label=True)
    assert result.multi_label and result.n_input_rows == n and result.n_rows == n - 2
    assert [s.check for s in result.checks.skipped] == ["error_interval", "shift"]
    result.save(tmp_path / "audit")
    _assert_same(AuditResult.load(tmp_path / "audit"), result)


def test_what_the_review_and_the_guide_need_comes_back(tmp_path):
    frame = _table()
    frame.loc[0, "label"] = "alone"
    result = labelwise.audit_dataset(frame, label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3)
    result.save(tmp_path / "audit")
    loaded = AuditResult.load(tmp_path / "audit")
    assert loaded.classes_too_small == ["alone"] and loaded.source_path is None
    flags = loaded.row_issues()
    assert list(flags) == ["label", "duplicate", "outlier"]
    np.testing.assert_array_equal(flags["duplicate"], result.checks.duplicates.is_duplicate_issue)
    assert loaded.label_names(loaded.given[:2]) == [[frame.loc[0, "label"]], [frame.loc[1, "label"]]]
    pd.testing.assert_frame_equal(loaded.top_suggestions(), pd.read_parquet(tmp_path / "audit" /
                                                                            "top_suggestions.parquet"))
    noise = pd.read_csv(tmp_path / "audit" / "noise_matrix.csv", index_col=0)
    np.testing.assert_allclose(noise.to_numpy(), loaded.noise.noise_matrix, rtol=1e-12)


def test_folders_that_cannot_be_loaded_say_why(tmp_path):
    with pytest.raises(DataError, match="is not an audit folder"):
        AuditResult.load(tmp_path)
    result = labelwise.audit_dataset(_table(), label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3)
    folder = result.save(tmp_path / "audit")
    (folder / "arrays.npz").rename(tmp_path / "arrays.npz")
    with pytest.raises(DataError, match="earlier labelwise.*arrays.npz"):  # the files of the first format only
        AuditResult.load(folder)
    (folder / "arrays.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="cannot be read"):
        AuditResult.load(folder)
    (tmp_path / "arrays.npz").rename(folder / "arrays.npz")
    other = labelwise.audit_dataset(_table(120), label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3)
    other.save(tmp_path / "other")
    (tmp_path / "other" / "pred_probs.npy").replace(folder / "pred_probs.npy")
    with pytest.raises(DataError, match="do not belong together"):
        AuditResult.load(folder)


def test_a_folder_from_a_newer_labelwise_is_named_as_such(tmp_path):
    folder = labelwise.audit_dataset(_table(), label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3).save(
        tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps(dict(summary, format_version=99)))
    with pytest.raises(DataError, match="newer labelwise"):
        AuditResult.load(folder)
