"""The audit workflow: a table in, an :class:`AuditResult` out.

read and validate the table -> features (text embeddings, TF-IDF, tabular, or given embeddings)
-> out-of-fold probabilities (or the user's own) -> confident learning -> per-row, per-class, noise matrix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from labelwise.audit import label_errors
from labelwise.audit.out_of_fold import default_classifier, out_of_fold_probabilities
from labelwise.audit.result import AuditResult
from labelwise.data import LabelledTable, load_labelled_table, read_table
from labelwise.errors import DataError, LabelwiseError
from labelwise.progress import ProgressCallback

ENCODERS = ("minilm", "tfidf")


def audit(
    data,
    *,
    label: Optional[str] = None,
    text: Union[str, Sequence[str], None] = None,
    features: Optional[Sequence[str]] = None,
    embeddings: Optional[str] = None,
    pred_probs=None,
    multi_label: Optional[bool] = None,
    delimiter: Optional[str] = None,
    drop_missing: bool = False,
    encoding: Optional[str] = None,
    encoder="minilm",
    classifier=None,
    n_folds: int = 5,
    filter_by: str = "prune_by_noise_rate",
    quality_method: str = "self_confidence",
    random_state: Optional[int] = 0,
    progress: Optional[ProgressCallback] = None,
) -> AuditResult:
    """Find the rows whose label is probably wrong.

    data: a path (CSV, TSV, Parquet, JSON Lines), a pandas DataFrame, or a :class:`LabelledTable`.
    label: the label column. Then say what the model should read, one or more of:
      ``text`` (column(s) of text, embedded with ``encoder``), ``features`` (numeric/categorical columns),
      ``embeddings`` (a column of precomputed vectors); with none of them, every other column is a feature.
    pred_probs: your own out-of-sample probabilities instead of training a model: an (n_input_rows, k) array,
      a DataFrame or a .npy/.csv/.parquet path; columns in sorted class order, or named after the classes.
    encoder: ``"minilm"`` (default: offline all-MiniLM-L6-v2 sentence embeddings), ``"tfidf"``, or any object
      with ``encode(texts) -> (n, d)`` array.
    classifier: a scikit-learn classifier for the out-of-fold probabilities (default: logistic regression on
      embeddings/TF-IDF, gradient boosting on tabular features).
    filter_by, quality_method: see :mod:`labelwise.audit.label_errors`.
    progress: ``progress(stage, done, total)`` callback for long steps.
    """
    table = _as_table(data, label, text, features, embeddings, multi_label, delimiter, drop_missing, encoding)
    codes = table.labels.codes
    k = table.labels.n_classes
    n_input_rows = table.n_input_rows

    if pred_probs is not None:
        probs = _user_pred_probs(pred_probs, table, n_input_rows)
        settings = {"pred_probs": "given by user"}
    else:
        X, kind, settings = _features(table, encoder, progress)
        model = classifier if classifier is not None else default_classifier(kind, random_state=random_state)
        settings.update(classifier=type(model).__name__, n_folds=n_folds, random_state=random_state)
        probs = out_of_fold_probabilities(
            X, codes, n_classes=k, classifier=model, n_folds=n_folds, multi_label=table.labels.multi_label,
            random_state=random_state, progress=progress,
        )

    multi = table.labels.multi_label
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were not checked.*")
        is_issue = label_errors.find_label_issues(codes, probs, filter_by=filter_by, multi_label=multi)
    quality = label_errors.label_quality_scores(codes, probs, method=quality_method, multi_label=multi)
    if multi:
        suggested, noise = probs >= 0.5, None
    else:
        suggested = probs.argmax(axis=1)
        noise = label_errors.estimate_noise(codes, probs)
    return AuditResult(
        classes=list(table.labels.classes),
        row_ids=np.asarray(table.row_ids),
        given=codes,
        suggested=suggested,
        label_quality=quality,
        is_issue=is_issue,
        pred_probs=probs,
        noise=noise,
        label_column=table.labels.name,
        multi_label=multi,
        filter_by=filter_by,
        quality_method=quality_method,
        source=table.source,
        n_input_rows=n_input_rows,
        texts=table.texts() if table.text_columns else None,
        settings=settings,
    )


def _as_table(data, label, text, features, embeddings, multi_label, delimiter, drop_missing, encoding) -> LabelledTable:
    if isinstance(data, LabelledTable):
        return data
    if label is None:
        raise LabelwiseError("Say which column holds the labels: label=... (library) or --label COLUMN (CLI).")
    return load_labelled_table(
        data, label=label, text=text, features=list(features) if features else None, embeddings=embeddings,
        multi_label=multi_label, delimiter=delimiter, drop_missing=drop_missing, encoding=encoding,
    )


def _features(table: LabelledTable, encoder, progress) -> tuple[object, str, dict]:
    """Feature matrix for the out-of-fold model, the kind of default classifier it suits, and what was used."""
    from scipy import sparse

    from labelwise.features import TabularEncoder

    parts, kinds, settings = [], [], {}
    if table.text_columns:
        texts = table.texts()
        if isinstance(encoder, str):
            if encoder not in ENCODERS:
                raise LabelwiseError(f"encoder must be one of {', '.join(ENCODERS)}, or an object with encode(); "
                                     f"got {encoder!r}.")
            if encoder == "tfidf":
                from labelwise.features import TfidfEncoder

                parts.append(TfidfEncoder().fit_transform(texts))
                kinds.append("sparse")
            else:
                from labelwise.features import TextEncoder

                text_encoder = TextEncoder(progress=progress)
                parts.append(text_encoder.encode(texts))
                kinds.append("dense")
            settings["encoder"] = encoder
        else:
            parts.append(np.asarray(encoder.encode(texts), dtype=np.float32))
            kinds.append("dense")
            settings["encoder"] = type(encoder).__name__
        settings["text_columns"] = list(table.text_columns)
    if table.embedding_column is not None:
        parts.append(table.embeddings())
        kinds.append("dense")
        settings["embedding_column"] = table.embedding_column
    if table.feature_columns:
        parts.append(TabularEncoder().fit_transform(table.frame[table.feature_columns]))
        kinds.append("tabular")
        settings["feature_columns"] = list(table.feature_columns)
    if not parts:
        raise LabelwiseError("Nothing to learn from: name --text, --features or --embeddings columns, or give "
                             "--pred-probs.")
    if len(parts) == 1:
        return parts[0], kinds[0], settings
    if any(sparse.issparse(p) for p in parts):
        return sparse.hstack([sparse.csr_matrix(p) for p in parts]).tocsr(), "sparse", settings
    return np.hstack(parts), "dense" if "tabular" not in kinds else "tabular", settings


def _user_pred_probs(pred_probs, table: LabelledTable, n_input_rows: Optional[int]) -> np.ndarray:
    """Read the user's probabilities, align columns to the classes and rows to the kept rows."""
    classes = list(table.labels.classes)
    source = "pred_probs"
    if isinstance(pred_probs, (str, Path)):
        source = str(pred_probs)
        path = Path(pred_probs)
        if path.suffix == ".npy":
            if not path.exists():
                raise DataError(f"pred_probs file not found: {path}. Check the path passed to --pred-probs.")
            pred_probs = np.load(path, allow_pickle=False)
        else:
            pred_probs = read_table(path)
    if isinstance(pred_probs, pd.DataFrame):
        names = [str(c) for c in pred_probs.columns]
        if set(classes) <= set(names):
            pred_probs = pred_probs.set_axis(names, axis=1)[classes]
        pred_probs = pred_probs.to_numpy()
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise DataError(
            f"{source} has shape {probs.shape}, but the label column has {len(classes)} classes: give one column per "
            f"class, in sorted order ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}) or named after "
            "the classes."
        )
    n_expected = n_input_rows if n_input_rows is not None else len(table)
    if probs.shape[0] == n_expected:
        probs = probs[np.asarray(table.row_ids)] if n_expected != len(table) else probs
    elif probs.shape[0] != len(table):
        raise DataError(f"{source} has {probs.shape[0]} rows but the table has {n_expected}: give one row per input row.")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1 + 1e-6:
        raise DataError(f"{source} must hold probabilities in [0, 1] (softmax outputs, not logits), with no NaN.")
    if not table.labels.multi_label:
        sums = probs.sum(axis=1, keepdims=True)
        if np.any(np.abs(sums - 1) > 1e-2):
            raise DataError(f"rows of {source} must sum to 1 (found sums from {sums.min():.3f} to {sums.max():.3f}).")
        probs = probs / sums
    return probs
