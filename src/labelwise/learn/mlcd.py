"""MLCD: a decoupled multi-label loss on a cosine classifier, and multi-label pseudo-labels from cluster centres.

Paper: An, Yang, Dai, Feng, Deng, "Multi-label Cluster Discrimination for Visual Representation Learning", ECCV 2024
(arXiv 2407.17331; models and inference code at deepglint/unicom, MIT). The repository releases no training loss
and no clustering code, so this is a re-implementation from the paper's description.

MLCD clusters a large unlabelled collection on off-the-shelf embeddings and gives every row its ``l`` nearest
centres as positive pseudo-labels (all other centres are negatives), then trains a cosine classifier on them. With
normalised features ``f`` and normalised prototypes ``w_j``, the scores are ``cos_j = <f, w_j>`` and the loss keeps
the positive and the negative terms apart::

    L = log(1 + sum_{j in N} exp(s (cos_j + m_n))) + log(1 + sum_{i in P} exp(-s (cos_i - m_p)))

Every positive is pushed above ``m_p`` and every negative below ``-m_n`` on its own, so the decision boundary is an
absolute one: ``cos > 0``. The coupled (Circle-loss style) form the paper argues against,
``log(1 + sum_{i in P} sum_{j in N} exp(s (cos_j - cos_i + m)))``, only orders positives above negatives and
leaves the boundary anywhere (:class:`CoupledPairwiseLoss`, kept for the comparison). With a million centres each
step scores all positive classes plus a random share of the others (PartialFC-style negative-class sampling,
:func:`sample_classes`).

Pieces (algorithm floor: torch tensors or numpy arrays in and out):

- :func:`decoupled_multilabel_loss` / :class:`DecoupledMultiLabelLoss`: the loss above, with sampling;
- :func:`coupled_pairwise_loss` / :class:`CoupledPairwiseLoss`: the coupled comparison;
- :func:`multi_positive_softmax_loss`: softmax cross-entropy against the uniform distribution over the positives
  (single-label cluster discrimination, UNICOM, when each row has one positive);
- :class:`CosineClassifier`: hidden layers, normalised features, normalised prototypes, ``scale * cos``;
- :class:`ClusterPseudoLabeler`: k-means centres on embeddings, top-``l`` nearest centres as multi-hot
  pseudo-labels; centres labelled by their members' labels give label sets to unlabelled rows; a coverage report.

The estimator is ``labelwise.learn.MultiLabelClassifier(loss="mlcd")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.heads import mlp_body

__all__ = [
    "ClusterPseudoLabeler",
    "CosineClassifier",
    "CoupledPairwiseLoss",
    "CoverageReport",
    "DecoupledMultiLabelLoss",
    "coupled_pairwise_loss",
    "decoupled_multilabel_loss",
    "multi_positive_softmax_loss",
    "sample_classes",
]

_NEG_INF = float("-inf")


def _check(cos: torch.Tensor, targets: torch.Tensor, scale: float) -> None:
    if cos.ndim != 2 or tuple(targets.shape) != tuple(cos.shape):
        raise ShapeError(f"the MLCD losses need cos (B, K) and targets (B, K) of the same shape, got "
                         f"{tuple(cos.shape)} and {tuple(targets.shape)}.")
    if not scale > 0:
        raise ParameterError(f"scale must be > 0, got {scale}.")


def _reduce(per_row: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    if reduction == "none":
        return per_row
    raise ParameterError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def _masked_logsumexp(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise ``log sum_{mask} exp(x)``: ``(B, K) -> (B,)``, ``-inf`` for a row with nothing in ``mask`` (with a
    zero, not NaN, gradient)."""
    has = mask.any(dim=1)
    safe = torch.where(mask, x, _NEG_INF)
    safe = torch.where(has[:, None], safe, torch.zeros_like(x))
    return torch.where(has, torch.logsumexp(safe, dim=1), _NEG_INF)


def sample_classes(positive: torch.Tensor, ratio: float, generator: Optional[torch.Generator] = None
                   ) -> torch.Tensor:
    """The classes scored in this step: ``(K,) bool``.

    ``positive: (B, K) bool``. Every class with a positive in the batch is kept, then classes drawn uniformly
    without replacement from the others until ``ceil(ratio * K)`` are kept (more when the batch has more positive
    classes than that). ``ratio >= 1`` keeps every class and draws nothing. Call it every step (a fresh draw);
    in a distributed run the shards need one shared ``generator`` seed.
    """
    if not 0 < ratio:
        raise ParameterError(f"neg_sample_ratio must be in (0, 1], got {ratio}.")
    k = positive.shape[1]
    if ratio >= 1.0:
        return torch.ones(k, dtype=torch.bool, device=positive.device)
    keep = positive.any(dim=0)
    n_more = int(math.ceil(ratio * k)) - int(keep.sum())
    if n_more > 0:
        rest = torch.nonzero(~keep).squeeze(1)
        pick = rest[torch.randperm(len(rest), generator=generator)[:n_more].to(rest.device)]
        keep = keep.clone()
        keep[pick] = True
    return keep


