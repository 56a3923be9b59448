"""scikit-learn-style estimators that train a small torch model on features (e.g. frozen text embeddings).

- :class:`NoisyLabelClassifier`: multi-class labels with noise; ``loss="ce" | "gce" | "ldr" | "aldr"``
  (LDR-KL / ALDR-KL from :mod:`labelwise.learn.ldr`).
- :class:`MultiLabelClassifier`: multi-label targets, possibly with missing positives; ``loss="bce" | "pu_mlc"``
  (:mod:`labelwise.learn.pu_mlc`) ``| "mlcd"`` (a cosine classifier with MLCD's decoupled loss,
  :mod:`labelwise.learn.mlcd`).
- :class:`MultiLabelHead`: a :class:`MultiLabelClassifier` with PTEC-style defaults (linear per-label head,
  max-ratio ``pos_weight``, per-label Platt calibration and tuned thresholds; :mod:`labelwise.learn.heads`).
- :class:`ImbalancedRegressor`: L1 regression with or without the ConR regulariser (:mod:`labelwise.learn.conr`).

Shared behaviour (scikit-learn's conventions): ``__init__`` only stores its parameters (``get_params``,
``set_params`` and ``clone`` work), what ``fit`` learns sits in trailing-underscore attributes, a fitted estimator
pickles (the torch module included), and ``predict`` before ``fit`` raises scikit-learn's ``NotFittedError``.
Numpy inputs ``X: (n, d) float``; ``random_state`` (None, an int, a numpy ``RandomState`` or ``Generator``) makes a
fit reproducible (the global torch RNG is forked, so callers' random state is untouched); early stopping on a
validation split (``validation_fraction``, ``patience``; the best epoch's weights are kept);
``fit(X, y, progress=None)`` calls ``progress("training", epoch, epochs)``; ``n_threads`` sets torch's intra-op
threads during ``fit``/``predict`` only and restores them after.
"""

from __future__ import annotations

import copy
import numbers
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import average_precision_score
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.conr import conr_loss
from labelwise.learn.heads import PerLabelLinear, PerLabelPlatt, max_ratio_pos_weight, tune_thresholds
from labelwise.learn.ldr import ALDRKLLoss, LDRKLLoss, gce_loss
from labelwise.learn.mlcd import CosineClassifier, decoupled_multilabel_loss
from labelwise.learn.pu_mlc import pu_mixup_penalty, pu_mlc_loss
from labelwise.progress import ProgressCallback, report

__all__ = ["ImbalancedRegressor", "MultiLabelClassifier", "MultiLabelHead", "NoisyLabelClassifier"]


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Set torch's intra-op threads to ``n`` inside the block, then restore them (``None``: leave as is)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seed(random_state: Any) -> int:
    """One int seed for torch and numpy: an int ``random_state`` as it is; None or a numpy ``RandomState`` draws one
    through :func:`sklearn.utils.check_random_state`; a numpy ``Generator`` draws one itself."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    try:
        return int(check_random_state(random_state).randint(0, 2**31 - 1))
    except ValueError as exc:
        raise ParameterError(f"random_state must be None, an int, a numpy RandomState or Generator; got "
                             f"{type(random_state).__name__}.") from exc


def _check_X(X: Any, n_features: int | None = None, estimator: str = "") -> np.ndarray:
    """``X: (n, d)`` as float32 through scikit-learn's ``check_array`` (dense, 2-D, non-empty, finite), its message
    raised as a :class:`ShapeError`; with ``n_features``, ``d`` must match what ``estimator`` was fitted on."""
    try:
        arr = check_array(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        where = ""
        if "NaN" in str(exc) or "infinity" in str(exc):
            row = int(np.argwhere(~np.isfinite(np.asarray(X, dtype=float)))[0, 0])
            where = f" (first in row {row}); impute or drop it"
        raise ShapeError(f"X: {exc}{where}") from exc
    if n_features is not None and arr.shape[1] != n_features:
        raise ShapeError(f"X has {arr.shape[1]} features, but {estimator} is expecting {n_features} features as input.")
    return arr


def _check_y(y: Any, n: int, classifier: bool) -> np.ndarray:
    """``y: (n,)`` (a ``(n, 1)`` column is flattened with a warning); a classifier's must be class labels."""
    if y is None:
        raise ShapeError("This estimator requires y to be passed, but the target y is None.")
    try:
        ya = column_or_1d(y, warn=True)
        if classifier:
            check_classification_targets(ya)
    except ValueError as exc:
        raise ShapeError(f"y: {exc}") from exc
    if len(ya) != n:
        raise ShapeError(f"y must be (n,) with n = {n} rows of X, got shape {np.shape(y)}.")
    return ya


