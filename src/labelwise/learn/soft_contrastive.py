"""SoftCon: contrastive pre-training guided by (free, automatic) multi-labels, with soft cross-example targets.

Wang, Albrecht, Zhu, "Multi-Label Guided Soft Contrastive Learning for Efficient Earth Observation Pretraining"
(arXiv 2405.20462, 2024; code zhu-xlab/softcon, Apache-2.0, ships no training code). Plain contrastive learning
(InfoNCE) treats only the other view of the same example as positive. SoftCon replaces that one-hot target with the
similarity of the two examples' label sets, so examples that share labels are pulled together in proportion to
how much they share:

- ``T_ij = cos(y_i, y_j) = |y_i & y_j| / sqrt(|y_i| |y_j|)`` for ``i != j`` and ``T_ii = 1`` (the two views of one
  example). An example with no label falls back to pure instance discrimination (its row and column of ``T`` are the
  identity's), so with no labels at all the loss is exactly InfoNCE.
- ``form="softmax"`` (default): ``L = -(1/N) sum_i sum_j T~_ij log softmax_j(S_ij / tau)`` with ``S_ij = z_i . z'_j``
  (L2-normalised projections of the two views) and ``T~`` the row-normalised ``T``, averaged over both directions
  (``symmetric``). ``form="bce"``: ``mean_ij BCE(sigmoid(S_ij / tau + b), T_ij)`` with a learnable bias ``b``.
  The paper's exact functional form is not published; the notes' pilot favoured the softmax form, hence the default.

Defaults follow the notes' CPU experiment (not tuned on any shared data set): temperature 0.2 (the usual SimCLR /
SupCon range 0.1-0.5), Adam 1e-3, batch 128, 20 epochs, a 2-layer ReLU encoder (per tile for patch input, pooled by
sum) and a 2-layer projector to 32 dimensions whose output is discarded after pre-training (SimCLR's practice).
Augmentations act on precomputed features, since the encoder is agnostic to the modality: feature dropout (0.1) and
Gaussian noise (0.3 times the features' mean standard deviation) for vectors; for patches also a random order of
the patches (the default encoder is order-free; a user encoder that is not learns order invariance from it).

Algorithm floor: torch tensors (loss) and numpy arrays (estimators) in and out.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _multi_hot, _seed, _threads, _TorchEstimator
from labelwise.learn.probe import LinearProbe
from labelwise.progress import ProgressCallback

__all__ = ["SoftConClassifier", "SoftConPretrainer", "SoftContrastiveLoss", "label_similarity"]

_METRICS = ("cosine", "jaccard", "overlap")


def label_similarity(Y: Any, metric: str = "cosine", empty: str = "identity") -> torch.Tensor:
    """Pairwise label-set similarity ``T: (N, N) float32`` from multi-hot ``Y: (N, C)`` (tensor or array; nonzero =
    label present).

    metric: ``"cosine"`` (SoftCon: ``|y_i & y_j| / sqrt(|y_i| |y_j|)``), ``"jaccard"`` (``|y_i & y_j| / |y_i | y_j|``)
        or ``"overlap"`` (1 if the two share any label, else 0: hard multi-label SupCon's positives).
    empty: what a row with no label gets. ``"identity"``: 1 with itself, 0 with every other row (pure instance
        discrimination). ``"zero"``: 0 everywhere, itself included (the loss then leaves that row out).
    The diagonal is 1 for every row with a label, whatever the metric.
    """
    if metric not in _METRICS:
        raise ParameterError(f"metric must be one of {', '.join(_METRICS)}; got {metric!r}.")
    if empty not in ("identity", "zero"):
        raise ParameterError(f"empty must be 'identity' or 'zero'; got {empty!r}.")
    Yt = torch.as_tensor(np.asarray(Y) if not isinstance(Y, torch.Tensor) else Y)
    if Yt.ndim != 2:
        raise ShapeError(f"Y must be (N, C) multi-hot, got shape {tuple(Yt.shape)}.")
    Yt = (Yt > 0).float()
    inter = Yt @ Yt.T
    size = Yt.sum(1)
    if metric == "cosine":
        T = inter / torch.sqrt(size[:, None] * size[None, :]).clamp_min(1e-12)
    elif metric == "jaccard":
        T = inter / (size[:, None] + size[None, :] - inter).clamp_min(1e-12)
    else:
        T = (inter > 0).float()
    has = size > 0
    T = T * (has[:, None] & has[None, :]).float()
    diag = torch.ones(len(Yt)) if empty == "identity" else has.float()
    T.fill_diagonal_(0.0)
    return T + torch.diag(diag)


class SoftContrastiveLoss(torch.nn.Module):
    """SoftCon loss. ``forward(z1 (N, p), z2 (N, p), Y (N, C)) -> scalar``: ``z1[i]`` and ``z2[i]`` are the two views
    of example ``i`` (normalised here), ``Y`` its multi-hot labels (all zero = no label; ``None`` = no labels at all,
    i.e. InfoNCE).

    form: ``"softmax"`` (cross-entropy against row-normalised targets) or ``"bce"`` (per-pair BCE against the raw
        targets, learnable bias ``b`` so that ``sigmoid`` can reach targets near 0 and 1).
    temperature: ``tau`` in ``S / tau``. symmetric: average the loss over both directions (view 1 -> 2 and 2 -> 1).
    metric, empty: see :func:`label_similarity`. Rows whose targets are all zero (``empty="zero"``) are left out.
    """

    def __init__(self, form: str = "softmax", metric: str = "cosine", temperature: float = 0.2,
                 symmetric: bool = True, empty: str = "identity"):
        super().__init__()
        if form not in ("softmax", "bce"):
            raise ParameterError(f"form must be 'softmax' or 'bce'; got {form!r}.")
        if not temperature > 0:
            raise ParameterError(f"temperature must be > 0; got {temperature}.")
        self.form, self.metric, self.temperature = form, metric, float(temperature)
        self.symmetric, self.empty = symmetric, empty
        self.bias = torch.nn.Parameter(torch.zeros(())) if form == "bce" else None

    def targets(self, Y: Any, n: int) -> torch.Tensor:
        """``T: (n, n)`` for labels ``Y`` (None: the identity)."""
        if Y is None:
            return torch.eye(n)
        T = label_similarity(Y, self.metric, self.empty)
        if len(T) != n:
            raise ShapeError(f"Y has {len(T)} rows but the batch has {n} examples.")
        return T

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, Y: Any = None) -> torch.Tensor:
        if z1.shape != z2.shape or z1.ndim != 2:
            raise ShapeError(f"z1 and z2 must both be (N, p), got {tuple(z1.shape)} and {tuple(z2.shape)}.")
        S = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / self.temperature
        T = self.targets(Y, len(z1)).to(S.dtype)
        directions = [(S, T), (S.T, T.T)] if self.symmetric else [(S, T)]
        losses = []
        for s, t in directions:
            if self.form == "bce":
                losses.append(F.binary_cross_entropy_with_logits(s + self.bias, t))
                continue
            mass = t.sum(1)
            keep = mass > 0
            rows = -(t[keep] / mass[keep, None] * F.log_softmax(s[keep], dim=1)).sum(1)
            losses.append(rows.mean() if keep.any() else s.sum() * 0.0)
        return torch.stack(losses).mean()


class _VectorEncoder(torch.nn.Module):
    """``(B, d) -> (B, out)``: Linear-ReLU-Linear-ReLU (non-negative features)."""

    def __init__(self, d: int, hidden: int, out: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, out),
                                       torch.nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _PatchEncoder(_VectorEncoder):
    """``(B, P, d) -> (B, out)``: the vector encoder on every patch, then sum or max pooling over patches."""

    def __init__(self, d: int, hidden: int, out: int, pool: str):
        super().__init__(d, hidden, out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)
        return h.amax(1) if self.pool == "max" else h.sum(1)


def _check_features(X: Any, shape: Optional[tuple[int, ...]] = None, where: str = "") -> np.ndarray:
    """``X: (n, d)`` or ``(n, P, d)`` finite float32; with ``shape`` (the fitted one, without n) it must match."""
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"X must be a numeric (n, d) or (n, P, d) array: {exc}") from exc
    if arr.ndim not in (2, 3) or len(arr) == 0:
        raise ShapeError(f"X must be a non-empty (n, d) or (n, P, d) array, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ShapeError(f"X has a NaN or infinite value (first in row {row}); impute or drop it.")
    if shape is not None and arr.shape[1:] != shape:
        raise ShapeError(f"X has shape (n, {', '.join(map(str, arr.shape[1:]))}), but {where} was fitted on "
                         f"(n, {', '.join(map(str, shape))}).")
    return arr


class SoftConPretrainer(TransformerMixin, _TorchEstimator):
    """Encoder-agnostic SoftCon pre-training over precomputed features or patches (two augmented views per example,
    a projector, :class:`SoftContrastiveLoss`).

    Parameters
    ----------
    encoder: a torch module mapping a batch of ``X`` rows (``(B, d)`` or ``(B, P, d)``) to ``(B, out_dim)``, or
        None: a 2-layer ReLU MLP (``hidden``, ``out_dim``) for vectors; the same MLP on every patch, pooled by
        ``pool`` (``"sum"`` or ``"max"``), for patches. A given encoder is copied, never trained in place.
    form, metric, temperature, symmetric: the loss (:class:`SoftContrastiveLoss`). ``metric="overlap"`` gives hard
        multi-label SupCon; ``fit(X)`` without labels gives InfoNCE.
    proj_dim: the projector's output (Linear-ReLU-Linear, ``out_dim -> out_dim -> proj_dim``).
    noise, dropout: the view augmentation (Gaussian noise of ``noise`` times the features' mean standard deviation,
        then feature dropout); patches are also shuffled.

    ``fit(X (n, d) or (n, P, d), Y=None (n, C) multi-hot or label lists, progress=None)``;
    ``transform(X) -> (n, out_dim)`` float32, the encoder's features (the projector is discarded).
    Learned: ``encoder_``, ``projector_``, ``loss_``, ``x_shape_`` (a row's shape), ``feature_scale_``, ``n_epochs_``.
    """

    def __init__(self, encoder: Optional[torch.nn.Module] = None, hidden: int = 128, out_dim: int = 64,
                 proj_dim: int = 32, pool: str = "sum", form: str = "softmax", metric: str = "cosine",
                 temperature: float = 0.2, symmetric: bool = True, noise: float = 0.3, dropout: float = 0.1,
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                 random_state: Any = None, n_threads: Optional[int] = None):
        self.encoder, self.hidden, self.out_dim, self.proj_dim, self.pool = encoder, hidden, out_dim, proj_dim, pool
        self.form, self.metric, self.temperature, self.symmetric = form, metric, temperature, symmetric
        self.noise, self.dropout = noise, dropout
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.random_state, self.n_threads = random_state, n_threads

    def _views(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One augmented view of a batch ``x`` (``(B, d)`` or ``(B, P, d)``)."""
        if x.ndim == 3:
            order = torch.argsort(torch.rand(x.shape[:2], generator=gen), dim=1)
            x = torch.gather(x, 1, order[:, :, None].expand_as(x))
        if self.noise:
            x = x + self.noise * self.feature_scale_ * torch.randn(x.shape, generator=gen)
        if self.dropout:
            keep = (torch.rand(x.shape, generator=gen) >= self.dropout).to(x.dtype)
            x = x * keep / (1.0 - self.dropout)
        return x

    def fit(self, X: Any, Y: Any = None, progress: Optional[ProgressCallback] = None) -> "SoftConPretrainer":
        if self.pool not in ("sum", "max"):
            raise ParameterError(f"pool must be 'sum' or 'max'; got {self.pool!r}.")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout must be in [0, 1); got {self.dropout}.")
        Xa = _check_features(X)
        T = None
        if Y is not None:
            T, _ = _multi_hot(Y)
            if len(T) != len(Xa):
                raise ShapeError(f"Y has {len(T)} rows but X has {len(Xa)}.")
            T = torch.from_numpy((T == 1).astype(np.float32))
        self.x_shape_ = Xa.shape[1:]
        self.feature_scale_ = float(Xa.reshape(-1, Xa.shape[-1]).std(0).mean()) or 1.0
        seed = _seed(self.random_state)
        Xt = torch.from_numpy(Xa)
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            if self.encoder is not None:
                encoder = copy.deepcopy(self.encoder)
            elif Xa.ndim == 3:
                encoder = _PatchEncoder(Xa.shape[2], self.hidden, self.out_dim, self.pool)
            else:
                encoder = _VectorEncoder(Xa.shape[1], self.hidden, self.out_dim)
            encoder.eval()  # one probe forward pass for the output width (no BatchNorm update)
            with torch.no_grad():
                out = encoder(Xt[:2]).shape[-1]
            projector = torch.nn.Sequential(torch.nn.Linear(out, out), torch.nn.ReLU(),
                                            torch.nn.Linear(out, self.proj_dim))
            loss = SoftContrastiveLoss(self.form, self.metric, self.temperature, self.symmetric)
            model = torch.nn.ModuleDict({"encoder": encoder, "projector": projector})

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                x = Xt[b]
                z1 = projector(encoder(self._views(x, gen)))
                z2 = projector(encoder(self._views(x, gen)))
                return loss(z1, z2, None if T is None else T[b])

            self._train(model, len(Xa), batch_loss, None, gen, progress, extra_params=list(loss.parameters()))
        self.encoder_, self.projector_, self.loss_ = encoder, projector, loss
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "encoder_")
        Xa = _check_features(X, self.x_shape_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            self.encoder_.eval()
            return self.encoder_(torch.from_numpy(Xa)).numpy().astype(np.float32)


class SoftConClassifier(BaseEstimator):
    """SoftCon pre-training on ``(X, Y)`` (:class:`SoftConPretrainer`), then a linear per-label probe
    (:class:`labelwise.learn.probe.LinearProbe`, logistic regression with ``C=probe_C``) on the frozen features.

    Useful when the labels are weak or automatic (SoftCon's setting): the encoder learns from how label sets
    overlap, the probe reads the labels off. Parameters: those of :class:`SoftConPretrainer` plus ``probe_input``,
    ``probe_C`` and ``threshold`` (on the probe's probabilities). ``probe_input="both"`` (default): the probe reads
    the input features (patches: their mean) next to the learned ones. In the paper the encoder is the whole
    backbone and sees pixels; here it is a small network on top of features that are already a representation
    (e.g. sentence embeddings), and a 64-d projection of them learned from a small table can only lose what the
    input holds, so the probe keeps the input and pre-training can only add to it. ``"learned"``: the paper's
    linear probe on the encoder's output alone.

    ``fit(X (n, d) or (n, P, d), Y (n, K) 0/1 or label lists, progress=None)``; ``transform(X) -> (n, out_dim)``
    (the learned features); ``predict_proba(X) -> (n, K)``; ``predict(X) -> (n, K)`` 0/1. Learned: ``classes_``,
    ``pretrainer_``, ``probe_``.
    """

    def __init__(self, encoder: Optional[torch.nn.Module] = None, hidden: int = 128, out_dim: int = 64,
                 proj_dim: int = 32, pool: str = "sum", form: str = "softmax", metric: str = "cosine",
                 temperature: float = 0.2, symmetric: bool = True, noise: float = 0.3, dropout: float = 0.1,
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                 probe_input: str = "both", probe_C: float = 1.0, threshold: float = 0.5, random_state: Any = None,
                 n_threads: Optional[int] = None):
        self.probe_input = probe_input
        self.encoder, self.hidden, self.out_dim, self.proj_dim, self.pool = encoder, hidden, out_dim, proj_dim, pool
        self.form, self.metric, self.temperature, self.symmetric = form, metric, temperature, symmetric
        self.noise, self.dropout = noise, dropout
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.probe_C, self.threshold = probe_C, threshold
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, Y: Any, progress: Optional[ProgressCallback] = None) -> "SoftConClassifier":
        if self.probe_input not in ("both", "learned"):
            raise ParameterError(f"probe_input must be 'both' or 'learned'; got {self.probe_input!r}.")
        T, self.classes_ = _multi_hot(Y)
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in ("probe_input", "probe_C", "threshold")}
        self.pretrainer_ = SoftConPretrainer(**params).fit(X, T, progress=progress)
        self.probe_ = LinearProbe(C=self.probe_C).fit(self._probe_features(X), (T == 1).astype(int))
        return self

    def _probe_features(self, X: Any) -> np.ndarray:
        learned = self.transform(X)
        if self.probe_input == "learned":
            return learned
        raw = _check_features(X, self.pretrainer_.x_shape_, type(self).__name__)
        return np.concatenate([raw.mean(1) if raw.ndim == 3 else raw, learned], axis=1)

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pretrainer_")
        return self.pretrainer_.transform(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        features = self._probe_features(X)
        return self.probe_.predict_proba(features)

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= self.threshold).astype(int)
