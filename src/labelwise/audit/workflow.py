"""The audit workflow: a table in, an :class:`AuditResult` out.

read and validate the table -> features (text embeddings, TF-IDF, tabular, or given embeddings)
-> out-of-fold probabilities (or the user's own) -> confident learning -> per-row, per-class, noise matrix
(multi-label: one-vs-rest per class, with the missing and spurious labels of each row, label cardinality and
co-occurrence in ``result.checks.multilabel``).
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from labelwise.audit import label_errors
from labelwise.audit.out_of_fold import LARGE_TABLE_ROWS, default_classifier, out_of_fold_probabilities
from labelwise.audit.checks import ALL_CHECKS, CheckInputs, multilabel_check, run_checks
from labelwise.audit.feature_space import ENCODERS, features_for
from labelwise.audit.result import AuditResult
from labelwise.data import LabelledTable, load_labelled_table, read_table
from labelwise.data.other_split import load_other_split
from labelwise.errors import DataError, LabelwiseError, ParameterError
from labelwise.progress import ProgressCallback



def audit_dataset(
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
    sep: Optional[str] = None,
    encoder="minilm",
    classifier=None,
    n_folds: Optional[int] = None,
    filter_by: Optional[str] = None,
    quality_method: Optional[str] = None,
    random_state: Optional[int] = 0,
    progress: Optional[ProgressCallback] = None,
    compare_to=None,
    compare_pred_probs=None,
    checks: Sequence[str] = ALL_CHECKS,
    duplicate_threshold: float = 0.95,
    executor=None,
) -> AuditResult:
    """Find the rows whose label is probably wrong, and check the table's health.

    data: a path (CSV, TSV, Parquet, JSON Lines), a pandas DataFrame, or a :class:`LabelledTable`.
    label: the label column. Then say what the model should read, one or more of:
      ``text`` (column(s) of text, embedded with ``encoder``), ``features`` (numeric/categorical columns),
      ``embeddings`` (a column of precomputed vectors). With none of them the columns are read by
      :mod:`labelwise.data.columns`: a single column of free text is the text (a note in ``settings["notes"]``
      says so), several stop with a DataError naming them, otherwise every other column but an identifier is a
      feature. Free text is never one-hot encoded as a category.
    encoding, sep: how to read a CSV/TSV file (default UTF-8; the format's separator); kept in ``settings`` so that
      ``labelwise export`` writes the corrected copy the same way.
    pred_probs: your own out-of-sample probabilities instead of training a model: an (n_input_rows, k) array,
      a DataFrame or a .npy/.csv/.parquet path; columns in sorted class order, or named after the classes.
    encoder: ``"minilm"`` (default: offline all-MiniLM-L6-v2 sentence embeddings), ``"tfidf"``, or any object
      with ``encode(texts) -> (n, d)`` array.
    classifier: a scikit-learn classifier for the out-of-fold probabilities (default: logistic regression on
      embeddings/TF-IDF, gradient boosting on tabular features).
    n_folds: cross-validation folds; default 5, or 3 from 50,000 rows on (each model still trains on two thirds of
      at least 50,000 rows, so the probabilities barely change while the cost halves). When no class has as many
      rows as folds, the folds are cut to the largest class's size (at least 2; a note says so): that many already
      train each row's model on every other row of its class. More folds than rows, or classes of one row each,
      raise ParameterError / DataError.
    filter_by: how to pick the flagged rows, one of :data:`~labelwise.audit.label_errors.FILTERS`; default
      ``low_normalized_margin_calibrated`` (:data:`~labelwise.audit.label_errors.AUDIT_FILTER`): the rows with the
      lowest normalised margin (given class's probability minus the best other class's), as many as the estimated
      error rate times n; ``"prune_by_noise_rate"`` gives cleanlab's default set. A multi-label table is checked one
      class at a time (a row is flagged when any class is; ``result.checks.multilabel`` says which labels are missing
      or spurious), by default with ``prune_by_noise_rate``
      (:data:`~labelwise.audit.label_errors.MULTI_LABEL_AUDIT_FILTER`, cleanlab's multi-label default).
    quality_method: the per-row ``label_quality`` score, one of :data:`~labelwise.audit.label_errors.SCORES`;
      default: the score the filter ranks by (:func:`~labelwise.audit.label_errors.score_of`: ``normalized_margin``
      with the default filter), so that the flagged rows are the lowest-quality ones and reviewing worst-first
      reaches every flagged row before any other; ``self_confidence`` (cleanlab's) with cleanlab's filters.
    progress: ``progress(stage, done, total)`` callback for long steps.
    compare_to: another split of the same data (path or DataFrame, same columns; its label column is optional) to
      check for label shift and train/test leakage; compare_pred_probs: its probabilities when you give your own.
    checks: which other checks to run (``balance``, ``columns``, ``duplicates``, ``outliers``, ``shift``,
      ``error_interval``); duplicate_threshold: cosine similarity for near-duplicates, in (0, 1].
    executor: where the heavy stages run (embedding, out-of-fold training, the confident-learning counts, the
      neighbour search of duplicates and outliers): a :class:`labelwise.scale.executor.Executor`; default
      ``LocalExecutor()``, this process. With ``executor_for("auto")`` (``labelwise[ray]``) they run on a Ray
      cluster, with the same flags.

    Options are checked before any work is done: a wrong one raises :class:`ParameterError`.
    """
    for_check = label_errors.AUDIT_FILTER if filter_by is None else filter_by
    check_options(encoder, n_folds, for_check, quality_method or label_errors.score_of(for_check), random_state,
                  checks, duplicate_threshold, compare_to, compare_pred_probs)
    table = _as_table(data, label, text, features, embeddings, multi_label, delimiter, drop_missing, encoding, sep)
    if filter_by is None:
        filter_by = label_errors.MULTI_LABEL_AUDIT_FILTER if table.labels.multi_label else label_errors.AUDIT_FILTER
    if quality_method is None:
        quality_method = label_errors.score_of(filter_by)
    codes = table.labels.codes
    k = table.labels.n_classes
    n_input_rows = table.n_input_rows
    notes = list(table.notes)

    if executor is None:
        from labelwise.scale.executor import LocalExecutor

        executor = LocalExecutor()
    space, model = None, None
    if pred_probs is not None:
        probs = _user_pred_probs(pred_probs, table, n_input_rows)
        settings = {"pred_probs": "given by user"}
        has_inputs = table.text_columns or table.embedding_column or table.feature_columns
        wants_vectors = {"duplicates", "outliers"} & set(checks) or (compare_to is not None and "shift" in checks)
        if has_inputs and wants_vectors:
            try:  # for duplicates, outliers and leakage only: without usable features those checks are skipped
                space = features_for(table, encoder, progress, executor=executor)
            except LabelwiseError as err:
                settings["features_skipped"] = str(err)
    else:
        space = features_for(table, encoder, progress, executor=executor)
        model = classifier if classifier is not None else default_classifier(
            space.kind, n_rows=len(table), random_state=random_state)
        n_folds = _feasible_folds(n_folds, table, notes)
        if table.labels.multi_label:  # one-vs-rest folds: in this process
            probs = out_of_fold_probabilities(space.X, codes, n_classes=k, classifier=model, n_folds=n_folds,
                                              multi_label=True, random_state=random_state, progress=progress)
        else:  # codes cover every class (classes come from the labels), so k = codes.max() + 1
            probs = executor.out_of_fold(space.X, codes, classifier=model, n_folds=n_folds,
                                         random_state=random_state, progress=progress)
        settings = dict(space.settings, classifier=type(model).__name__, n_folds=n_folds, random_state=random_state)
    # how the table was read, so `labelwise export` writes its corrected copy the same way
    settings.update({k: v for k, v in (("encoding", encoding), ("sep", sep), ("label_delimiter", delimiter))
                     if v is not None})
    if notes:
        settings["notes"] = notes

    multi = table.labels.multi_label
    # the confident joint, counted by the executor (map + merge on a cluster); multi-label: one-vs-rest, here
    joint = None if multi else executor.confident_counts(codes, probs).calibrated_joint()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were not checked.*")
        if multi:  # which label of each row: one-vs-rest flags per class; a row is flagged when any of them is
            per_class = label_errors.find_label_issues_per_class(codes, probs, filter_by=filter_by)
            is_issue = per_class.any(axis=1)
        else:
            is_issue = label_errors.find_label_issues(codes, probs, filter_by=filter_by, confident_joint=joint)
    quality = label_errors.label_quality_scores(codes, probs, method=quality_method, multi_label=multi)
    if multi:
        suggested, noise = probs >= 0.5, None
    else:
        suggested = probs.argmax(axis=1)
        noise = label_errors.estimate_noise(codes, probs, confident_joint=joint)
    result = AuditResult(
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
        source_path=str(Path(table.source).resolve()) if Path(table.source).is_file() else None,
        n_input_rows=n_input_rows,
        texts=table.texts() if table.text_columns else None,
        settings=settings,
    )
    counts = codes.sum(axis=0) if multi else np.bincount(codes, minlength=k)
    result.classes_too_small = [table.labels.classes[i] for i in np.flatnonzero((counts > 0) & (counts < 2))]
    other = None
    if compare_to is not None:
        other = _as_table(compare_to, table.labels.name, table.text_columns or None, table.feature_columns or None,
                          table.embedding_column, table.labels.multi_label, delimiter, True, encoding, sep,
                          labels_optional=True)
    inputs = CheckInputs(table, codes, probs, result.classes, multi_label=multi, space=space, model=model, other=other,
                         other_pred_probs=compare_pred_probs, features_skipped=settings.get("features_skipped"),
                         random_state=random_state, progress=progress, executor=executor)
    result.checks = run_checks(inputs, checks=checks, duplicate_threshold=duplicate_threshold)
    if multi:
        result.checks.add(multilabel_check(codes, per_class, result.classes, delimiter or "|"))
    return result


def check_options(encoder, n_folds, filter_by, quality_method, random_state, checks, duplicate_threshold,
                   compare_to, compare_pred_probs) -> None:
    """Refuse a wrong option before reading the data (one ParameterError naming the option and what it takes)."""
    usable = encoder in ENCODERS if isinstance(encoder, str) else hasattr(encoder, "encode") or hasattr(
        encoder, "fit_transform")
    if not usable:
        raise ParameterError(f"encoder must be one of {', '.join(ENCODERS)}, or an object with encode(texts); got "
                             f"{encoder!r}.")
    if n_folds is not None and (not _is_int(n_folds) or n_folds < 2):
        raise ParameterError(f"n_folds (--folds) must be an integer of at least 2; got {n_folds!r}.")
    if filter_by not in label_errors.FILTERS:
        raise ParameterError(f"filter_by (--filter-by) must be one of {', '.join(label_errors.FILTERS)}; got "
                             f"{filter_by!r}.")
    if quality_method not in label_errors.SCORES:
        raise ParameterError(f"quality_method must be one of {', '.join(label_errors.SCORES)}; got {quality_method!r}.")
    if random_state is not None and (not _is_int(random_state) or not 0 <= random_state < 2**32):
        raise ParameterError(f"random_state (--random-state) must be None or an integer from 0 to 2**32 - 1; got "
                             f"{random_state!r}.")
    if isinstance(checks, str):
        raise ParameterError(f"checks is a list of check names, e.g. checks=[{checks!r}]; got the string {checks!r}.")
    unknown = [c for c in checks if c not in ALL_CHECKS]
    if unknown:
        raise ParameterError(f"unknown checks {unknown}: give a list of some of {', '.join(ALL_CHECKS)}.")
    if not isinstance(duplicate_threshold, numbers.Real) or not 0 < duplicate_threshold <= 1:
        raise ParameterError(f"duplicate_threshold is a cosine similarity in (0, 1]; got {duplicate_threshold!r}.")
    if compare_pred_probs is not None:
        if compare_to is None:
            raise ParameterError("compare_pred_probs are the probabilities of the split given as compare_to; give both.")
        try:
            np.asarray(compare_pred_probs, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError("compare_pred_probs must be an (n, k) array of probabilities (numbers).") from None


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _as_table(data, label, text, features, embeddings, multi_label, delimiter, drop_missing, encoding, sep=None,
              labels_optional: bool = False):
    if isinstance(data, LabelledTable):
        return data
    if label is None:
        raise ParameterError("Say which column holds the labels: label=... (library) or --label COLUMN (CLI).")
    if labels_optional:
        return load_other_split(data, label=label, text=text, features=features, embeddings=embeddings,
                                encoding=encoding, sep=sep)
    return load_labelled_table(
        data, label=label, text=text, features=list(features) if features else None, embeddings=embeddings,
        multi_label=multi_label, delimiter=delimiter, drop_missing=drop_missing, encoding=encoding, sep=sep,
    )


def _feasible_folds(n_folds: Optional[int], table: LabelledTable, notes: list) -> int:
    """The folds to cross-validate ``table`` with: ``n_folds`` (None: the default), checked against the rows and
    cut to the largest class's size when no class has that many rows (a note in ``notes`` says so).

    Stratified folds put each row of a class in a different fold while the class lasts; with classes of at most c
    rows, c folds already train each row's model on all c - 1 other rows of its class, and more would add nothing
    (scikit-learn refuses them). A class of one row can never be checked (see ``AuditResult.classes_too_small``);
    when every class has one row, no model can learn any of them.
    """
    counts = None if table.labels.multi_label else np.bincount(table.labels.codes, minlength=table.labels.n_classes)
    return feasible_folds(n_folds, len(table), counts, table.labels.name, table.source, notes)


def feasible_folds(n_folds: Optional[int], n: int, counts: Optional[np.ndarray], label: str, source: str,
                   notes: list) -> int:
    """:func:`_feasible_folds` from the rows ``n`` and the rows per class ``counts`` ((k,) int; None for
    multi-label); ``label`` and ``source`` name the column and table in messages."""
    if n_folds is not None and n_folds > n:
        raise ParameterError(f"--folds {n_folds} (n_folds) is more than the {n} rows audited; each fold needs rows "
                             f"to test. Use at most {n} folds (5 is usual).")
    asked = n_folds if n_folds is not None else (5 if n < LARGE_TABLE_ROWS else 3)
    if counts is None:
        return min(asked, n)
    largest = int(counts.max())
    if largest < 2:
        raise DataError(
            f"Every class in label column '{label}' of {source} has a single row ({n} rows, "
            f"{n} classes), so no model can learn any class from another row. Check that --label names the class "
            "column (an identifier or free text differs in every row), or merge rare classes into larger ones."
        )
    if largest >= asked:
        return asked
    notes.append(f"cross-validation used {largest} folds instead of {asked}: no class has more than {largest} rows, "
                 f"so {largest} folds already train each row's model on every other row of its class.")
    return largest


def _user_pred_probs(pred_probs, table: LabelledTable, n_input_rows: Optional[int]) -> np.ndarray:
    """Read the user's probabilities, align columns to the classes and rows to the kept rows."""
    classes = list(table.labels.classes)
    source = "pred_probs"
    if isinstance(pred_probs, (str, Path)):
        source = str(pred_probs)
        path = Path(pred_probs)
        if path.suffix == ".npy":
            if not path.is_file():
                raise DataError(f"pred_probs file not found: {path}. Check the path passed to --pred-probs.")
            try:
                pred_probs = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # not a .npy file, truncated, or pickled objects
                raise DataError(f"Cannot read {path} as a NumPy .npy array of numbers ({exc}). Save the "
                                "probabilities with numpy.save(path, array) from a float array.") from None
        else:
            pred_probs = read_table(path)
    if isinstance(pred_probs, pd.DataFrame):
        names = [str(c) for c in pred_probs.columns]
        if set(classes) <= set(names):
            pred_probs = pred_probs.set_axis(names, axis=1)[classes]
        pred_probs = pred_probs.to_numpy()
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{source} must hold numbers (probabilities); it holds values that are not numbers, or rows "
                        "of different lengths.") from None
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
    return checked_probabilities(probs, source, table.labels.multi_label)


def checked_probabilities(probs: np.ndarray, source: str, multi_label: bool = False) -> np.ndarray:
    """``probs`` ((m, k) float64 rows of the user's probabilities, named ``source`` in messages) checked to be
    probabilities and, single-label, divided by their row sums (DataError for a row that does not sum to 1 +- 0.01)."""
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1 + 1e-6:
        raise DataError(f"{source} must hold probabilities in [0, 1] (softmax outputs, not logits), with no NaN.")
    if not multi_label:
        sums = probs.sum(axis=1, keepdims=True)
        if np.any(np.abs(sums - 1) > 1e-2):
            raise DataError(f"rows of {source} must sum to 1 (found sums from {sums.min():.3f} to {sums.max():.3f}).")
        probs = probs / sums
    return probs
