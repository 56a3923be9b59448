"""The check interface: fixed per-row names, one AuditChecks attribute per check, summaries that survive JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from labelwise.audit.checks import (
    ALL_CHECKS, AuditChecks, BalanceCheck, ColumnsCheck, DuplicatesCheck, ErrorIntervalCheck, OutliersCheck,
    ShiftCheck, ShiftSummary, Skipped, SkipReason, run_checks,
)
from labelwise.audit.checks.base import from_json, to_json
from labelwise.audit.checks.suite import RESULT_TYPES
from labelwise.audit.label_shift import estimate_target_prior, label_count_test
from labelwise.errors import ParameterError
from tests.audit.checks.inputs import check_inputs


def test_every_result_type_follows_the_naming_rules():
    assert [f.name for f in dataclasses.fields(AuditChecks)] == [*RESULT_TYPES, "skipped"]
    assert set(ALL_CHECKS) < set(RESULT_TYPES)
    for name, kind in RESULT_TYPES.items():
        fields = {f.name for f in dataclasses.fields(kind)}
        assert kind.name == name and "summary" in fields
        assert set(kind.row_columns) <= fields, name
        if kind.issue is not None:
            assert f"is_{kind.issue}_issue" in kind.row_columns, name
    assert [(c.name, c.issue) for c in RESULT_TYPES.values() if c.issue] == [("duplicates", "duplicate"),
                                                                          ("outliers", "outlier")]
    assert all(check.name in ALL_CHECKS for check in (BalanceCheck, ColumnsCheck, ErrorIntervalCheck,
                                                       DuplicatesCheck, OutliersCheck, ShiftCheck))


def test_every_check_runs_on_shared_inputs_and_reports_typed_results():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((60, 8))
    labels = np.repeat([0, 1, 2], 20)
    inputs = check_inputs(vectors, labels, texts=[f"row {i}" for i in range(60)])
    checks = run_checks(inputs)
    assert [r.name for r in checks.results()] == list(ALL_CHECKS[:-1])  # shift: no other split
    assert checks.why_not("shift") == Skipped("shift", SkipReason.NO_OTHER_SPLIT, checks.skipped[0].message)
    assert checks.balance.summary.counts.tolist() == [20, 20, 20] and checks.balance.summary.imbalance_ratio == 1.0
    assert [c.name for c in checks.columns.summary.columns] == ["label", "text"]
    interval = checks.error_interval.summary
    assert 0 <= interval.lower <= interval.upper <= 1 and interval.confidence == 0.95
    for result in checks.results():
        for values in result.columns().values():
            assert values.shape == (60,)
    with pytest.raises(ParameterError, match="unknown checks"):
        run_checks(inputs, checks=("balance", "leakage"))


def test_checks_without_features_say_why():
    inputs = check_inputs(None, np.array([0, 1, 0, 1]), features_skipped="the embedding column is empty")
    checks = run_checks(inputs, checks=("duplicates", "outliers", "balance"))
    assert checks.duplicates is None and checks.outliers is None and checks.balance is not None
    for name in ("duplicates", "outliers"):
        why = checks.why_not(name)
        assert why.reason is SkipReason.NO_FEATURES and "the embedding column is empty" in why.message
    assert checks.why_not("balance") is None


def test_a_rerun_replaces_what_a_check_left():
    checks = AuditChecks()
    checks.add(Skipped("outliers", SkipReason.NO_FEATURES, "no features"))
    inputs = check_inputs(np.eye(4), np.array([0, 1, 0, 1]))
    checks.add(OutliersCheck().run(inputs))
    assert checks.skipped == [] and checks.outliers is not None
    checks.add(Skipped("outliers", SkipReason.NO_FEATURES, "no features"))
    assert checks.outliers is None and len(checks.skipped) == 1


def test_summaries_survive_json_exactly():
    rng = np.random.default_rng(1)
    source_labels = rng.integers(0, 3, 300)
    probs = 0.6 * np.eye(3)[source_labels] + 0.4 * rng.dirichlet(np.ones(3), 300)
    summary = ShiftSummary(
        other_name="test.csv", other_rows=120, verdict="label shift detected", short_verdict="shift detected",
        test=label_count_test(source_labels, rng.integers(0, 3, 120), 3), unknown_labels=2,
        other_prior=np.array([0.2, 0.3, 0.5]),
        mlls=estimate_target_prior(probs, source_labels, probs[:100], n_bootstrap=10),
        bbse=estimate_target_prior(probs, source_labels, probs[:100], method="bbse", n_bootstrap=10), leakage=None)
    back = from_json(ShiftSummary, json.loads(json.dumps(to_json(summary))))
    assert back.test == summary.test and back.leakage is None and back.other_name == "test.csv"
    for name in ("estimate", "lower", "upper", "source_prior", "importance_weights"):
        np.testing.assert_array_equal(getattr(back.mlls, name), getattr(summary.mlls, name))
        np.testing.assert_array_equal(getattr(back.bbse, name), getattr(summary.bbse, name))
    assert back.mlls.l1_shift == summary.mlls.l1_shift and back.bbse.method == "bbse"
    np.testing.assert_array_equal(back.other_prior, summary.other_prior)
