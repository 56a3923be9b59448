"""Correct a fitted classifier, batch by batch, for a stream of new rows whose class mix changed (label shift).

Workflow floor: tables and a model file in, an :class:`AdaptResult` out. The algorithm is
:class:`labelwise.learn.adapt.LabelShiftClassifier`: the target prior re-estimated by EM as each batch arrives
(the estimator of :mod:`labelwise.audit.label_shift`) and the predictions re-weighted in closed form,
``p_t(y | x) ∝ p_s(y | x) prior_t(y) / prior_s(y)`` (Saerens et al. 2002; the baseline of the label shift adapter,
Park et al., ICCV 2023).

What the model is (``model``):

- a fitted scikit-learn classifier (a ``Pipeline`` too) with ``predict_proba`` and ``classes_``, or a path to one
  saved with ``joblib.dump(model, "model.joblib")``. **Loading a joblib or pickle file runs code stored in it:
  load only files you made or trust.** Its inputs are the ``text`` column (a text pipeline), the ``features``
  columns, else the columns it was fitted on (``feature_names_in_``), else every column but the label;
- ``"columns"``: no model; both tables already carry the model's probabilities, one column per class named
  ``proba_prefix + class`` (``proba_cat``, ``proba_dog``, ...).

The source table holds labelled rows of the distribution the model was trained on (its training rows, or better a
held-out part of them): they give the source prior (every class must occur) and, with ``calibrate``, the
calibration. The stream's label column, when it has one, is used only to score the predictions.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import pandas as pd

from labelwise.data.io import read_table, write_table_atomic
from labelwise.data.labels import is_missing_cell, label_cells
from labelwise.data.locate import DATAFRAME_SOURCE, describe_row
from labelwise.data.pickled_model import load_pickled_model
from labelwise.errors import DataError, ParameterError
from labelwise.progress import ProgressCallback, report

__all__ = ["AdaptResult", "adapt_stream", "load_model", "PROBABILITY_COLUMNS"]

PROBABILITY_COLUMNS = "columns"
"""The ``model`` that means: read the probabilities from the tables' ``proba_prefix + class`` columns."""

Table = Union[str, os.PathLike, pd.DataFrame]


@dataclass(repr=False)
class AdaptResult:
    """The stream's predictions after label-shift correction, and the prior estimated after each batch.

    classes:      the k class names (as text), in the model's order
    source_prior: (k,) label frequencies of the source rows
    priors:       one row per batch: ``batch`` (1-based), ``first_row``, ``last_row`` (0-based rows of the stream),
                  ``rows``, ``prior_<class>`` (the estimate after this batch), and, when the stream is labelled,
                  ``accuracy_source`` / ``accuracy_adapted`` on the batch
    predictions:  one row per stream row: ``row``, ``batch``, ``prediction`` (corrected), ``source_prediction``
                  (the model's own), ``confidence`` (corrected probability of the prediction), ``proba_<class>``
    stream_prior: (k,) label frequencies of the stream when it is labelled (the truth the estimate aims at), else
                  None
    """

    classes: list
    source_prior: np.ndarray
    priors: pd.DataFrame
    predictions: pd.DataFrame
    stream_prior: Optional[np.ndarray] = None

    @property
    def prior(self) -> np.ndarray:
        """(k,) the estimate after the last batch."""
        return self.priors[[f"prior_{c}" for c in self.classes]].to_numpy()[-1]

    def save(self, directory) -> list[Path]:
        """Write ``priors.csv`` and ``predictions.csv`` into ``directory`` (created), atomically; class names in
        cells are neutralised against spreadsheet formulas, except those that are plain numbers (``-1`` is a label,
        not a formula, and is written as it was read). Returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return [write_table_atomic(_neutralise_text(frame), directory / name)
                for name, frame in (("priors.csv", self.priors), ("predictions.csv", self.predictions))]

    def __repr__(self) -> str:
        moved = np.argsort(-np.abs(self.prior - self.source_prior), kind="stable")[:3]
        shown = ", ".join(f"{self.classes[j]}: {self.source_prior[j]:.3f} -> {self.prior[j]:.3f}" for j in moved)
        return (f"AdaptResult({len(self.predictions)} rows in {len(self.priors)} batches, {len(self.classes)} classes; "
                f"largest prior moves: {shown})")


PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _neutralise_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells went through :func:`labelwise.data.formula.neutralise`, except plain
    numbers such as ``-1`` or ``+2.5`` (a spreadsheet reads them as numbers, never as formulas)."""
    from labelwise.data.formula import neutralise

    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [neutralise(v) if isinstance(v, str) and not PLAIN_NUMBER.fullmatch(v) else v
                             for v in frame[column]]
    return frame


def load_model(path) -> Any:
    """The fitted classifier saved at ``path`` with joblib (or pickle). Loading runs code stored in the file: only
    load files you trust. DataError when the file is missing, is not a joblib/pickle file, or holds something
    without ``predict_proba`` and ``classes_``."""
    model = load_pickled_model(path, missing=f"model file {path} does not exist. Give a classifier saved with "
                               f"joblib.dump(model, 'model.joblib'), or '{PROBABILITY_COLUMNS}' to read probability "
                               "columns.")
    check_classifier(model, str(path))
    return model


