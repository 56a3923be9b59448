"""The audit for tables larger than memory: read in record batches, embeddings and probabilities on disk.

Stages (each a function the Ray backend can replace; ``progress(stage, rows_done, rows)`` for each):

1. ``scan``: one pass over the label column (and the text) builds the sorted classes and runs the in-memory loader's
   checks per batch (:class:`labelwise.data.batches.LabelScan`).
2. ``embedding``: a second pass codes the labels, hashes each row's normalised text (for exact duplicates) and
   embeds the text batch by batch into ``WORK/embeddings.npy`` (:func:`embed_batches`). A marker
   (``WORK/progress.json``, written atomically after each batch) makes a rerun after a crash continue from the rows
   already embedded, when the input files, the columns and the encoder are unchanged.
3. ``cross-validation``: out-of-fold probabilities into ``WORK/pred_probs.npy`` (:func:`out_of_fold_on_disk`), with
   the folds of the in-memory audit. The model is the in-memory audit's (scikit-learn's logistic regression on the
   features read whole) when the training rows fit the memory budget, else the same objective trained by minibatches
   (:class:`~labelwise.audit.minibatch_logistic.MinibatchLogisticRegression`); each finished fold is recorded.
4. ``label errors``: :func:`labelwise.audit.label_errors.find_label_issues` and ``label_quality_scores`` on the
   memory-mapped probabilities (streamed in chunks by that module), ``estimate_noise`` for the noise matrix.
5. ``neighbours``: :func:`labelwise.sharded_neighbours.knn_sharded` over the embeddings on disk, one shard at a time;
   near-duplicates (:func:`labelwise.audit.duplicates.find_near_duplicates`, exact-text copies by 64-bit hashes of the
   normalised text) and outliers (:func:`labelwise.audit.outliers.outlier_scores`) from the same lists, as in memory.
6. ``writing``: a last pass over the input writes ``issues.parquet`` row group by row group (and ``issues.csv``,
   ``top_suggestions.parquet``) to temporary files renamed at the end, then ``arrays.npz``, ``pred_probs.npy``,
   ``per_class.csv``, ``noise_matrix.csv`` and ``summary.json``: the folder :meth:`AuditResult.load` and
   ``labelwise review`` read.

Memory: see :mod:`labelwise.audit.memory_budget`. Not done out of core: multi-label columns, tabular ``features``
and ``embeddings`` columns, the TF-IDF encoder (its vocabulary is fitted on the whole table: use ``minilm`` or
``hashing``), ``compare_to`` (label shift, leakage), and the ``columns`` and ``error_interval`` checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from labelwise.audit import label_errors
from labelwise.audit.checks import (
    AuditChecks, BalanceCheckResult, DuplicatesCheckResult, DuplicateSummary, OutliersCheckResult,
    OutlierSummary, Skipped, SkipReason,
)
from labelwise.audit.checks.base import NEIGHBOURS
from labelwise.audit.composition import class_balance
from labelwise.audit.disk_rows import DiskRows, create_rows
from labelwise.audit.duplicates import conflicting_duplicates, find_near_duplicates, rows_in_pairs
from labelwise.audit.memory_budget import MemoryBudget, parse_memory
from labelwise.audit.outliers import outlier_scores
from labelwise.audit.result import PRED_PROBS_FILE, AuditResult
from labelwise.audit.workflow import check_options, checked_probabilities, feasible_folds
from labelwise.data.atomic import atomic_path, write_text_atomic
from labelwise.data.batches import LabelScan, TableBatches
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

__all__ = ["audit_out_of_core", "embed_batches", "out_of_fold_on_disk", "neighbours_on_disk", "OUT_OF_CORE_ENCODERS"]

OUT_OF_CORE_ENCODERS = ("minilm", "hashing")  # and any object with encode(texts)
OUT_OF_CORE_CHECKS = ("balance", "duplicates", "outliers")
WORK_DIR = ".work"
_PROGRESS = "progress.json"
_MINIBATCH_EPOCHS = 6


def audit_out_of_core(
    data,
    *,
    label: str,
    text: Sequence[str],
    out,
    encoder="minilm",
    pred_probs=None,
    memory_limit=None,
    drop_missing: bool = False,
    encoding: Optional[str] = None,
    sep: Optional[str] = None,
    n_folds: Optional[int] = None,
    filter_by: str = label_errors.AUDIT_FILTER,
    quality_method: Optional[str] = None,
    random_state: Optional[int] = 0,
    checks: Sequence[str] = OUT_OF_CORE_CHECKS,
    duplicate_threshold: float = 0.95,
    model: str = "auto",
    exact: Optional[bool] = None,
    work_dir=None,
    keep_work: bool = False,
    batch_rows: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
) -> AuditResult:
    """Audit ``data`` (a Parquet file, a Parquet dataset folder, or a CSV/TSV file) without holding it in memory, and
    write the audit folder ``out`` (see the module docstring).

    label, text: the label column and the text column(s) (joined with " | "). encoder: ``"minilm"``, ``"hashing"``
    or an object with ``encode(texts) -> (m, d)``. pred_probs: your own probabilities instead of a model: a ``.npy``
    file of shape (rows in the input, k), columns in sorted class order. memory_limit: bytes or a size such as
    ``"4GB"`` (default half the physical memory). model: ``"auto"`` (in memory when the features fit, else
    minibatches), ``"in_memory"`` or ``"minibatch"``. exact: exact neighbour search in every shard (None: exact up to
    ``labelwise.neighbours.EXACT_MAX_ROWS`` rows per shard, an index above). work_dir: where embeddings and
    probabilities are kept while the audit runs (default ``out/.work``); removed at the end unless ``keep_work``.
    batch_rows: rows read and embedded at a time (default: from the memory limit).
    The other options are those of :func:`labelwise.audit_dataset`.

    Returns the :class:`AuditResult` (``pred_probs`` memory-mapped from ``out/pred_probs.npy``, ``texts`` None: they
    are in ``issues.parquet``).
    """
    if quality_method is None:
        quality_method = label_errors.score_of(filter_by) if filter_by in label_errors.FILTERS else None
    limit = parse_memory(memory_limit)
    text = [text] if isinstance(text, str) else list(text or [])
    _check_options(text, encoder, pred_probs, checks, model, n_folds, filter_by, quality_method, random_state,
                   duplicate_threshold)
    out = Path(out)
    work = Path(work_dir) if work_dir is not None else out / WORK_DIR

    probe = TableBatches(data, label=label, text=text, batch_rows=MemoryBudget(limit, 0).batch_rows,
                         encoding=encoding, sep=sep)
    scan = LabelScan(label, text, drop_missing)
    for batch in probe:
        scan.update(batch)
        report(progress, "scan", scan.n_rows, scan.n_rows)  # rows read so far: the total is known at the end
    classes = scan.finish(str(data))
    work.mkdir(parents=True, exist_ok=True)  # after the scan: a table that fails its checks leaves no folder behind
    n_input = scan.n_rows
    n = n_input - scan.n_missing
    k = len(classes)
    enc = _encoder(encoder) if text else None
    budget = MemoryBudget(limit, n, dim=_dim(enc), n_classes=k)
    table = TableBatches(data, label=label, text=text, batch_rows=batch_rows or budget.batch_rows, encoding=encoding,
                         sep=sep)
    settings = {"out_of_core": True, **budget.describe(), "text_columns": text,
                "encoder": encoder if isinstance(encoder, str) else type(encoder).__name__}
    settings.update({key: v for key, v in (("encoding", encoding), ("sep", sep)) if v is not None})
    state = _Progress(work, {"input": table.fingerprint(), "encoder": getattr(enc, "model_id", settings["encoder"]),
                             "drop_missing": drop_missing, "batch_rows": table.batch_rows})

    want_vectors = bool(text) and bool({"duplicates", "outliers"} & set(checks))
    embeddings_path = work / "embeddings.npy"
    codes, row_ids, keys = embed_batches(table, classes, enc if (want_vectors or pred_probs is None) else None,
                                         embeddings_path, state, n, progress=progress)
    counts = np.bincount(codes, minlength=k)
    notes: list[str] = []
    if pred_probs is not None:
        probs_path = _given_probs(pred_probs, row_ids, n_input, k, work, budget.chunk_rows)
        settings["pred_probs"] = "given by user"
    else:
        folds = feasible_folds(n_folds, n, counts, label, str(data), notes)
        probs_path = work / PRED_PROBS_FILE
        with DiskRows(embeddings_path) as X:
            used = out_of_fold_on_disk(X, codes, k, probs_path, n_folds=folds, budget=budget, model=model,
                                       state=state, random_state=random_state, progress=progress)
        settings.update(classifier=used, n_folds=folds, random_state=random_state)
    if notes:
        settings["notes"] = notes

    probs = np.load(probs_path, mmap_mode="r")
    report(progress, "label errors", 0, 1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were not checked.*")
        is_issue = label_errors.find_label_issues(codes, probs, filter_by=filter_by)
    quality = label_errors.label_quality_scores(codes, probs, method=quality_method)
    noise = label_errors.estimate_noise(codes, probs)
    suggested = _argmax_chunks(probs, budget.chunk_rows)
    probs = np.load(probs_path, mmap_mode="r")  # a fresh mapping: the pages read above leave this process
    report(progress, "label errors", 1, 1)

    result = AuditResult(
        classes=list(classes), row_ids=row_ids, given=codes, suggested=suggested, label_quality=quality,
        is_issue=is_issue, pred_probs=probs, noise=noise, label_column=label, multi_label=False,
        filter_by=filter_by, quality_method=quality_method, source=str(data),
        source_path=str(Path(data).resolve()) if Path(data).is_file() else None, n_input_rows=n_input, texts=None,
        settings=settings,
    )
    result.classes_too_small = [classes[i] for i in np.flatnonzero((counts > 0) & (counts < 2))]
    result.checks = _checks(checks, codes, k, keys, embeddings_path if want_vectors else None, budget,
                            duplicate_threshold, exact, random_state, progress)
    _write_folder(result, table, out, probs_path, work, progress)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    result.pred_probs = np.load(out / PRED_PROBS_FILE, mmap_mode="r")
    return result


def _check_options(text, encoder, pred_probs, checks, model, n_folds, filter_by, quality_method, random_state,
                   duplicate_threshold):
    """The in-memory audit's checks of the options, and the out-of-core audit's own limits."""
    if encoder == "tfidf":
        raise ParameterError("--encoder tfidf fits its vocabulary on the whole table, which the out-of-core audit "
                             "never holds; use --encoder minilm (sentence embeddings) or hashing (fast, no model).")
    if not isinstance(encoder, str) and not hasattr(encoder, "encode"):
        raise ParameterError(f"the out-of-core audit embeds text batch by batch: give an encoder with encode(texts) "
                             f"(or minilm, hashing); got {type(encoder).__name__}.")
    check_options(encoder, n_folds, filter_by, quality_method, random_state, checks, duplicate_threshold, None, None)
    if not text and pred_probs is None:
        raise ParameterError("The out-of-core audit learns from text: name the text column(s) with --text (CLI) / "
                             "text= (library), or give --pred-probs.")
    if model not in ("auto", "in_memory", "minibatch"):
        raise ParameterError(f"model must be 'auto', 'in_memory' or 'minibatch'; got {model!r}.")


def _encoder(encoder):
    if isinstance(encoder, str):
        from labelwise.audit.feature_space import text_encoder

        return text_encoder(encoder)
    return encoder


def _dim(enc) -> int:
    if enc is None:
        return 0
    return int(getattr(enc, "dim", None) or enc.encode(["dimension probe"]).shape[1])


class _Progress:
    """The resume marker ``WORK/progress.json``: what was done for which input (``key``). A marker for another input
    or other settings is ignored (the work starts over)."""

    def __init__(self, work: Path, key: dict):
        self.path, self.key = work / _PROGRESS, key
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        self.state = saved.get("done", {}) if saved.get("key") == key else {}

    def get(self, name: str, default=None):
        return self.state.get(name, default)

    def set(self, name: str, value) -> None:
        self.state[name] = value
        write_text_atomic(self.path, json.dumps({"key": self.key, "done": self.state}))


def _text_key(text: str) -> Optional[int]:
    """A 64-bit hash of the text as the duplicates check normalises it (spacing, case); None for a blank text."""
    norm = re.sub(r"\s+", " ", text).strip().lower()
    if not norm:
        return None
    return int.from_bytes(hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def embed_batches(table: TableBatches, classes: list[str], encoder, path: Path, state: _Progress, n_rows: int,
                  progress: Optional[ProgressCallback] = None):
    """The second pass: per kept row, its class code, input row number and text hash; and the embeddings of its text
    written to ``path`` ((n_rows, d) float32 ``.npy``), resuming after the rows ``state`` says are done.

    Returns ``(codes (n,) int64, row_ids (n,) int64, keys (n,) object: text hash or None; None without text)``.
    """
    from labelwise.data.labels import label_cells

    index = {c: j for j, c in enumerate(classes)}
    codes = np.empty(n_rows, np.int64)
    row_ids = np.empty(n_rows, np.int64)
    keys = np.empty(n_rows, object) if table.text else None
    done = int(state.get("embedded_rows", 0)) if encoder is not None and path.is_file() else 0
    rows: Optional[DiskRows] = DiskRows(path, writable=True) if done else None
    kept = 0
    try:
        for batch in table:
            ids = np.arange(batch.first_row, batch.first_row + len(batch), dtype=np.int64)
            cells = label_cells(batch.labels, False, None, name=table.label, source=batch.source, row_ids=ids)
            keep = np.array([c is not None for c in cells], bool)
            m = int(keep.sum())
            codes[kept:kept + m] = [index[c] for c in cells if c is not None]
            row_ids[kept:kept + m] = batch.start + np.flatnonzero(keep)
            texts = [t for t, k in zip(batch.texts, keep) if k] if batch.texts is not None else None
            if keys is not None:
                keys[kept:kept + m] = [_text_key(t) for t in texts]
            if encoder is not None and kept + m > done and m:
                vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
                if rows is None:
                    rows = create_rows(path, n_rows, vectors.shape[1])
                rows.write(kept, vectors)
                done = kept + m
                state.set("embedded_rows", done)
            kept += m
            report(progress, "embedding", kept, n_rows)
    finally:
        if rows is not None:
            rows.close()
    return codes, row_ids, keys


def out_of_fold_on_disk(X: DiskRows, codes: np.ndarray, k: int, path: Path, *, n_folds: int, budget: MemoryBudget,
                        model: str = "auto", state: Optional[_Progress] = None, random_state: Optional[int] = 0,
                        progress: Optional[ProgressCallback] = None) -> str:
    """Out-of-fold probabilities of the rows of ``X`` ((n, d) on disk) written to ``path`` ((n, k) float64 ``.npy``).

    The folds are the in-memory audit's (stratified, shuffled with ``random_state``). ``model="auto"``: scikit-learn's
    default classifier on ``X`` read whole when ``budget.fits_in_memory`` (the probabilities then equal the in-memory
    audit's), else minibatch multinomial logistic regression with the same objective (C=1), ``_MINIBATCH_EPOCHS``
    passes in random order, chunk by chunk. Finished folds are recorded in ``state`` and skipped by a rerun.
    Returns the classifier's name.
    """
    from sklearn.model_selection import StratifiedKFold

    n = len(codes)
    in_memory = model == "in_memory" or (model == "auto" and budget.fits_in_memory)
    if in_memory:
        from labelwise.audit.out_of_fold import default_classifier, out_of_fold_probabilities

        clf = default_classifier("dense", n_rows=n, random_state=random_state)
        probs = out_of_fold_probabilities(X[0:n], codes, n_classes=k, classifier=clf, n_folds=n_folds,
                                          random_state=random_state, progress=progress)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, probs, allow_pickle=False)
        return type(clf).__name__
    from labelwise.audit.minibatch_logistic import MinibatchLogisticRegression

    done = list(state.get("folds_done", [])) if state is not None and path.is_file() else []
    if not done:
        create_rows(path, n, k, np.float64).close()
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    rng = np.random.default_rng(random_state)
    chunk = budget.chunk_rows
    report(progress, "cross-validation", len(done) * n, n_folds * n)
    with DiskRows(path, writable=True) as out:
        for fold, (train, test) in enumerate(splitter.split(np.zeros(n), codes)):
            seeds = rng.integers(0, 2**32, size=_MINIBATCH_EPOCHS + 1)  # drawn for every fold: resumes draw alike
            if fold in done:
                continue
            counts = np.bincount(codes[train], minlength=k)
            clf = MinibatchLogisticRegression(alpha=1.0 / len(train), random_state=random_state)
            for epoch in range(_MINIBATCH_EPOCHS):
                order = np.random.default_rng(seeds[epoch]).permutation(train)
                for lo in range(0, len(order), chunk):
                    part = order[lo:lo + chunk]
                    sorted_part = np.sort(part)  # read in file order, learn in random order
                    shuffle = np.random.default_rng(seeds[epoch] + lo).permutation(len(part))
                    clf.partial_fit(X.take(sorted_part)[shuffle], codes[sorted_part][shuffle],
                                    classes=np.arange(k), class_counts=counts)
                    report(progress, "cross-validation", fold * n + (epoch * len(order) + lo) * len(test) // (
                        _MINIBATCH_EPOCHS * max(len(order), 1)), n_folds * n)
                clf.end_epoch()
            for lo in range(0, len(test), chunk):
                rows = test[lo:lo + chunk]
                out.put(rows, clf.predict_proba(X.take(rows)))
            out.flush()
            done.append(fold)
            if state is not None:
                state.set("folds_done", done)
            report(progress, "cross-validation", (fold + 1) * n, n_folds * n)
    return MinibatchLogisticRegression.__name__


def _given_probs(pred_probs, row_ids: np.ndarray, n_input: int, k: int, work: Path, chunk_rows: int) -> Path:
    """The user's ``.npy`` probabilities ((n_input, k), sorted class order) of the kept rows, checked and divided by
    their row sums as the in-memory audit does, copied as float64 into ``work``; returns the copy's path."""
    path = Path(pred_probs)
    if path.suffix.lower() != ".npy":
        raise DataError(f"--pred-probs {path}: the out-of-core audit reads probabilities from a .npy file (one row "
                        "per input row, one column per class in sorted order); save them with numpy.save.")
    if not path.is_file():
        raise DataError(f"--pred-probs file not found: {path}. Check the path.")
    probs = np.load(path, mmap_mode="r")
    if probs.ndim != 2 or probs.shape != (n_input, k):
        raise ShapeError(f"--pred-probs {path} has shape {probs.shape}; the table has {n_input} rows and {k} classes, "
                         f"so give ({n_input}, {k}).")
    kept = work / "given_pred_probs.npy"  # the kept rows checked and normalised, as the in-memory audit reads them
    with DiskRows(path) as rows:
        out = create_rows(kept, len(row_ids), k, np.float64)
        for lo in range(0, len(row_ids), chunk_rows):
            block = rows.take(row_ids[lo:lo + chunk_rows]).astype(np.float64)
            out.write(lo, checked_probabilities(block, f"--pred-probs {path}"))
        out.close()
    return kept


def _argmax_chunks(probs, chunk: int) -> np.ndarray:
    out = np.empty(probs.shape[0], np.int64)
    for lo in range(0, probs.shape[0], chunk):
        out[lo:lo + chunk] = np.argmax(np.asarray(probs[lo:lo + chunk]), axis=1)
    return out


def neighbours_on_disk(path: Path, budget: MemoryBudget, *, exact: Optional[bool] = None, random_state=0,
                       progress: Optional[ProgressCallback] = None) -> tuple[np.ndarray, np.ndarray]:
    """Every stored row's ``NEIGHBOURS`` nearest other rows: (indices (n, 10) int64, similarities (n, 10) float32),
    searched shard by shard over the embeddings at ``path``."""
    from labelwise.sharded_neighbours import knn_sharded

    with DiskRows(path) as base:
        return knn_sharded(base, NEIGHBOURS, shard_rows=budget.shard_rows, query_rows=budget.query_rows, exact=exact,
                           random_state=random_state, progress=progress)


def _checks(checks, codes, k, keys, embeddings_path, budget, threshold, exact, random_state, progress) -> AuditChecks:
    out = AuditChecks()
    if "balance" in checks:
        out.add(BalanceCheckResult(class_balance(codes, k)))
    for name in ("columns", "error_interval", "shift"):
        if name in checks:
            out.add(Skipped(name, SkipReason.OUT_OF_CORE, "not run by the out-of-core audit (it needs the whole "
                                                          "table in memory)"))
    wanted = [c for c in ("duplicates", "outliers") if c in checks]
    if not wanted:
        return out
    if embeddings_path is None:
        for name in wanted:
            out.add(Skipped(name, SkipReason.NO_FEATURES, "not checked: no text to compare rows by"))
        return out
    neighbours = neighbours_on_disk(embeddings_path, budget, exact=exact, random_state=random_state,
                                    progress=progress)
    n = len(codes)
    if "duplicates" in wanted:
        found = find_near_duplicates(np.empty((n, 0), np.float32), threshold=threshold, exact_keys=keys,
                                     neighbours=neighbours)
        conflict = conflicting_duplicates(found.pairs, codes)
        conflicting_rows = rows_in_pairs(found.pairs, n, conflict)
        summary = DuplicateSummary(
            threshold=float(threshold), duplicate_rows=found.n_duplicate_rows, groups=found.n_groups,
            pairs_found=int(len(found.pairs)), conflicting_pairs=int(conflict.sum()),
            conflicting_rows=int(conflicting_rows.sum()))
        out.add(DuplicatesCheckResult(summary, is_duplicate_issue=conflicting_rows, duplicate_group=found.group,
                                      pairs=found.pairs, pair_similarity=found.similarity, pair_conflict=conflict))
    if "outliers" in wanted:
        found = outlier_scores(None, neighbours=neighbours)
        out.add(OutliersCheckResult(OutlierSummary(found.k, found.n_outliers, found.threshold),
                                    outlier_score=found.scores, outlier_distance=found.knn_distance,
                                    is_outlier_issue=found.is_outlier))
    return out


def _write_folder(result: AuditResult, table: TableBatches, out: Path, probs_path: Path, work: Path,
                  progress: Optional[ProgressCallback]) -> None:
    """The last pass: issues.parquet / issues.csv / top_suggestions.parquet a batch at a time, then the small files;
    pred_probs.npy moved (or copied) from the work folder."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    names = np.asarray(result.classes, dtype=object)
    check_columns = [(name, values) for r in result.checks.results() for name, values in r.columns().items()]
    n_input, n = result.n_input_rows, result.n_rows
    position = np.full(n_input, -1, np.int64)
    position[result.row_ids] = np.arange(n)
    with atomic_path(out / "issues.parquet") as issues_tmp, atomic_path(out / "issues.csv") as csv_tmp, \
            atomic_path(out / "top_suggestions.parquet") as top_tmp, open(csv_tmp, "w", encoding="utf-8",
                                                                         newline="") as csv_file:
        issues_writer = top_writer = None
        stored = DiskRows(probs_path)
        try:
            for batch in table:
                pos = position[batch.start:batch.start + len(batch)]
                kept = pos[pos >= 0]
                probs = stored[kept[0]:kept[-1] + 1] if len(kept) else np.empty((0, 1))
                frame = pd.DataFrame({"row": np.arange(batch.start, batch.start + len(batch), dtype=np.int64)})
                audited = pos >= 0
                suggested = result.suggested[kept]
                frame["given_label"] = _fill(names[result.given[kept]], audited, None)
                frame["suggested_label"] = _fill(names[suggested], audited, None)
                frame["label_quality"] = _fill(result.label_quality[kept].astype(np.float64), audited, np.nan)
                frame["is_label_issue"] = _fill(result.is_issue[kept].astype(bool), audited, False)
                frame["suggested_probability"] = _fill(probs[np.arange(len(kept)), suggested], audited, np.nan)
                for name, values in check_columns:
                    frame[name] = _fill(np.asarray(values)[kept], audited, False if values.dtype == bool else np.nan)
                if batch.texts is not None:
                    frame["text"] = batch.texts
                chunk = pa.Table.from_pandas(frame, preserve_index=False)
                if issues_writer is None:
                    issues_writer = pq.ParquetWriter(issues_tmp, chunk.schema, write_page_checksum=True)
                issues_writer.write_table(chunk.cast(issues_writer.schema))
                frame.to_csv(csv_file, header=batch.start == 0, index=False)
                if len(kept):
                    top = pa.Table.from_pandas(result.top_suggestions(rows=slice(kept[0], kept[-1] + 1),
                                                                      pred_probs=probs), preserve_index=False)
                    if top_writer is None:
                        top_writer = pq.ParquetWriter(top_tmp, top.schema)
                    top_writer.write_table(top)
                report(progress, "writing", batch.start + len(batch), n_input)
        finally:
            stored.close()
            for writer in (issues_writer, top_writer):
                if writer is not None:
                    writer.close()
    result.write_arrays(out)
    with atomic_path(out / PRED_PROBS_FILE) as tmp:
        if probs_path.parent == work:  # ours: moved; the user's own file: copied
            os.replace(probs_path, tmp)
        else:
            shutil.copyfile(probs_path, tmp)
    result.write_class_tables(out)
    result.write_summary(out, has_texts=bool(table.text))


def _fill(values: np.ndarray, audited: np.ndarray, empty) -> np.ndarray:
    """(m,) values for the rows where ``audited`` is True, ``empty`` elsewhere."""
    if audited.all():
        return values
    out = np.full(len(audited), empty, dtype=object if empty is None or values.dtype == object else
                  np.result_type(values.dtype, np.asarray(empty).dtype))
    out[audited] = values
    return out