def _val_split(n: int, fraction: float | None, rng: np.random.Generator, strata: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices. Stratified by ``strata`` when every stratum has 2 or more rows."""
    if not fraction:
        return np.arange(n), np.arange(0)
    if not 0 < fraction < 1:
        raise ParameterError(f"validation_fraction must be in (0, 1) or 0/None, got {fraction}.")
    n_val = max(1, int(round(fraction * n)))
    if strata is not None:
        _, inv, counts = np.unique(strata, return_inverse=True, return_counts=True)
        if counts.min() >= 2:
            val = []
            for k in range(len(counts)):
                rows = rng.permutation(np.flatnonzero(inv == k))
                val.extend(rows[: max(1, int(round(fraction * len(rows))))])
            val = np.sort(np.array(val))
            return np.setdiff1d(np.arange(n), val), val
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class _CrossEntropy(torch.nn.Module):
    """``forward(logits (B, K), y (B,), idx) -> scalar``: plain cross-entropy (``idx`` unused)."""

    def forward(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        return F.cross_entropy(logits, y)


class _GeneralisedCE(torch.nn.Module):
    """``forward(logits (B, K), y (B,), idx) -> scalar``: :func:`gce_loss` with exponent ``q`` (``idx`` unused)."""

    def __init__(self, q: float):
        super().__init__()
        self.q = q

    def forward(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        return gce_loss(logits, y, q=self.q)


class _TorchEstimator(BaseEstimator):
    """Training loop shared by the estimators (not public)."""

    def _train(
        self,
        model: torch.nn.Module,
        n_train: int,
        batch_loss: Callable[[torch.Tensor], torch.Tensor],
        val_score: Callable[[], float] | None,
        gen: torch.Generator,
        progress: Optional[ProgressCallback],
        extra_params: Sequence[torch.nn.Parameter] = (),
    ) -> None:
        opt = torch.optim.Adam(list(model.parameters()) + list(extra_params), lr=self.lr,
                               weight_decay=self.weight_decay)
        best, best_state, bad = -np.inf, None, 0
        epoch = 0
        for epoch in range(1, self.epochs + 1):
            model.train()
            perm = torch.randperm(n_train, generator=gen)
            for start in range(0, n_train, self.batch_size):
                b = perm[start:start + self.batch_size]
                if len(b) < 2 and n_train >= 2:
                    continue
                loss = batch_loss(b)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if val_score is not None:
                model.eval()
                with torch.no_grad():
                    score = float(val_score())
                # patience counts strict improvements; a tie keeps the later (longer-trained) weights
                bad = 0 if score > best + 1e-7 else bad + 1
                if score >= best:
                    best, best_state = score, copy.deepcopy(model.state_dict())
            report(progress, "training", epoch, self.epochs)
            if val_score is not None and bad >= self.patience:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.n_epochs_ = epoch
        self.best_val_score_ = float(best) if val_score is not None else None

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        arr = _check_X(X, self.n_features_in_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            return self.model_(torch.from_numpy(arr)).numpy().astype(np.float64)


class NoisyLabelClassifier(ClassifierMixin, _TorchEstimator):
    """Multi-class classifier for noisy labels: an MLP over features with a noise-robust loss.

    Parameters
    ----------
    loss: ``"ce"`` (cross-entropy), ``"gce"`` (generalised CE, ``q``), ``"ldr"`` (LDR-KL, ``lam``, ``margin``) or
        ``"aldr"`` (ALDR-KL, ``lam0``, ``alpha``, ``margin``; per-example temperatures in ``loss_.lambdas``).
    normalize: score normalisation for ldr/aldr (``"softplus_mean"``, ``"l1"``, ``"none"``); ``None``: the paper
        code's choice (``"softplus_mean"`` for LDR-KL, ``"l1"`` for ALDR-KL).
    hidden: hidden layer widths (``()``: a linear model).
    validation_fraction: share of rows held out (stratified) for early stopping on accuracy against the given
        (noisy) labels: under symmetric noise, noisy accuracy is an increasing function of clean accuracy.

    ``fit(X (n, d), y (n,) str or int, progress=None)``; ``predict(X) -> (n,)`` in ``classes_``;
    ``predict_proba(X) -> (n, K)`` (softmax of the scores; columns follow ``classes_``).
    Learned: ``classes_``, ``n_features_in_``, ``model_`` (the torch module), ``loss_`` (the loss module; ALDR-KL's
    per-example temperatures in ``loss_.lambdas``), ``n_epochs_``, ``best_val_score_``.
    """

    def __init__(self, loss: str = "ce", hidden: tuple[int, ...] = (256,), epochs: int = 100, batch_size: int = 128,
                 lr: float = 1e-3, weight_decay: float = 1e-4, dropout: float = 0.0, validation_fraction: float = 0.1,
                 patience: int = 10, q: float = 0.7, lam: float = 10.0, lam0: float = 10.0, alpha: float = 2.0,
                 margin: float = 0.1, random_state: Any = None, n_threads: int | None = None,
                 normalize: str | None = None):
        self.normalize = normalize
        self.loss, self.hidden, self.epochs, self.batch_size = loss, hidden, epochs, batch_size
        self.lr, self.weight_decay, self.dropout = lr, weight_decay, dropout
        self.validation_fraction, self.patience = validation_fraction, patience
        self.q, self.lam, self.lam0, self.alpha, self.margin = q, lam, lam0, alpha, margin
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, y: Any, progress: Optional[ProgressCallback] = None) -> "NoisyLabelClassifier":
        if self.loss not in ("ce", "gce", "ldr", "aldr"):
            raise ParameterError(f"loss must be 'ce', 'gce', 'ldr' or 'aldr', got {self.loss!r}.")
        Xa = _check_X(X)
        ya = _check_y(y, len(Xa), classifier=True)
        self.classes_, enc = np.unique(ya, return_inverse=True)
        if len(self.classes_) < 2:
            raise ShapeError(f"y has one class ({self.classes_[0]!r}); a classifier needs at least two.")
        self.n_features_in_ = Xa.shape[1]
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        tr, va = _val_split(len(Xa), self.validation_fraction, rng, strata=enc)
        Xt, yt = torch.from_numpy(Xa[tr]), torch.from_numpy(enc[tr].astype(np.int64))
        Xv, yv = torch.from_numpy(Xa[va]), torch.from_numpy(enc[va].astype(np.int64))
        k = len(self.classes_)
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = PerLabelLinear(Xa.shape[1], k, tuple(self.hidden), self.dropout)
            if self.loss == "ldr":
                crit: torch.nn.Module = LDRKLLoss(lam=self.lam, margin=self.margin,
                                                  normalize=self.normalize or "softplus_mean")
            elif self.loss == "aldr":
                crit = ALDRKLLoss(len(tr), lam0=self.lam0, alpha=self.alpha, margin=self.margin,
                                  normalize=self.normalize or "l1")
            elif self.loss == "gce":
                crit = _GeneralisedCE(self.q)
            else:
                crit = _CrossEntropy()

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                return crit(model(Xt[b]), yt[b], b)

            def val_score() -> float:
                return float((model(Xv).argmax(1) == yv).float().mean())

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_, self.loss_ = model, crit
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self._logits(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        z = self._logits(X)
        return self.classes_[z.argmax(axis=1)]


def _multi_hot(Y: Any, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``Y``: a ``(n, C)`` array of {1, 0, -1} or a sequence of label lists -> (targets (n, C) int8, classes)."""
    if isinstance(Y, np.ndarray) and Y.ndim == 2 and Y.dtype != object:
        vals = np.unique(Y)
        if not np.isin(vals, [-1, 0, 1]).all():
            raise ShapeError(
                f"a (n, C) target matrix must hold 1 (positive), 0 (unknown/negative) or -1, got {vals[:5]}."
            )
        return Y.astype(np.int8), (np.arange(Y.shape[1]) if classes is None else classes)
    rows = list(Y)
    if classes is None:
        classes = np.array(sorted({lab for r in rows for lab in r}, key=str), dtype=object)
    index = {c: i for i, c in enumerate(classes.tolist())}
    T = np.zeros((len(rows), len(classes)), dtype=np.int8)
    for i, r in enumerate(rows):
        if isinstance(r, str):
            raise ShapeError(f"row {i} of Y is a string {r!r}; give a list of labels per row.")
        for lab in r:
            if lab not in index:
                raise ShapeError(f"row {i} of Y has label {lab!r}, which is not in classes_.")
            T[i, index[lab]] = 1
    return T, classes


class MultiLabelClassifier(_TorchEstimator):
    """Multi-label classifier over features, for labels with missing positives.

    Parameters
    ----------
    loss: ``"bce"`` (binary cross-entropy; unknown entries count as negatives), ``"pu_mlc"`` (PU-MLC: only the
        positives are used, ``alpha``, ``gamma``; ``mixup`` > 0 adds that weight times PU-MLC's mixup regulariser,
        off by default because it is numerically fragile at small scale) or ``"mlcd"`` (MLCD, An et al., ECCV
        2024: a cosine classifier, i.e. the L2-normalised output of the hidden layers against L2-normalised label
        prototypes, trained with the decoupled multi-label loss of
        :func:`labelwise.learn.mlcd.decoupled_multilabel_loss`; unknown entries count as negatives). Its scores
        are ``scale * cos`` and ``predict_proba`` is ``sigmoid(scale * cos)``, so the default threshold 0.5 is
        exactly the loss's own boundary ``cos > 0``.
    scale: ``s`` for ``loss="mlcd"``. The loss can only approach 0 when ``s * |cos|`` is large next to
        ``log(number of labels)``: with the default 16, a label set separated at ``cos = +-0.5`` leaves a loss of
        about ``K e^-8``, under 0.05 for up to ~150 labels, while ``s`` is still small enough for the
        gradients of hard rows not to saturate. Raise it with many more labels (face recognition and MLCD's
        million centres use 32-64).
    margin_pos, margin_neg: ``m_p``, ``m_n`` for ``loss="mlcd"``: positives are trained above ``cos = m_p``,
        negatives below ``-m_n``. Default 0, the paper's loss: the training boundary stays where ``predict``
        thresholds; positive margins widen the gap around 0.
    neg_sample_ratio: share of the labels scored per step for ``loss="mlcd"`` (every label with a positive in the
        batch, plus a fresh uniform draw of the others). Default 1.0, all of them: sampling is MLCD's device for a
        million classes and only adds gradient noise for tens or hundreds of labels.
    pos_weight: ``None`` or ``"max_ratio"`` (PTEC's ``max_c n_c / n_c``; BCE only).
    calibration: ``None`` or ``"platt"`` (per label, on the validation split). Calibrating on labels whose
        positives are partly missing pulls the probabilities back towards the observed (too low) rates.
    threshold: a float, or ``"tuned"`` (per-label F1-optimal on the validation split).
    validation_fraction: rows held out for early stopping on micro average precision against the given labels.

    ``fit(X (n, d), Y, progress=None)`` with ``Y`` a ``(n, C)`` matrix (1 positive, 0 unknown or negative, -1 known
    negative) or a sequence of label lists (``classes_`` = sorted labels). ``predict_proba(X) -> (n, C) float``;
    ``predict(X) -> (n, C) int`` 0/1 in ``classes_`` order; ``predict_labels(X)`` -> list of label lists.
    Learned: ``classes_``, ``n_features_in_``, ``model_``, ``calibrator_`` (a :class:`PerLabelPlatt` or None),
    ``thresholds_: (C,)``, ``n_epochs_``, ``best_val_score_``.
    """

    def __init__(self, loss: str = "bce", hidden: tuple[int, ...] = (256,), epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, dropout: float = 0.0, pos_weight: str | None = None,
                 calibration: str | None = None, threshold: float | str = 0.5, alpha: float = 1.0,
                 gamma: float = 0.55, validation_fraction: float = 0.15, patience: int = 10, random_state: Any = None,
                 n_threads: int | None = None, mixup: float = 0.0, scale: float = 16.0, margin_pos: float = 0.0,
                 margin_neg: float = 0.0, neg_sample_ratio: float = 1.0):
        self.loss, self.hidden, self.epochs, self.batch_size = loss, hidden, epochs, batch_size
        self.lr, self.weight_decay, self.dropout, self.pos_weight = lr, weight_decay, dropout, pos_weight
        self.mixup = mixup
        self.scale, self.margin_pos, self.margin_neg = scale, margin_pos, margin_neg
        self.neg_sample_ratio = neg_sample_ratio
        self.calibration, self.threshold, self.alpha, self.gamma = calibration, threshold, alpha, gamma
        self.validation_fraction, self.patience = validation_fraction, patience
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, Y: Any, progress: Optional[ProgressCallback] = None) -> "MultiLabelClassifier":
        if self.loss not in ("bce", "pu_mlc", "mlcd"):
            raise ParameterError(f"loss must be 'bce', 'pu_mlc' or 'mlcd', got {self.loss!r}.")
        if self.loss == "mlcd":
            if not (isinstance(self.scale, (int, float)) and self.scale > 0):
                raise ParameterError(f"scale must be a number > 0, got {self.scale!r}.")
            if not (isinstance(self.neg_sample_ratio, (int, float)) and 0 < self.neg_sample_ratio <= 1):
                raise ParameterError(f"neg_sample_ratio must be in (0, 1], got {self.neg_sample_ratio!r}.")
            if self.pos_weight is not None:
                raise ParameterError("pos_weight applies to loss='bce' only; set pos_weight=None for loss='mlcd'.")
        if self.calibration not in (None, "platt"):
            raise ParameterError(f"calibration must be None or 'platt', got {self.calibration!r}.")
        if not (self.threshold == "tuned" or isinstance(self.threshold, (int, float))):
            raise ParameterError(f"threshold must be a number or 'tuned', got {self.threshold!r}.")
        Xa = _check_X(X)
        T, self.classes_ = _multi_hot(Y)
        if len(T) != len(Xa):
            raise ShapeError(f"Y has {len(T)} rows but X has {len(Xa)}.")
        self.n_features_in_ = Xa.shape[1]
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        tr, va = _val_split(len(Xa), self.validation_fraction, rng)
        Xt, Tt = torch.from_numpy(Xa[tr]), torch.from_numpy(T[tr])
        Xv, Yv = torch.from_numpy(Xa[va]), (T[va] == 1).astype(int)
        pos = (Tt == 1).float()
        pw = None
        if self.pos_weight == "max_ratio":
            pw = torch.from_numpy(max_ratio_pos_weight(T[tr]).astype(np.float32))
        elif self.pos_weight is not None:
            raise ParameterError(f"pos_weight must be None or 'max_ratio', got {self.pos_weight!r}.")
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            if self.loss == "mlcd":
                model: torch.nn.Module = CosineClassifier(Xa.shape[1], T.shape[1], tuple(self.hidden), self.dropout,
                                                          scale=float(self.scale))
            else:
                model = PerLabelLinear(Xa.shape[1], T.shape[1], tuple(self.hidden), self.dropout)

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                if self.loss == "mlcd":
                    return decoupled_multilabel_loss(model.cosine(Xt[b]), Tt[b], scale=float(self.scale),
                                                     margin_pos=self.margin_pos, margin_neg=self.margin_neg,
                                                     neg_sample_ratio=self.neg_sample_ratio, generator=gen)
                z = model(Xt[b])
                if self.loss == "pu_mlc":
                    loss = pu_mlc_loss(z, Tt[b], alpha=self.alpha, gamma=self.gamma)
                    if self.mixup:
                        loss = loss + self.mixup * pu_mixup_penalty(model, Xt[b], z, Tt[b], generator=gen)
                    return loss
                return F.binary_cross_entropy_with_logits(z, pos[b], pos_weight=pw)

            def val_score() -> float:
                keep = Yv.sum(0) > 0
                if not keep.any():
                    return 0.0
                return float(average_precision_score(Yv[:, keep], model(Xv).numpy()[:, keep], average="micro"))

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_ = model
        self.calibrator_ = None
        self.thresholds_ = np.full(T.shape[1], 0.5 if self.threshold == "tuned" else float(self.threshold))
        if len(va) and (self.calibration == "platt" or self.threshold == "tuned"):
            zv = self._logits(Xa[va])
            if self.calibration == "platt":
                self.calibrator_ = PerLabelPlatt().fit(zv, Yv)
            if self.threshold == "tuned":
                self.thresholds_ = tune_thresholds(self._proba_from_logits(zv), Yv)
        return self

    def _proba_from_logits(self, z: np.ndarray) -> np.ndarray:
        if self.calibrator_ is not None:
            return self.calibrator_.transform(z)
        return expit(z)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._proba_from_logits(self._logits(X))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    def predict_labels(self, X: Any) -> list[list[Any]]:
        return [list(self.classes_[np.flatnonzero(r)]) for r in self.predict(X)]