def check_classifier(model: Any, where: str) -> None:
    if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise DataError(f"{where} holds a {type(model).__name__}, not a fitted classifier with predict_proba and "
                        "classes_. Fit it first (a scikit-learn classifier or pipeline), then save it with joblib.")


def _read(table: Table, encoding: Optional[str], sep: Optional[str]) -> tuple[pd.DataFrame, str]:
    if isinstance(table, pd.DataFrame):
        return table.reset_index(drop=True), DATAFRAME_SOURCE
    return read_table(table, encoding=encoding, sep=sep), str(table)


def _need(frame: pd.DataFrame, columns: Sequence[str], source: str, hint: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise DataError(f"{source} has no column {shown} ({hint}); its columns are "
                        f"{', '.join(map(str, frame.columns[:20]))}.")


def _as_text(values: Sequence, name: str, source: str) -> list:
    """Labels as text, the way every labelwise command reads them (1.0 is "1")."""
    return label_cells(pd.Series(list(values), dtype=object), False, None, name=name, source=source,
                       row_ids=np.arange(len(values)))


class _Probabilities:
    """The model's probabilities (n, k) for rows of a table, whichever kind of model it is."""

    def __init__(self, model: Any, source: pd.DataFrame, source_name: str, *, label: str,
                 features: Optional[Sequence[str]], text: Optional[str], proba_prefix: str):
        self.model = model
        if isinstance(model, str):
            if model != PROBABILITY_COLUMNS:
                raise ParameterError(f"model must be a fitted classifier, a joblib file, or '{PROBABILITY_COLUMNS}'; "
                                     f"got {model!r}.")
            self.columns = [c for c in map(str, source.columns) if c.startswith(proba_prefix)]
            if len(self.columns) < 2:
                raise DataError(f"{source_name} has {len(self.columns)} column(s) starting with {proba_prefix!r}; "
                                f"with model '{PROBABILITY_COLUMNS}' each class needs a probability column named "
                                f"{proba_prefix}<class> (set the prefix with --proba-prefix).")
            self.classes = [c[len(proba_prefix):] for c in self.columns]
            self.text = None
            return
        check_classifier(model, type(model).__name__)
        self.classes = _as_text(np.asarray(model.classes_).tolist(), "classes_", "the model")
        self.text = text
        if text is not None:
            self.columns = [text]
        elif features:
            self.columns = list(features)
        elif hasattr(model, "feature_names_in_"):
            self.columns = [str(c) for c in model.feature_names_in_]
        else:
            self.columns = [c for c in source.columns if c != label]
        self.named = text is None and (bool(features) or hasattr(model, "feature_names_in_"))
        expected = getattr(model, "n_features_in_", None)
        if text is None and expected is not None and expected != len(self.columns):
            raise DataError(f"the model takes {expected} features but {len(self.columns)} columns were chosen from "
                            f"{source_name}; name the model's input columns with --features (or --text).")

    def __call__(self, frame: pd.DataFrame, source: str, first_row: int = 0) -> np.ndarray:
        """(n, k) probabilities of ``frame``'s rows, which are rows ``first_row``... of ``source`` (for messages)."""
        hint = ("the model's probability columns" if isinstance(self.model, str) else
                "the model's text column" if self.text is not None else "a model input")
        _need(frame, self.columns, source, hint)
        if isinstance(self.model, str):
            try:
                probs = frame[self.columns].to_numpy(dtype=np.float64, na_value=np.nan)
            except (ValueError, TypeError):
                raise DataError(f"the probability columns of {source} ({', '.join(self.columns[:3])}, ...) hold "
                                "values that are not numbers; each must hold the model's probability of its class."
                                ) from None
        else:
            x = frame[self.text] if self.text is not None else frame[self.columns]
            try:
                probs = np.asarray(self.model.predict_proba(x if self.named or self.text else x.to_numpy()),
                                   dtype=np.float64)
            except Exception as exc:  # the user's model: any failure on these rows is a mismatch of inputs
                raise DataError(f"the model could not score the rows of {source} ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:160]}); give its input columns with --features, or "
                                "--text COLUMN for a text pipeline.") from None
        bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | ~(probs.sum(axis=1) > 0)
        if bad.any():
            row = first_row + int(np.flatnonzero(bad)[0])
            raise DataError(f"probabilities at {describe_row(source, row)} are missing, negative or all zero; "
                            "every row needs one probability per class.")
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)