def decoupled_multilabel_loss(
    cos: torch.Tensor,
    targets: torch.Tensor,
    *,
    scale: float = 16.0,
    margin_pos: float = 0.0,
    margin_neg: float = 0.0,
    neg_sample_ratio: float = 1.0,
    generator: Optional[torch.Generator] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """MLCD's decoupled multi-label loss (a scalar tensor; ``(B,)`` with ``reduction="none"``).

    Per row: ``log(1 + sum_{j in N} exp(s (cos_j + m_n))) + log(1 + sum_{i in P} exp(-s (cos_i - m_p)))``. The
    ``1 +`` is a zero logit in each log-sum-exp, so the loss tends to 0 once every positive is above ``m_p`` and
    every negative below ``-m_n``; a row without positives has a zero positive term.

    Parameters
    ----------
    cos: ``(B, K) float``, cosines between normalised features and normalised prototypes (in [-1, 1]).
    targets: ``(B, K)``; ``1`` = positive (``P``), anything else (0, -1) = negative (``N``).
    scale: ``s``; multiplies the cosines (see ``MultiLabelClassifier`` for the default 16).
    margin_pos, margin_neg: ``m_p``, ``m_n``: positives are pushed above ``m_p``, negatives below ``-m_n``.
    neg_sample_ratio: share of the classes scored per call (:func:`sample_classes`: all positives of the batch are
        always kept; the negative term of each row runs over the kept classes that are not its positives).
    generator: the torch generator for the draw (``None``: torch's global one).
    reduction: ``"mean"`` over rows, ``"sum"`` or ``"none"``.
    """
    _check(cos, targets, scale)
    pos = targets == 1
    neg = ~pos & sample_classes(pos, neg_sample_ratio, generator)[None, :]
    zero = cos.new_zeros((cos.shape[0], 1))
    neg_logits = torch.where(neg, scale * (cos + margin_neg), _NEG_INF)
    pos_logits = torch.where(pos, -scale * (cos - margin_pos), _NEG_INF)
    per_row = (torch.logsumexp(torch.cat([zero, neg_logits], dim=1), dim=1)
               + torch.logsumexp(torch.cat([zero, pos_logits], dim=1), dim=1))
    return _reduce(per_row, reduction)


def coupled_pairwise_loss(cos: torch.Tensor, targets: torch.Tensor, *, scale: float = 16.0, margin: float = 0.0,
                          reduction: str = "mean") -> torch.Tensor:
    """The coupled pairwise (Circle-loss style) multi-label loss MLCD compares against (scalar tensor).

    Per row: ``log(1 + sum_{i in P} sum_{j in N} exp(s (cos_j - cos_i + m)))``, computed as
    ``softplus(LSE_N(s cos) + LSE_P(-s cos) + s m)``. Only differences between positive and negative scores enter,
    so shifting every score of a row by the same amount leaves the loss unchanged: there is no absolute threshold.
    A row without positives or without negatives adds 0. ``cos``, ``targets`` and ``reduction`` as in
    :func:`decoupled_multilabel_loss`.
    """
    _check(cos, targets, scale)
    pos = targets == 1
    pairs = _masked_logsumexp(scale * cos, ~pos) + _masked_logsumexp(-scale * cos, pos) + scale * margin
    return _reduce(F.softplus(pairs), reduction)


def multi_positive_softmax_loss(cos: torch.Tensor, targets: torch.Tensor, *, scale: float = 16.0,
                                reduction: str = "mean") -> torch.Tensor:
    """Softmax cross-entropy of ``s * cos`` against the uniform distribution over each row's positives (scalar
    tensor): single-label cluster discrimination (UNICOM) when each row has one positive, the "softmax with several
    positives" baseline otherwise. A row without positives adds 0."""
    _check(cos, targets, scale)
    pos = (targets == 1).to(cos.dtype)
    logp = F.log_softmax(scale * cos, dim=1)
    per_row = -(logp * pos).sum(dim=1) / pos.sum(dim=1).clamp(min=1.0)
    return _reduce(per_row, reduction)


class DecoupledMultiLabelLoss(torch.nn.Module):
    """Module form of :func:`decoupled_multilabel_loss`: ``forward(cos (B, K), targets (B, K), generator=None)``.
    Each call draws its own sample of negative classes."""

    def __init__(self, scale: float = 16.0, margin_pos: float = 0.0, margin_neg: float = 0.0,
                 neg_sample_ratio: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.scale, self.margin_pos, self.margin_neg = scale, margin_pos, margin_neg
        self.neg_sample_ratio, self.reduction = neg_sample_ratio, reduction

    def forward(self, cos: torch.Tensor, targets: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return decoupled_multilabel_loss(cos, targets, scale=self.scale, margin_pos=self.margin_pos,
                                         margin_neg=self.margin_neg, neg_sample_ratio=self.neg_sample_ratio,
                                         generator=generator, reduction=self.reduction)


class CoupledPairwiseLoss(torch.nn.Module):
    """Module form of :func:`coupled_pairwise_loss`: ``forward(cos (B, K), targets (B, K))``."""

    def __init__(self, scale: float = 16.0, margin: float = 0.0, reduction: str = "mean"):
        super().__init__()
        self.scale, self.margin, self.reduction = scale, margin, reduction

    def forward(self, cos: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return coupled_pairwise_loss(cos, targets, scale=self.scale, margin=self.margin, reduction=self.reduction)


class CosineClassifier(torch.nn.Module):
    """``(B, d_in) -> (B, K)`` scores ``scale * cos(f, w_k)``: the hidden layers of
    :func:`labelwise.learn.heads.mlp_body`, then the L2-normalised feature ``f`` against L2-normalised prototypes
    ``w: (K, d)`` (random normal start). ``features(x) -> (B, d)`` (unit rows), ``cosine(x) -> (B, K)``."""

    def __init__(self, d_in: int, n_labels: int, hidden: tuple[int, ...] = (), dropout: float = 0.0,
                 scale: float = 16.0):
        super().__init__()
        self.body, d = mlp_body(d_in, hidden, dropout)
        self.prototypes = torch.nn.Parameter(torch.randn(n_labels, d))
        self.scale = float(scale)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(x), dim=1)

    def cosine(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ F.normalize(self.prototypes, dim=1).T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosine(x)


@dataclass(frozen=True)
class CoverageReport:
    """How well the label sets implied by the top-``l`` centres match the true label sets, one entry per ``l``.

    top_l: ``(m,) int``; all_covered: ``(m,)`` share of rows whose every true label is implied; recall: ``(m,)``
    mean share of a row's true labels implied; precision: ``(m,)`` mean share of a row's implied labels that are
    true (over rows with an implied label); set_size: ``(m,)`` mean number of implied labels; n_rows: rows with at
    least one true label (the others are left out).
    """

    top_l: np.ndarray
    all_covered: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    set_size: np.ndarray
    n_rows: int

    def __repr__(self) -> str:
        lines = [f"CoverageReport({self.n_rows} rows)", "  l  all_covered  recall  precision  set_size"]
        for i, l in enumerate(self.top_l):
            lines.append(f"{int(l):3d}  {self.all_covered[i]:11.3f}  {self.recall[i]:6.3f}  {self.precision[i]:9.3f}"
                         f"  {self.set_size[i]:8.2f}")
        return "\n".join(lines)


def _embeddings(E: Any, n_features: Optional[int] = None) -> np.ndarray:
    """``E: (n, d)`` as float32 (dense, 2-D, finite), scikit-learn's message raised as a :class:`ShapeError`."""
    try:
        arr = check_array(E, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"E: {exc}") from exc
    if n_features is not None and arr.shape[1] != n_features:
        raise ShapeError(f"E has {arr.shape[1]} features, but the centres have {n_features}; embed with the same "
                         f"encoder as in fit.")
    return arr


def _label_matrix(Y: Any, classes: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """``Y``: a ``(n, C)`` 0/1 array or a sequence of label lists -> (``(n, C) bool``, classes)."""
    if isinstance(Y, np.ndarray) and Y.ndim == 2 and Y.dtype != object:
        return Y == 1, (np.arange(Y.shape[1]) if classes is None else classes)
    rows = list(Y)
    if any(isinstance(r, str) for r in rows):
        raise ShapeError("Y holds a string where a list of labels per row is expected; give a list per row.")
    mlb = MultiLabelBinarizer(classes=None if classes is None else list(classes))
    T = mlb.fit_transform(rows) == 1
    return T, np.asarray(mlb.classes_)


class ClusterPseudoLabeler(TransformerMixin, BaseEstimator):
    """MLCD's clustering step: k-means centres on embeddings; each row's ``top_l`` nearest centres are its
    multi-hot pseudo-labels (``l = 1`` is single-label cluster discrimination).

    Parameters
    ----------
    n_clusters: number of centres ``k`` (the paper: one million on LAION-400M; tens to thousands here).
    top_l: ``l``, centres per row. Pseudo-label noise grows with ``l`` (a row's further centres are more often
        about something it does not show): check it with :meth:`coverage_report` rather than assume more is better.
    algorithm: ``"kmeans"`` (scikit-learn ``KMeans``) or ``"minibatch"`` (``MiniBatchKMeans``, for many rows).
    min_share: a centre carries a label when at least this share of its members (rows whose nearest centre it is)
        carry it (:meth:`label_centres`).
    n_init: scikit-learn's ``n_init``. random_state: seeds k-means.

    ``fit(E (n, d), Y=None)``: clusters ``E``; with ``Y`` (``(n, C)`` 0/1 or label lists) also labels the centres.
    ``transform(E) -> (n, k) int`` pseudo-labels; ``nearest(E) -> (n, l) int`` centre indices, nearest first.
    After :meth:`label_centres`: ``predict(E) -> (n, C) int``, the union of the labels of a row's ``l`` centres
    (label sets for unlabelled rows); ``predict_labels(E)`` as lists; :meth:`coverage_report`.
    Learned: ``cluster_centers_ (k, d)``, ``labels_ (n,)`` nearest centre of each fitted row, ``n_features_in_``;
    after labelling: ``classes_``, ``centre_share_ (k, C) float``, ``centre_labels_ (k, C) int``.
    Distances are Euclidean, as k-means uses: L2-normalise ``E`` first for cosine clusters (the paper's setting).
    """

    def __init__(self, n_clusters: int = 40, top_l: int = 4, algorithm: str = "kmeans", min_share: float = 0.3,
                 n_init: Any = "auto", random_state: Any = None):
        self.n_clusters, self.top_l, self.algorithm, self.min_share = n_clusters, top_l, algorithm, min_share
        self.n_init, self.random_state = n_init, random_state

    def _check_l(self, top_l: Optional[int]) -> int:
        l = self.top_l if top_l is None else top_l
        if not isinstance(l, (int, np.integer)) or not 1 <= l <= self.n_clusters:
            raise ParameterError(f"top_l must be an int in [1, n_clusters={self.n_clusters}], got {l!r}.")
        return int(l)

    def fit(self, E: Any, Y: Any = None) -> "ClusterPseudoLabeler":
        from sklearn.cluster import KMeans, MiniBatchKMeans

        Ea = _embeddings(E)
        if self.algorithm not in ("kmeans", "minibatch"):
            raise ParameterError(f"algorithm must be 'kmeans' or 'minibatch', got {self.algorithm!r}.")
        if not isinstance(self.n_clusters, (int, np.integer)) or not 1 <= self.n_clusters <= len(Ea):
            raise ParameterError(f"n_clusters must be an int in [1, n rows = {len(Ea)}], got {self.n_clusters!r}.")
        self._check_l(None)
        km_cls = KMeans if self.algorithm == "kmeans" else MiniBatchKMeans
        km = km_cls(n_clusters=int(self.n_clusters), n_init=self.n_init, random_state=self.random_state)
        km.fit(Ea)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self.n_features_in_ = Ea.shape[1]
        self.labels_ = self.nearest(Ea, top_l=1)[:, 0]
        if Y is not None:
            self.label_centres(Y)
        return self

    def _distances(self, E: Any) -> np.ndarray:
        check_is_fitted(self, "cluster_centers_")
        Ea = _embeddings(E, self.n_features_in_).astype(np.float64)
        C = self.cluster_centers_.astype(np.float64)
        return (Ea ** 2).sum(1)[:, None] - 2.0 * Ea @ C.T + (C ** 2).sum(1)[None, :]

    def nearest(self, E: Any, top_l: Optional[int] = None) -> np.ndarray:
        """``(n, l) int``: the indices of each row's ``l`` nearest centres, nearest first (ties by index)."""
        l = self._check_l(top_l)
        return np.argsort(self._distances(E), axis=1, kind="stable")[:, :l]

    def transform(self, E: Any, top_l: Optional[int] = None) -> np.ndarray:
        """``(n, k) int`` multi-hot pseudo-labels: 1 at each row's ``l`` nearest centres."""
        idx = self.nearest(E, top_l)
        P = np.zeros((len(idx), self.cluster_centers_.shape[0]), dtype=np.int64)
        np.put_along_axis(P, idx, 1, axis=1)
        return P

    def label_centres(self, Y: Any, E: Any = None, min_share: Optional[float] = None) -> "ClusterPseudoLabeler":
        """Label each centre with the labels that at least ``min_share`` (default ``self.min_share``) of its
        members carry. ``Y``: ``(m, C)`` 0/1 or label lists for the rows ``E (m, d)`` (default: the fitted rows,
        ``m = n``); a row's centre is its nearest one. A centre without labelled members gets no label."""
        check_is_fitted(self, "cluster_centers_")
        share_min = self.min_share if min_share is None else min_share
        if not 0 < share_min <= 1:
            raise ParameterError(f"min_share must be in (0, 1], got {share_min}.")
        T, classes = _label_matrix(Y)
        members = self.labels_ if E is None else self.nearest(E, top_l=1)[:, 0]
        if len(T) != len(members):
            raise ShapeError(f"Y has {len(T)} rows but there are {len(members)} rows to label the centres with "
                             f"(pass E for rows other than the fitted ones).")
        k = self.cluster_centers_.shape[0]
        counts = np.zeros((k, T.shape[1]))
        np.add.at(counts, members, T.astype(float))
        sizes = np.bincount(members, minlength=k).astype(float)
        self.classes_ = classes
        self.centre_share_ = counts / np.maximum(sizes, 1.0)[:, None]
        self.centre_labels_ = (self.centre_share_ >= share_min - 1e-12).astype(np.int64) * (sizes > 0)[:, None]
        return self

    def predict(self, E: Any, top_l: Optional[int] = None) -> np.ndarray:
        """``(n, C) int``: the union of the labels of each row's ``l`` nearest centres (:meth:`label_centres`)."""
        check_is_fitted(self, "centre_labels_")
        idx = self.nearest(E, top_l)
        return self.centre_labels_[idx].max(axis=1)

    def predict_labels(self, E: Any, top_l: Optional[int] = None) -> list[list[Any]]:
        return [list(self.classes_[np.flatnonzero(r)]) for r in self.predict(E, top_l)]

    def coverage_report(self, E: Any, Y: Any, top_ls: Optional[Sequence[int]] = None) -> CoverageReport:
        """Compare the label sets the top-``l`` centres imply (:meth:`predict`) with the true ``Y`` (``(n, C)`` 0/1
        in ``classes_`` order, or label lists) of the rows ``E``, for each ``l`` in ``top_ls`` (default: 1, 2, 4, 8
        up to ``n_clusters``). Label the centres with other rows than the ones you evaluate, or the figures flatter
        the clusters."""
        check_is_fitted(self, "centre_labels_")
        if top_ls is None:
            top_ls = tuple(l for l in (1, 2, 4, 8) if l <= self.n_clusters)
        T, _ = _label_matrix(Y, None if isinstance(Y, np.ndarray) and Y.ndim == 2 else self.classes_)
        if T.shape[1] != self.centre_labels_.shape[1]:
            raise ShapeError(f"Y has {T.shape[1]} label columns, but the centres carry {self.centre_labels_.shape[1]}.")
        idx = self.nearest(E, max(top_ls))
        if len(idx) != len(T):
            raise ShapeError(f"Y has {len(T)} rows but E has {len(idx)}.")
        rows = T.any(axis=1)
        Tr, idx = T[rows], idx[rows]
        out: dict[str, list[float]] = {key: [] for key in ("all_covered", "recall", "precision", "set_size")}
        for l in top_ls:
            implied = self.centre_labels_[idx[:, :self._check_l(l)]].max(axis=1) == 1
            hit, size = (implied & Tr).sum(1), implied.sum(1)
            out["all_covered"].append(float((hit == Tr.sum(1)).mean()))
            out["recall"].append(float((hit / Tr.sum(1)).mean()))
            out["precision"].append(float((hit[size > 0] / size[size > 0]).mean()) if (size > 0).any() else 0.0)
            out["set_size"].append(float(size.mean()))
        return CoverageReport(np.asarray(top_ls, dtype=int), *(np.asarray(out[k]) for k in out),
                              n_rows=int(rows.sum()))