class MultiLabelHead(MultiLabelClassifier):
    """PTEC-style multi-label head over frozen embeddings (see :mod:`labelwise.learn.heads`).

    A :class:`MultiLabelClassifier` with these defaults: a linear per-label head (``hidden=()``; one independent
    sigmoid output per label, initialised at zero, so scores do not depend on label order), weighted BCE with
    ``pos_weight="max_ratio"``, per-label Platt calibration and per-label F1-tuned thresholds on a 20 %
    validation split.
    """

    def __init__(self, loss: str = "bce", hidden: tuple[int, ...] = (), epochs: int = 200, batch_size: int = 64,
                 lr: float = 1e-2, weight_decay: float = 0.0, dropout: float = 0.0,
                 pos_weight: str | None = "max_ratio",
                 calibration: str | None = "platt", threshold: float | str = "tuned", alpha: float = 1.0,
                 gamma: float = 0.55, validation_fraction: float = 0.2, patience: int = 20, random_state: Any = None,
                 n_threads: int | None = None, mixup: float = 0.0, scale: float = 16.0, margin_pos: float = 0.0,
                 margin_neg: float = 0.0, neg_sample_ratio: float = 1.0):
        super().__init__(loss=loss, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, dropout=dropout, pos_weight=pos_weight, calibration=calibration,
                         threshold=threshold, alpha=alpha, gamma=gamma, validation_fraction=validation_fraction,
                         patience=patience, random_state=random_state, n_threads=n_threads, mixup=mixup,
                         scale=scale, margin_pos=margin_pos, margin_neg=margin_neg,
                         neg_sample_ratio=neg_sample_ratio)


