"""The audit's other checks, run on a table after confident learning: class balance, column health, the error
rate's interval, exact and near duplicates (with conflicting labels), outliers, and label shift / leakage
against another split. Each result lands in ``AuditResult.checks`` as plain JSON-friendly values; a check that
cannot run says why in ``AuditResult.skipped``.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.audit import label_errors
from labelwise.audit.composition import class_balance, column_health
from labelwise.audit.duplicates import conflicting_duplicates, cross_split_duplicates, find_near_duplicates, rows_in_pairs
from labelwise.audit.label_shift import estimate_target_prior, label_count_test
from labelwise.neighbours import knn
from labelwise.audit.outliers import outlier_scores
from labelwise.data import LabelledTable, read_table
from labelwise.data.labels import LabelColumn
from labelwise.errors import DataError, ParameterError
from labelwise.progress import report

ALL_CHECKS = ("balance", "columns", "error_interval", "duplicates", "outliers", "shift")
_SVD_DIMS = 128


def load_other_split(data, *, label, text=None, features=None, embeddings=None, encoding=None) -> LabelledTable:
    """Read another split (e.g. the test set) with the same input columns; its label column may be absent.

    The returned table's ``labels.codes`` are unused; the raw label values are in ``frame[label]`` when present.
    """
    frame = read_table(data, encoding=encoding)
    source = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
    needed = list(text or []) + list(features or []) + ([embeddings] if embeddings else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"The split to compare with ({source}) lacks the column(s) {', '.join(map(repr, missing))} "
                        f"used for the main table. Its columns are: {', '.join(map(repr, map(str, frame.columns)))}.")
    placeholder = LabelColumn(name=str(label), classes=[], codes=np.zeros(len(frame), np.int64))
    return LabelledTable(frame=frame.reset_index(drop=True), labels=placeholder, row_ids=np.arange(len(frame)),
                         text_columns=list(text or []), feature_columns=list(features or []),
                         embedding_column=embeddings, source=source, n_input_rows=len(frame))


def run_checks(result, table: LabelledTable, space, model, *, other: Optional[LabelledTable] = None,
               other_pred_probs=None, checks: Sequence[str] = ALL_CHECKS, duplicate_threshold: float = 0.95,
               random_state=0, progress=None) -> None:
    """Fill ``result.checks`` / ``result.skipped`` / ``result.error_rate_interval`` in place."""
    unknown = set(checks) - set(ALL_CHECKS)
    if unknown:
        raise ParameterError(f"unknown checks {sorted(unknown)}; choose from {', '.join(ALL_CHECKS)}.")
    classes = result.classes
    if "balance" in checks:
        balance = class_balance(result.given, len(classes))
        result.checks["balance"] = {
            "classes": list(classes), "counts": balance.counts.tolist(), "shares": balance.shares.round(6).tolist(),
            "imbalance_ratio": balance.imbalance_ratio, "entropy": balance.entropy, "min_count": balance.min_count,
            "small_classes": [classes[i] for i in np.flatnonzero(balance.small)],
        }
    if "columns" in checks:
        result.checks["columns"] = [
            {"name": c.name, "dtype": c.dtype, "missing": c.missing, "missing_share": c.missing_share,
             "n_unique": c.n_unique, "is_constant": c.is_constant, "is_all_missing": c.is_all_missing,
             "notes": c.notes}
            for c in column_health(table.frame)
        ]
    if "error_interval" in checks and not result.multi_label:
        result.error_rate_interval = label_errors.error_rate_interval(result.given, result.pred_probs,
                                                                      random_state=random_state)

    vectors = _neighbour_vectors(space, random_state) if space is not None else None
    need_vectors = [c for c in ("duplicates", "outliers") if c in checks]
    if vectors is None:
        why = result.settings.get("features_skipped", "")
        for name in need_vectors:
            result.skipped[name] = ("not checked: no features to compare rows by (name --text, --features or "
                                    "--embeddings columns)" + (f"; {why}" if why else ""))
    elif need_vectors:
        report(progress, "neighbours", 0, 1)
        neighbours = knn(vectors, 10, random_state=random_state)
        report(progress, "neighbours", 1, 1)
        if "duplicates" in checks:
            result.checks["duplicates"] = _duplicates(result, table, vectors, duplicate_threshold, neighbours)
        if "outliers" in checks:
            out = outlier_scores(vectors, neighbours=neighbours)
            result.checks["outliers"] = {"k": out.k, "n_outliers": out.n_outliers, "threshold": out.threshold,
                                         "scores": out.scores, "knn_distance": out.knn_distance,
                                         "is_outlier": out.is_outlier}
    if "shift" in checks:
        if other is None:
            result.skipped["shift"] = "not checked: give another split with --compare-to (e.g. the test set)"
        elif result.multi_label:
            result.skipped["shift"] = "not checked: label-shift estimation is for single-label data"
        else:
            result.checks["shift"] = _shift(result, table, space, model, other, other_pred_probs, vectors,
                                            duplicate_threshold, random_state, progress)


def _neighbour_vectors(space, random_state) -> Optional[np.ndarray]:
    """Dense vectors for neighbour search: the embeddings, or a 128-d SVD of sparse TF-IDF features."""
    if space.dense is not None:
        return space.dense
    from sklearn.decomposition import TruncatedSVD

    dims = min(_SVD_DIMS, space.X.shape[1] - 1)
    space.svd = TruncatedSVD(n_components=dims, random_state=random_state).fit(space.X)
    return space.svd.transform(space.X).astype(np.float32)


def _normalised_text(texts: list[str]) -> np.ndarray:
    return np.array([re.sub(r"\s+", " ", t).strip().lower() for t in texts], dtype=object)


def _duplicates(result, table, vectors, threshold, neighbours) -> dict:
    keys = _normalised_text(table.texts()) if table.text_columns else None
    dup = find_near_duplicates(vectors, threshold=threshold, exact_keys=keys, neighbours=neighbours)
    conflict = conflicting_duplicates(dup.pairs, result.given)
    conflicting_rows = rows_in_pairs(dup.pairs, result.n_rows, conflict)
    return {
        "threshold": threshold,
        "duplicate_rows": dup.n_duplicate_rows,
        "groups": dup.n_groups,
        "pairs_found": int(len(dup.pairs)),
        "conflicting_pairs": int(conflict.sum()),
        "conflicting_rows": int(conflicting_rows.sum()),
        "pairs": dup.pairs,
        "similarity": dup.similarity,
        "conflict": conflict,
        "row_group": dup.group,
        "row_conflict": conflicting_rows,
    }


def _shift(result, table, space, model, other, other_pred_probs, vectors, threshold, random_state, progress) -> dict:
    from sklearn.base import clone

    k = len(result.classes)
    out = {"other_name": other.source, "other_rows": len(other.frame), "test": None, "estimate": None,
           "estimate_bbse_l1": None, "leakage": None}
    report(progress, "label shift", 0, 1)
    if other_pred_probs is not None:
        target_probs = np.asarray(other_pred_probs, dtype=np.float64)
        if target_probs.shape != (len(other.frame), k):
            raise DataError(f"compare_pred_probs has shape {target_probs.shape}; expected {(len(other.frame), k)} "
                            "(one row per row of the other split, one column per class).")
        other_vectors = None
    elif model is not None:
        other_X = space.transform(other)
        fitted = clone(model).fit(space.X, result.given)
        target_probs = np.zeros((len(other.frame), k))
        target_probs[:, fitted.classes_.astype(int)] = fitted.predict_proba(other_X)
        other_vectors = (space.svd.transform(other_X) if getattr(space, "svd", None) is not None
                         else np.asarray(other_X, dtype=np.float32)) if vectors is not None else None
    else:
        target_probs, other_vectors = None, None

    label_name = table.labels.name
    if label_name in other.frame.columns:
        index = {c: i for i, c in enumerate(result.classes)}
        raw = other.frame[label_name]
        codes = np.array([index.get(str(v).strip(), -1) if not pd.isna(v) else -1 for v in raw])
        known = codes[codes >= 0]
        if known.size:
            test = label_count_test(result.given, known, k)
            out["test"] = {"statistic": test.statistic, "dof": test.dof, "p_value": test.p_value,
                           "cramers_v": test.cramers_v, "shifted": test.shifted}
            out["unknown_labels"] = int((codes < 0).sum())
            out["verdict"] = test.verdict
            out["short_verdict"] = "shift detected" if test.shifted else "no evidence"
            out["other_prior"] = (np.bincount(known, minlength=k) / known.size).round(6).tolist()
    if target_probs is not None:
        mlls = estimate_target_prior(result.pred_probs, result.given, target_probs, method="mlls",
                                     random_state=random_state)
        bbse = estimate_target_prior(result.pred_probs, result.given, target_probs, method="bbse",
                                     random_state=random_state)
        out["estimate"] = {"method": "MLLS with bias-corrected calibration", "target_prior": mlls.estimate.tolist(),
                           "lower": mlls.lower.tolist(), "upper": mlls.upper.tolist(),
                           "source_prior": mlls.source_prior.tolist(), "l1_shift": mlls.l1_shift,
                           "importance_weights": mlls.importance_weights.tolist()}
        out["estimate_bbse_l1"] = bbse.l1_shift
        out["estimate_bbse"] = bbse.estimate.tolist()
        out["estimate_bbse_interval"] = [bbse.lower.tolist(), bbse.upper.tolist()]
        if "verdict" not in out:
            out["verdict"] = (f"the other split has no labels; its estimated class mix differs from this split's by "
                              f"L1 distance {mlls.l1_shift:.2f} (0 = identical, 2 = disjoint)")
            out["short_verdict"] = f"estimated L1 {mlls.l1_shift:.2f}"
    if other_vectors is not None:
        pairs, _ = cross_split_duplicates(vectors, other_vectors, threshold=threshold)
        out["leakage"] = int(len(pairs))
    if "verdict" not in out:
        out["verdict"] = "not checked: the other split has no labels and there is no model to predict them"
        out["short_verdict"] = "not checked"
    report(progress, "label shift", 1, 1)
    return out