def _codes(frame: pd.DataFrame, label: str, classes: list, source: str, *, required: bool) -> Optional[np.ndarray]:
    """(n,) positions in ``classes`` of the label column; DataError on a missing cell or a class the model lacks."""
    if label not in frame.columns:
        if required:
            _need(frame, [label], source, "the label column, --label")
        return None
    cells = label_cells(frame[label], False, None, name=label, source=source, row_ids=np.arange(len(frame)))
    index = {c: j for j, c in enumerate(classes)}
    for row, cell in enumerate(cells):
        if cell is None or is_missing_cell(cell):
            raise DataError(f"the label in column {label!r} at {describe_row(source, row)} is missing; every row of "
                            f"{source} needs a label (or drop the column from the stream).")
        if cell not in index:
            shown = ", ".join(classes[:10]) + (" ..." if len(classes) > 10 else "")
            raise DataError(f"the label {cell!r} in column {label!r} at {describe_row(source, row)} is not a class "
                            f"of the model ({shown}); the stream can only hold classes the model knows.")
    return np.array([index[c] for c in cells], dtype=np.int64)


def adapt_stream(model: Any, source: Table, stream: Table, *, label: str, features: Optional[Sequence[str]] = None,
                 text: Optional[str] = None, proba_prefix: str = "proba_", batch_size: int = 256,
                 momentum: float = 0.9, prior_update: str = "em", calibrate: bool = False,
                 encoding: Optional[str] = None, sep: Optional[str] = None,
                 progress: Optional[ProgressCallback] = None) -> AdaptResult:
    """Run ``model`` over ``stream`` in batches of ``batch_size`` rows, re-estimating the class prior after each
    batch and re-weighting that batch's predictions (see the module docstring for what ``model`` may be).

    source, stream: tables (paths read with :func:`labelwise.data.io.read_table` with ``encoding`` and ``sep``, or
    DataFrames); label: the
    label column of the source (and of the stream, optionally, for scoring); momentum, prior_update: of the prior
    estimate (:class:`labelwise.learn.adapt.StreamingPriorEstimator`); calibrate: bias-corrected temperature
    scaling fitted on the source rows first (use held-out rows). progress: ``progress("stream", done, total)``.
    """
    from labelwise.learn.adapt import LabelShiftClassifier

    if int(batch_size) < 1:
        raise ParameterError(f"batch size must be at least 1; got {batch_size}.")
    if text is not None and features:
        raise ParameterError("give the model's input as --text (one text column) or --features, not both.")
    if isinstance(model, (str, os.PathLike)) and str(model) != PROBABILITY_COLUMNS:
        model = load_model(model)
    source_frame, source_name = _read(source, encoding, sep)
    stream_frame, stream_name = _read(stream, encoding, sep)
    if len(stream_frame) == 0:
        raise DataError(f"{stream_name} has no rows; give the stream's rows to correct.")
    probabilities = _Probabilities(model, source_frame, source_name, label=label, features=features, text=text,
                                   proba_prefix=proba_prefix)
    classes = probabilities.classes
    y_source = _codes(source_frame, label, classes, source_name, required=True)
    y_stream = _codes(stream_frame, label, classes, stream_name, required=False)
    absent = [classes[j] for j in np.flatnonzero(np.bincount(y_source, minlength=len(classes)) == 0)]
    if absent:
        raise DataError(f"{source_name} has no row of class {', '.join(map(repr, absent[:5]))}; the source rows must "
                        "show every class the model predicts (they give the prior it was trained under).")
    corrector = LabelShiftClassifier("precomputed", classes=np.arange(len(classes)), momentum=momentum,
                                     prior_update=prior_update, calibrate=calibrate)
    corrector.fit(probabilities(source_frame, source_name), y_source)
    n, k = len(stream_frame), len(classes)
    adapted, original, batches = np.empty((n, k)), np.empty((n, k)), []
    total = -(-n // int(batch_size))
    for b, start in enumerate(range(0, n, int(batch_size))):
        stop = min(start + int(batch_size), n)
        probs = corrector.source_proba(probabilities(stream_frame.iloc[start:stop], stream_name, start))
        original[start:stop] = probs
        adapted[start:stop] = corrector.update(probs)
        entry = {"batch": b + 1, "first_row": start, "last_row": stop - 1, "rows": stop - start,
                 **{f"prior_{c}": p for c, p in zip(classes, corrector.prior_)}}
        if y_stream is not None:
            truth = y_stream[start:stop]
            entry["accuracy_source"] = float(np.mean(original[start:stop].argmax(axis=1) == truth))
            entry["accuracy_adapted"] = float(np.mean(adapted[start:stop].argmax(axis=1) == truth))
        batches.append(entry)
        report(progress, "stream", b + 1, total)
    names = np.array(classes, dtype=object)
    predictions = pd.DataFrame({"row": np.arange(n), "batch": np.repeat(np.arange(1, total + 1), batch_size)[:n],
                                "prediction": names[adapted.argmax(axis=1)],
                                "source_prediction": names[original.argmax(axis=1)],
                                "confidence": adapted.max(axis=1)})
    for j, c in enumerate(classes):
        predictions[f"proba_{c}"] = adapted[:, j]
    stream_prior = None if y_stream is None else np.bincount(y_stream, minlength=k) / n
    return AdaptResult(classes=list(classes), source_prior=corrector.source_prior_, priors=pd.DataFrame(batches),
                       predictions=predictions, stream_prior=stream_prior)
