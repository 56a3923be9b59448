"""Every multi-label learner on one table, with the same features, splits and seeds: ``compare_multilabel``.

    from labelwise.multilabel_compare import compare_multilabel
    summary = compare_multilabel(texts, Y, label_names, splits=5, seeds=[0, 1, 2])   # one row per method

The texts are encoded once per call with one :class:`labelwise.features.TextEncoder` (or the ``encoder`` given):
sentence vectors ``(n, d)`` for the methods that read one vector per row, token states (:class:`TokenStates`,
``(n, L, d)``) for the ones that attend over words, and the label texts (names, or the descriptions given) as
``label_embeddings (K, d)`` in the same space for the methods that take them. Every method then sees the same
training and test rows for each split and the same ``random_state`` for each seed.

Methods (:data:`METHODS`, by name; ``methods=None`` runs them all). A method whose module is not installed yet is
left out with a note in the result (the ``note`` column), never silently. Each is used with its own defaults (the
losses of ``MultiLabelClassifier`` with :func:`mlp_settings`) and its own decision rule; no threshold is chosen on
test rows:

- ``mlcd``: ``MultiLabelClassifier(loss="mlcd", **mlp_settings(n_train))`` (MLCD, paper 25). Rule:
  ``sigmoid(scale * cos) >= 0.5``, i.e. cosine > 0, the paper's untuned threshold.
- ``softcon``: ``SoftConClassifier`` (SoftCon, paper 27). Rule: 0.5 on its linear probe's probabilities.
- ``laso``: ``LaSOClassifier`` (LaSO, paper 35). Rule: 0.5 on its per-label probe's probabilities.
- ``kenet``: ``KeNetClassifier`` (KeNet, paper 29) on token states, with the label embeddings; no knowledge input (a
  user's table brings no knowledge base). Rule: one global micro-F1-optimal threshold tuned on its validation split.
- ``ldam``: ``LabelAttentionModel`` (LDAM, paper 23) on token states, with the label embeddings; text only (no time
  series). Rule: one global micro-F1-optimal threshold tuned on its validation split.
- ``patchct``: ``PatchCTClassifier`` (PatchCT, paper 31) on token states, with the label embeddings. Rule: 0.5 on
  ``sigmoid(cos / tau_cls + b_k)`` (a learned per-label bias ``b_k``).
- ``pu-mlc``: ``MultiLabelClassifier(loss="pu_mlc", **mlp_settings(n_train))`` (PU-MLC). Rule: 0.5, fixed.
- ``bce``: ``MultiLabelClassifier(loss="bce", **mlp_settings(n_train))``. Rule: 0.5, fixed.
- ``logreg``: one-vs-rest ``LogisticRegression(C=10)`` (scikit-learn, C as in bench/learn.py claim 4;
  :class:`CrossValidatedThresholdLogReg`). Rule: one global threshold, the micro-F1 best of 0.05, 0.10, ..., 0.95 on 3-fold cross-validated probabilities
  of the training part.
- ``head``: ``MultiLabelHead`` (PTEC-style). Rule: per-label Platt calibration and F1-tuned thresholds on its 20 %
  validation split of the training part.

Scores on each test part (``Y_test (m, K)`` against the 0/1 predictions and the probabilities):

- ``micro_f1``: F1 over every (row, label) cell, all ``K`` labels (a label predicted but absent counts against);
- ``macro_f1``: mean per-label F1 over the labels with a positive in the test part;
- ``mAP``: mean average precision over the same labels (threshold-free, so it ranks methods whatever their rule);
- ``fit_seconds``: wall time of ``fit`` (the logistic regression's inner cross-validation included), ``n_train``,
  ``n_test``.

Workflow floor: texts and arrays in, a pandas DataFrame out; no file I/O, no printing.
"""

from __future__ import annotations

import importlib
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from labelwise.errors import LabelwiseError, ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

__all__ = ["METHODS", "Fit", "Method", "compare_multilabel", "mlp_settings", "multilabel_scores", "summarise_runs"]