class ImbalancedRegressor(RegressorMixin, _TorchEstimator):
    """MLP regressor for long-tailed targets: L1 loss, optionally plus ``beta`` times the ConR regulariser.

    Each step uses two views of the batch (features plus Gaussian noise of std ``view_noise`` on the
    standardised inputs) for the L1 loss in both settings, so ``conr=False`` is the same model without the
    regulariser. ``window`` is in target units (ConR compares raw targets and raw predictions).
    ``fit(X (n, d), y (n,) float, progress=None)``; ``predict(X) -> (n,) float``.
    Learned: ``n_features_in_``, ``x_mean_``, ``x_std_`` (``(d,)``), ``y_mean_``, ``y_std_``, ``model_``, ``n_epochs_``,
    ``best_val_score_``.
    """

    def __init__(self, conr: bool = True, beta: float = 4.0, window: float = 1.0, temperature: float = 0.2,
                 push: float = 0.01, view_noise: float = 0.1, hidden: tuple[int, ...] = (128, 64), epochs: int = 100,
                 batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0,
                 validation_fraction: float = 0.1, patience: int = 10, random_state: Any = None,
                 n_threads: int | None = None):
        self.conr, self.beta, self.window, self.temperature, self.push = conr, beta, window, temperature, push
        self.view_noise, self.hidden, self.epochs, self.batch_size = view_noise, hidden, epochs, batch_size
        self.lr, self.weight_decay, self.dropout = lr, weight_decay, dropout
        self.validation_fraction, self.patience = validation_fraction, patience
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, y: Any, progress: Optional[ProgressCallback] = None) -> "ImbalancedRegressor":
        Xa = _check_X(X)
        ya = _check_y(y, len(Xa), classifier=False).astype(np.float32)
        if not np.isfinite(ya).all():
            raise ShapeError("y has a NaN or infinite value; drop those rows.")
        if self.conr and not self.hidden:
            raise ParameterError("conr=True needs at least one hidden layer (ConR acts on the hidden features).")
        self.n_features_in_ = Xa.shape[1]
        self.x_mean_, self.x_std_ = Xa.mean(0), Xa.std(0) + 1e-6
        self.y_mean_, self.y_std_ = float(ya.mean()), float(ya.std() + 1e-6)
        Xs = (Xa - self.x_mean_) / self.x_std_
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        tr, va = _val_split(len(Xa), self.validation_fraction, rng)
        Xt, yt = torch.from_numpy(Xs[tr]), torch.from_numpy(ya[tr])
        Xv, yv = torch.from_numpy(Xs[va]), torch.from_numpy(ya[va])
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = PerLabelLinear(Xa.shape[1], 1, tuple(self.hidden), self.dropout)

            def raw(h: torch.Tensor) -> torch.Tensor:
                return model.out(h).squeeze(1) * self.y_std_ + self.y_mean_

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                x = Xt[b].repeat(2, 1)
                x = x + self.view_noise * torch.randn(x.shape, generator=gen)
                target = yt[b].repeat(2)
                h = model.body(x)
                pred = raw(h)
                loss = (pred - target).abs().mean()
                if self.conr:
                    loss = loss + self.beta * conr_loss(h, target, pred.detach(), window=self.window,
                                                        temperature=self.temperature, push=self.push)
                return loss

            def val_score() -> float:
                return -float((raw(model.body(Xv)) - yv).abs().mean())

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_ = model
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        Xa = _check_X(X, self.n_features_in_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            z = self.model_(torch.from_numpy((Xa - self.x_mean_) / self.x_std_)).squeeze(1).numpy()
        return z.astype(np.float64) * self.y_std_ + self.y_mean_
