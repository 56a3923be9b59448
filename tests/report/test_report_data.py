"""report.json is built from the checks' typed results, in the layout docs/report.md documents."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import labelwise
from labelwise.features import HashingTextEncoder
from labelwise.report import write_report
from labelwise.report.build import report_data

TOPICS = ["card payment declined at the shop", "transfer to another bank account", "exchange rate for euros"]
DOCUMENTED = {
    "headline": {"rows", "classes", "estimated_error_rate", "error_rate_interval", "flagged", "duplicate_rows",
                 "conflicting_duplicate_rows", "outliers", "imbalance_ratio", "small_classes", "shift_verdict"},
    "label_distribution": {"classes", "counts", "shares", "imbalance_ratio", "entropy", "min_count", "small_classes",
                           "truncated"},
    "duplicates": {"threshold", "duplicate_rows", "groups", "pairs_found", "conflicting_pairs", "conflicting_rows",
                   "examples"},
    "outliers": {"k", "n_outliers", "threshold", "distance_range", "distance_histogram", "examples"},
    "splits": {"other_name", "other_rows", "verdict", "short_verdict", "test", "unknown_labels", "other_prior",
               "estimate", "estimate_bbse", "estimate_bbse_interval", "estimate_bbse_l1", "leakage"},
}


def _table(n, seed):
    rng = np.random.default_rng(seed)
    topic = np.arange(n) % 3
    return pd.DataFrame({"text": [f"{TOPICS[t]} {rng.integers(40)}" for t in topic],
                         "label": [f"t{t}" for t in topic]})


def test_report_json_carries_the_typed_results(tmp_path):
    train, test = _table(240, 0), _table(90, 1)
    test.loc[:20, "label"] = "t0"
    result = labelwise.audit_dataset(train, label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3,
                             compare_to=test)
    _, json_path = write_report(result, tmp_path)
    data = json.loads(json_path.read_text())
    for section, keys in DOCUMENTED.items():
        assert set(data[section]) == keys, section
    checks = result.checks
    assert data["headline"]["duplicate_rows"] == checks.duplicates.summary.duplicate_rows
    assert data["headline"]["outliers"] == checks.outliers.summary.n_outliers
    assert data["headline"]["error_rate_interval"] == [checks.error_interval.summary.lower,
                                                       checks.error_interval.summary.upper]
    assert data["label_distribution"]["counts"] == [80, 80, 80]
    assert [c["name"] for c in data["composition"]["columns"]] == ["text", "label"]
    shift = checks.shift.summary
    splits = data["splits"]
    assert splits["short_verdict"] == "shift detected" and splits["test"]["p_value"] == shift.test.p_value
    assert splits["estimate"]["target_prior"] == shift.mlls.estimate.tolist()
    assert splits["estimate_bbse_interval"] == [shift.bbse.lower.tolist(), shift.bbse.upper.tolist()]
    conflicting = checks.duplicates.pair_conflict.sum()
    examples = data["duplicates"]["examples"]
    assert [e["conflict"] for e in examples] == sorted((e["conflict"] for e in examples), reverse=True)
    assert sum(e["conflict"] for e in examples) == min(conflicting, len(examples))


def test_a_module_that_could_not_run_says_why():
    train, test = _table(120, 0).assign(x=0.0), _table(40, 1).drop(columns="label").assign(x=0.0)
    probs = np.full((120, 3), 0.2)
    probs[np.arange(120), np.arange(120) % 3] = 0.6
    result = labelwise.audit_dataset(train[["label", "x"]], label="label", pred_probs=probs, compare_to=test,
                             checks=("balance", "shift"))
    data = report_data(result)
    assert data["splits"] is None and data["headline"]["shift_verdict"] == "not checked"
    assert data["skipped"]["splits"] == result.checks.why_not("shift").message
    assert "no labels and there is no model" in data["skipped"]["splits"]
    assert data["duplicates"] is None and data["skipped"]["duplicates"] == "not run"


def test_the_report_of_a_saved_audit_is_the_same(tmp_path):
    from labelwise.audit.result import AuditResult

    result = labelwise.audit_dataset(_table(150, 0), label="label", text="text", encoder=HashingTextEncoder(64), n_folds=3,
                             compare_to=_table(60, 1))
    result.save(tmp_path)
    fresh, loaded = report_data(result), report_data(AuditResult.load(tmp_path))
    fresh.pop("generated_at"), loaded.pop("generated_at")
    assert json.dumps(loaded, sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_privacy_section_escapes_names_and_says_whether_lokt_leaks(tmp_path):
    """The --privacy section: LOKT first, ``leaks`` only above chance and every baseline, names shown as text."""
    train = _table(120, 0).assign(x=0.0)
    probs = np.full((120, 3), 0.2)
    probs[np.arange(120), np.arange(120) % 3] = 0.6
    result = labelwise.audit_dataset(train[["label", "x"]], label="label", pred_probs=probs, checks=("balance",))

    def method(name, accuracy):
        return {"method": name, "attack_accuracy": accuracy, "distance_to_class_mean": 1.0,
                "distance_to_nearest": 0.5, "queries": 900}

    leakage = {"chance": 1 / 3, "n_classes": 3, "stopped_by": "time", "gan_iterations": 7, "seconds": 2.0,
               "settings": {}, "target": "<script>alert(1)</script>.joblib", "public": "<img src=x onerror=1>.csv",
               "methods": {"naive_surrogate": method("naive_surrogate", 0.5), "public_pick": method("public_pick", 0.4),
                           "lokt": method("lokt", 0.6)}}
    html_path, json_path = write_report(result, tmp_path, privacy=leakage)
    section = json.loads(json_path.read_text())["privacy"]
    assert [m["method"] for m in section["rows"]] == ["lokt", "naive_surrogate", "public_pick"]
    assert section["leaks"] and section["best_baseline"]["method"] == "naive_surrogate"
    leakage["methods"]["public_pick"]["attack_accuracy"] = 0.6  # a tie is not a leak beyond the baselines
    assert not report_data(result, privacy=leakage)["privacy"]["leaks"]
    html = html_path.read_text()
    assert "Label-only privacy audit" in html and "&lt;script&gt;alert(1)&lt;/script&gt;.joblib" in html
    assert "<script>alert" not in html and "<img src=x" not in html