Splits = Union[float, int, Sequence[tuple[Any, Any]]]
MIN_TRAIN, MIN_TEST = 5, 1
METRICS = ("micro_f1", "macro_f1", "mAP")


@dataclass(frozen=True)
class Fit:
    """What the harness knows when it builds a method for one run: the seed (``random_state``), torch threads, the
    label texts' embeddings ``(K, d)`` (None unless the method takes them) and the training rows' count."""

    random_state: int
    n_threads: Optional[int]
    label_embeddings: Optional[np.ndarray]
    n_train: int


@dataclass(frozen=True)
class Method:
    """One multi-label learner the harness can run.

    name: the name users pass (``methods=["bce", "kenet"]``, ``--methods bce,kenet``).
    module: the module that must import for the method to run (missing: the method is left out with a note).
    build: ``build(fit: Fit) -> estimator`` (unfitted; scikit-learn contract:
        ``fit(X, Y)``, ``predict(X) -> (n, K) int``, ``predict_proba(X) -> (n, K) float``).
    tokens: True when ``X`` is token states (:class:`labelwise.token_states.TokenStates`), False for sentence
        vectors ``(n, d)``.
    label_embeddings: True when ``build`` takes the label texts' embeddings ``(K, d)``.
    threshold: the decision rule, one line (written into the result).
    """

    name: str
    module: str
    build: Callable[[Fit], Any]
    tokens: bool = False
    label_embeddings: bool = False
    threshold: str = ""

    def available(self) -> str | None:
        """None when the method can run here, else why not (one line)."""
        try:
            importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name and self.module.startswith(exc.name):
                return f"not available: module {self.module} is not in this labelwise yet"
            raise
        return None


# ---- the estimators, each imported only when its method is built --------------------------------------------------


def mlp_settings(n_train: int) -> dict[str, Any]:
    """The training settings of every loss of ``MultiLabelClassifier`` here (bce, pu_mlc, mlcd: the same MLP and
    budget, so the loss is the only difference): bench/learn.py's (claim 1: one hidden layer of 256, lr 3e-3, up to
    150 epochs, patience 15), with batches of ``n_train // 8`` rows, between 16 and 64, so that an epoch has at least
    about 8 steps. The estimator's defaults (lr 1e-3, patience 10, batch 64) stop after about 12 epochs on a few
    hundred rows, before the model has learned anything (micro-F1 0 on the keyword texts of
    tests/learn/test_multilabel_compare.py, 0.97 with these); with 64-row batches, NLU++ banking's 104-row
    low-data split has 2 steps an epoch and BCE stops with a test mAP of 0.06 (0.47 with 16-row batches)."""
    return {"hidden": (256,), "epochs": 150, "lr": 3e-3, "patience": 15,
            "batch_size": int(min(64, max(16, n_train // 8)))}


def _classifier(loss: str) -> Callable[[Fit], Any]:
    def build(fit: Fit) -> Any:
        from labelwise.learn.estimators import MultiLabelClassifier

        return MultiLabelClassifier(loss=loss, random_state=fit.random_state, n_threads=fit.n_threads,
                                    **mlp_settings(fit.n_train))

    return build


def _head(fit: Fit) -> Any:
    from labelwise.learn.estimators import MultiLabelHead

    return MultiLabelHead(random_state=fit.random_state, n_threads=fit.n_threads)


def _by_name(module: str, cls: str, with_labels: bool) -> Callable[[Fit], Any]:
    def build(fit: Fit) -> Any:
        estimator = getattr(importlib.import_module(module), cls)
        extra = {"label_embeddings": fit.label_embeddings} if with_labels else {}
        return estimator(random_state=fit.random_state, n_threads=fit.n_threads, **extra)

    return build


def _logreg(fit: Fit) -> Any:
    return CrossValidatedThresholdLogReg(random_state=fit.random_state)


class CrossValidatedThresholdLogReg(BaseEstimator):
    """One-vs-rest logistic regression (scikit-learn, ``C``, liblinear: the solver scikit-learn recommends for small
    data sets) with one global threshold for all labels.

    ``fit(X (n, d), Y (n, K) 0/1)``: the threshold is the micro-F1 best of ``0.05, 0.10, ..., 0.95`` on 3-fold
    cross-validated probabilities of ``X`` (ties: the one nearest 0.5), then the model is refitted on all of ``X``.
    ``predict_proba(X) -> (n, K)``; ``predict(X) -> (n, K) int``. One threshold, not one per label, because a
    per-label threshold over a few validation rows over-fits (docs/learn.md, the PTEC head in the low-data setting).
    """

    GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)

    def __init__(self, C: float = 10.0, folds: int = 3, random_state: int = 0):
        self.C, self.folds, self.random_state = C, folds, random_state

    def _model(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(LogisticRegression(C=self.C, solver="liblinear"))

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "CrossValidatedThresholdLogReg":
        from sklearn.metrics import f1_score
        from sklearn.model_selection import KFold, cross_val_predict

        Y = np.asarray(Y, dtype=int)
        with warnings.catch_warnings():  # labels with one value in a fold: OvR predicts it constantly, and says so
            warnings.simplefilter("ignore")
            self.threshold_ = 0.5
            if len(X) >= 2 * self.folds:
                cv = KFold(self.folds, shuffle=True, random_state=self.random_state)
                P = cross_val_predict(self._model(), X, Y, cv=cv, method="predict_proba")
                f1 = [f1_score(Y, (P >= t).astype(int), average="micro", zero_division=0) for t in self.GRID]
                best = max(f1)
                self.threshold_ = float(min((t for t, f in zip(self.GRID, f1) if f == best), key=lambda t: abs(t - .5)))
            self.model_ = self._model().fit(X, Y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(X), dtype=float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X) >= self.threshold_).astype(int)


def _registry(*methods: Method) -> dict[str, Method]:
    return {m.name: m for m in methods}


#: name -> :class:`Method`, in the order results are listed.
METHODS: dict[str, Method] = _registry(
    Method("mlcd", "labelwise.learn.mlcd", _classifier("mlcd"),
           threshold="sigmoid(scale * cos) >= 0.5 (cosine > 0), untuned"),
    Method("softcon", "labelwise.learn.soft_contrastive", _by_name("labelwise.learn.soft_contrastive",
                                                                    "SoftConClassifier", False),
           threshold="0.5 on the linear probe's probabilities"),
    Method("laso", "labelwise.learn.laso", _by_name("labelwise.learn.laso", "LaSOClassifier", False),
           threshold="0.5 on the per-label probe's probabilities"),
    Method("kenet", "labelwise.learn.kenet", _by_name("labelwise.learn.kenet", "KeNetClassifier", True),
           tokens=True, label_embeddings=True,
           threshold="one global micro-F1 threshold tuned on its validation split of the training part"),
    Method("ldam", "labelwise.learn.ldam", _by_name("labelwise.learn.ldam", "LabelAttentionModel", True),
           tokens=True, label_embeddings=True,
           threshold="one global micro-F1 threshold tuned on its validation split of the training part"),
    Method("patchct", "labelwise.learn.patch_ct", _by_name("labelwise.learn.patch_ct", "PatchCTClassifier", True),
           tokens=True, label_embeddings=True, threshold="0.5 on sigmoid(cos / tau_cls + b_k), b_k learned"),
    Method("pu-mlc", "labelwise.learn.pu_mlc", _classifier("pu_mlc"), threshold="0.5, fixed"),
    Method("bce", "labelwise.learn.estimators", _classifier("bce"), threshold="0.5, fixed"),
    Method("logreg", "sklearn.linear_model", _logreg,
           threshold="one global threshold, micro-F1 best on 3-fold CV of the training part"),
    Method("head", "labelwise.learn.estimators", _head,
           threshold="per-label Platt + F1-tuned thresholds on a 20% validation split of the training part"),
)


# ---- inputs --------------------------------------------------------------------------------------------------------


def _targets(Y: Any, label_names: Sequence[str], n: int) -> np.ndarray:
    """``Y`` as ``(n, K) int8`` 0/1 over ``label_names``: a 0/1 matrix as it is, or label lists encoded."""
    names = [str(x) for x in label_names]
    K = len(names)
    if len(set(names)) != K:
        raise ParameterError("label_names has a name twice; give each label once.")
    if isinstance(Y, np.ndarray) and Y.ndim == 2 and Y.dtype != object:
        if Y.shape != (n, K):
            raise ShapeError(f"Y must be (n, K) = ({n}, {K}) for {n} texts and {K} label names, got {Y.shape}.")
        if not np.isin(np.unique(Y), [0, 1]).all():
            raise ShapeError("Y must hold 0 and 1 only (1: the row carries the label).")
        T = Y.astype(np.int8)
    else:
        rows = list(Y)
        if len(rows) != n:
            raise ShapeError(f"Y has {len(rows)} rows but there are {n} texts.")
        index = {name: j for j, name in enumerate(names)}
        T = np.zeros((n, K), dtype=np.int8)
        for i, labels in enumerate(rows):
            if isinstance(labels, str):
                raise ShapeError(f"row {i} of Y is a string {labels!r}; give a list of labels per row.")
            for label in labels:
                if str(label) not in index:
                    raise ShapeError(f"row {i} of Y has label {label!r}, which is not in label_names.")
                T[i, index[str(label)]] = 1
    if K < 2:
        raise ParameterError(f"A multi-label comparison needs at least two labels; got {K}.")
    if not T.any():
        raise ParameterError("No row carries any label: there is nothing to learn.")
    return T


def _split_list(splits: Splits, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train_rows, test_rows) pairs of one seed: a test share (one split), K folds, or the pairs given."""
    if isinstance(splits, (bool, np.bool_)):
        raise ParameterError(f"splits must be a test share in (0, 1), a number of folds >= 2, or (train, test) pairs; "
                             f"got {splits!r}.")
    if isinstance(splits, (float, np.floating)):
        if not 0 < splits < 1:
            raise ParameterError(f"The test share must be in (0, 1), e.g. 0.2; got {splits}.")
        n_test = math.ceil(splits * n)
        _check_sizes(n - n_test, n_test, n, f"a test share of {splits}")
        order = np.random.default_rng(seed).permutation(n)
        return [(np.sort(order[n_test:]), np.sort(order[:n_test]))]
    if isinstance(splits, (int, np.integer)):
        k = int(splits)
        if k < 2:
            raise ParameterError(f"The number of folds must be 2 or more; got {k}.")
        _check_sizes(n - math.ceil(n / k), n // k, n, f"{k} folds")
        from sklearn.model_selection import KFold

        return [(tr, te) for tr, te in KFold(k, shuffle=True, random_state=seed).split(np.arange(n))]
    pairs = []
    for i, pair in enumerate(splits):
        tr, te = (np.asarray(part, dtype=np.int64).ravel() for part in pair)
        if len(tr) and (tr.min() < 0 or tr.max() >= n) or len(te) and (te.min() < 0 or te.max() >= n):
            raise ParameterError(f"split {i} has a row index outside 0..{n - 1}.")
        _check_sizes(len(tr), len(te), n, f"split {i}")
        pairs.append((tr, te))
    if not pairs:
        raise ParameterError("splits is an empty list; give at least one (train_rows, test_rows) pair.")
    return pairs


def _check_sizes(n_train: int, n_test: int, n: int, what: str) -> None:
    if n_train < MIN_TRAIN or n_test < MIN_TEST:
        raise ParameterError(f"{n} rows are too few for {what}: it leaves {n_train} rows to train on and {n_test} to "
                             f"test on; each needs at least {MIN_TRAIN} and {MIN_TEST}. Add rows, or use fewer folds "
                             "or a test share nearer 0.5.")


def _chosen(methods: Optional[Sequence[str]]) -> list[Method]:
    if methods is None:
        return list(METHODS.values())
    names = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ParameterError(f"Unknown method {', '.join(map(repr, unknown))}; choose from {', '.join(METHODS)}.")
    if not names:
        raise ParameterError(f"No method was chosen; choose from {', '.join(METHODS)}.")
    return [m for name, m in METHODS.items() if name in names]  # in the registry's order, each once


# ---- scores ----------------------------------------------------------------------------------------------------


def multilabel_scores(Y: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """``Y, pred: (m, K) 0/1``, ``proba: (m, K) float`` -> micro-F1 (all labels), macro-F1 and mAP (the labels with
    a positive in ``Y``; NaN when none has one)."""
    from sklearn.metrics import average_precision_score, f1_score

    keep = Y.sum(axis=0) > 0
    out = {"micro_f1": float(f1_score(Y, pred, average="micro", zero_division=0)),
           "macro_f1": math.nan, "mAP": math.nan}
    if keep.any():
        out["macro_f1"] = float(f1_score(Y[:, keep], pred[:, keep], average="macro", zero_division=0))
        out["mAP"] = float(average_precision_score(Y[:, keep], proba[:, keep], average="macro"))
    return out


def _check_output(method: str, name: str, arr: Any, m: int, K: int) -> np.ndarray:
    out = np.asarray(arr, dtype=float)
    if out.shape != (m, K):
        raise ShapeError(f"method {method}: {name} returned shape {out.shape}, expected ({m}, {K}).")
    return out


# ---- the harness ------------------------------------------------------------------------------------------------


def compare_multilabel(
    texts: Sequence[str],
    Y: Any,
    label_names: Sequence[str],
    *,
    label_texts: Optional[Sequence[str]] = None,
    methods: Optional[Sequence[str]] = None,
    splits: Splits = 0.2,
    seeds: Sequence[int] = (0,),
    encoder: Any = None,
    n_threads: Optional[int] = None,
    per_split: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> pd.DataFrame:
    """Fit and score every chosen multi-label method on the same features, splits and seeds.

    Parameters
    ----------
    texts: ``(n,) str``, one text per row.
    Y: ``(n, K) 0/1`` (1: the row carries label ``k``) or ``n`` lists of label names.
    label_names: ``(K,) str``, the labels in ``Y``'s column order.
    label_texts: ``(K,) str`` what is embedded for the methods that take label embeddings (descriptions, questions);
        default: the names with ``_`` and ``-`` read as spaces.
    methods: names from :data:`METHODS` (default: all). One not installed yet is left out with a note.
    splits: a test share in (0, 1) (one random split per seed), a number of folds ``K >= 2`` (K-fold per seed), or
        a list of ``(train_rows, test_rows)`` index pairs (the same for every seed; the seed is the model's).
    seeds: each seed draws the split (share or folds) and is every model's ``random_state``.
    encoder: anything with ``encode(texts) -> (n, d)`` (and ``encode_tokens(texts) -> TokenStates`` for the token
        methods, else they are left out with a note); default :class:`labelwise.features.TextEncoder` (MiniLM).
    n_threads: torch threads per fit (None: torch's setting).
    per_split: return one row per method, seed and split (the long form) instead of one row per method.
    progress: ``progress(stage, done, total)``: ``"embedding"``, ``"token states"``, then ``"fitting"`` per fit.

    Returns
    -------
    DataFrame, one row per method in :data:`METHODS` order (see :func:`summarise_runs`): ``method``, ``micro_f1``,
    ``macro_f1``, ``mAP`` (means over runs) and their ``*_std``, ``fit_seconds``, ``n_train``, ``n_test`` (means),
    ``runs``, ``threshold`` and ``note`` (why a method was left out, or failed). With ``per_split``: ``method``,
    ``seed``, ``split``, the three scores, ``fit_seconds``, ``n_train``, ``n_test``, ``threshold``, ``note``.

    Raises
    ------
    ParameterError / ShapeError: an unknown method, ``Y`` not matching ``texts`` and ``label_names``, fewer than two
    labels, or too few rows for the split (each training part needs 5 rows, each test part 1).
    """
    texts = [str(t) for t in texts]
    n = len(texts)
    T = _targets(Y, label_names, n)
    K = T.shape[1]
    chosen = _chosen(methods)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ParameterError("seeds is empty; give at least one seed, e.g. seeds=[0].")
    plan = {s: _split_list(splits, n, s) for s in seeds}
    notes = {m.name: m.available() for m in chosen}
    runnable = [m for m in chosen if notes[m.name] is None]
    if encoder is None and runnable:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    if any(m.tokens for m in runnable) and not hasattr(encoder, "encode_tokens"):
        for m in runnable:
            if m.tokens:
                notes[m.name] = f"not run: the encoder ({type(encoder).__name__}) gives no token states"
        runnable = [m for m in runnable if not m.tokens]

    X = tokens = label_vectors = None
    if any(not m.tokens for m in runnable):
        from labelwise.features.base import embed

        X = embed(encoder, texts, progress)
    if any(m.tokens for m in runnable):
        tokens = encoder.encode_tokens(texts, progress=progress)
    if any(m.label_embeddings for m in runnable):
        from labelwise.features.base import embed

        shown = [str(x).replace("_", " ").replace("-", " ") for x in label_names] if label_texts is None \
            else [str(x) for x in label_texts]
        if len(shown) != K:
            raise ShapeError(f"label_texts has {len(shown)} entries for {K} labels; give one per label.")
        label_vectors = embed(encoder, shown)

    rows: list[dict[str, Any]] = []
    total = len(runnable) * sum(len(p) for p in plan.values())
    done = 0
    report(progress, "fitting", 0, total)
    for m in chosen:
        if m not in runnable:
            rows.append({"method": m.name, "threshold": m.threshold, "note": notes[m.name]})
            continue
        inputs = tokens if m.tokens else X
        for seed, pairs in plan.items():
            for i, (tr, te) in enumerate(pairs):
                row = {"method": m.name, "seed": seed, "split": i, "n_train": len(tr), "n_test": len(te),
                       "threshold": m.threshold, "note": None}
                try:
                    estimator = m.build(Fit(seed, n_threads, label_vectors if m.label_embeddings else None, len(tr)))
                    start = time.perf_counter()
                    estimator.fit(inputs[tr], T[tr])
                    row["fit_seconds"] = time.perf_counter() - start
                    pred = _check_output(m.name, "predict", estimator.predict(inputs[te]), len(te), K)
                    proba = _check_output(m.name, "predict_proba", estimator.predict_proba(inputs[te]), len(te), K)
                    row.update(multilabel_scores(T[te], pred.astype(int), proba))
                except LabelwiseError as exc:  # the method cannot learn from this data: said, and the rest go on
                    row["note"] = f"failed: {exc}"
                rows.append(row)
                done += 1
                report(progress, "fitting", done, total)
    columns = ["method", "seed", "split", *METRICS, "fit_seconds", "n_train", "n_test", "threshold", "note"]
    runs = pd.DataFrame(rows, columns=columns)
    return runs if per_split else summarise_runs(runs)


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per method from :func:`compare_multilabel`'s long form (``per_split=True``), in its order: the mean
    and standard deviation (``ddof=0``) of each score over the runs that scored, mean ``fit_seconds``, ``n_train``,
    ``n_test``, the number of ``runs``, the ``threshold`` rule and the first ``note``."""
    out = []
    for method, group in runs.groupby("method", sort=False):
        scored = group.dropna(subset=["micro_f1"])
        row: dict[str, Any] = {"method": method}
        for metric in METRICS:
            values = scored[metric].dropna().to_numpy(dtype=float)
            row[metric] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_std"] = float(values.std()) if len(values) else math.nan
        for column in ("fit_seconds", "n_train", "n_test"):
            values = scored[column].dropna().to_numpy(dtype=float)
            row[column] = float(values.mean()) if len(values) else math.nan
        row["runs"] = len(scored)
        row["threshold"] = group["threshold"].iloc[0]
        notes = group["note"].dropna()
        row["note"] = notes.iloc[0] if len(notes) else None
        out.append(row)
    columns = ["method", *(c for m in METRICS for c in (m, f"{m}_std")), "fit_seconds", "n_train", "n_test", "runs",
               "threshold", "note"]
    return pd.DataFrame(out, columns=columns)
