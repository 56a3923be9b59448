"""Per-label scoring, calibration and thresholds for multi-label heads over frozen embeddings.

In the spirit of PTEC: Buchner, Cao, Kalo, von Ehrenheim, "Prompt Tuned Embedding Classification for Multi-Label
Industry Sector Allocation", NAACL 2024 Industry (arXiv 2309.12075; code EQTPartners/PTEC, MIT). PTEC replaces
text-to-text label generation by a classification head with one sigmoid output per label, trained with BCE weighted
by ``pos_weight_c = max_c' n_c' / n_c``: the label set is valid by construction, scores do not depend on the order
of labels, and every label gets a confidence. labelwise keeps the embeddings frozen (no soft prompt) and adds what
the paper's notes ask for on top of a bare 0.5 threshold: per-label Platt calibration on a validation split and
per-label thresholds tuned there.

Algorithm floor (numpy/torch arrays in and out). The estimator is :class:`labelwise.learn.MultiLabelHead`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError


def mlp_body(d_in: int, hidden: tuple[int, ...] = (), dropout: float = 0.0) -> tuple[torch.nn.Sequential, int]:
    """The shared hidden layers ``(B, d_in) -> (B, d_out)`` (Linear + ReLU [+ Dropout] per width in ``hidden``;
    empty: the identity) and ``d_out`` (``hidden[-1]``, or ``d_in``)."""
    layers: list[torch.nn.Module] = []
    d = d_in
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        d = h
    return torch.nn.Sequential(*layers), d


class PerLabelLinear(torch.nn.Module):
    """``(B, d) -> (B, C)`` logits: an optional shared hidden layer, then one independent linear unit per label.

    The output layer starts at zero, so permuting the label columns of the training targets permutes the learned
    scores and nothing else (the hidden layer's initialisation does not depend on the labels).
    """

    def __init__(self, d_in: int, n_labels: int, hidden: tuple[int, ...] = (), dropout: float = 0.0):
        super().__init__()
        self.body, d = mlp_body(d_in, hidden, dropout)
        self.out = torch.nn.Linear(d, n_labels)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def max_ratio_pos_weight(Y: np.ndarray, cap: float = 100.0) -> np.ndarray:
    """PTEC's BCE ``pos_weight: (C,)`` = ``max_c n_c / n_c`` from ``Y: (n, C)`` 0/1 (labels with no positive get
    ``cap``; every weight is capped at ``cap``)."""
    Y = np.asarray(Y)
    n = (Y == 1).sum(axis=0).astype(float)
    w = np.where(n > 0, n.max() / np.maximum(n, 1.0), cap)
    return np.minimum(w, cap)


class PerLabelPlatt(BaseEstimator):
    """Per-label Platt scaling: ``p_c = sigmoid(a_c * logit_c + b_c)`` fitted by Newton's method on a validation
    split (an L2 penalty ``ridge`` keeps labels with one class only finite: they keep ``a = 1, b = 0`` pulled
    towards the data).

    ``fit(logits (n, C), Y (n, C))``, ``transform(logits) -> (n, C)`` probabilities. Learned: ``a_``, ``b_`` (``(C,)``).
    """

    def __init__(self, ridge: float = 1e-2, n_iter: int = 50):
        self.ridge, self.n_iter = ridge, n_iter

    def fit(self, logits: np.ndarray, Y: np.ndarray) -> "PerLabelPlatt":
        z = np.asarray(logits, dtype=float)
        t = np.asarray(Y, dtype=float)
        if z.ndim != 2 or z.shape != t.shape:
            raise ShapeError(f"logits and Y must both be (n, C), got {z.shape} and {t.shape}.")
        a, b = np.ones(z.shape[1]), np.zeros(z.shape[1])
        for _ in range(self.n_iter):
            p = expit(a * z + b)
            r = p - t
            h = p * (1 - p)
            ga = (r * z).sum(0) + self.ridge * (a - 1.0)
            gb = r.sum(0) + self.ridge * b
            haa = (h * z * z).sum(0) + self.ridge
            hab = (h * z).sum(0)
            hbb = h.sum(0) + self.ridge
            det = haa * hbb - hab * hab
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
            a, b = a - da, b - db
            if max(np.abs(da).max(), np.abs(db).max()) < 1e-8:
                break
        self.a_, self.b_ = a, b
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "a_")
        z = np.asarray(logits, dtype=float)
        if z.ndim != 2 or z.shape[1] != self.a_.shape[0]:
            raise ShapeError(f"logits must be (n, {self.a_.shape[0]}) as in fit, got {z.shape}.")
        return expit(self.a_ * z + self.b_)


def tune_thresholds(probs: np.ndarray, Y: np.ndarray, default: float = 0.5, min_positives: int = 1) -> np.ndarray:
    """Per-label thresholds ``(C,)`` that maximise each label's F1 on ``probs: (n, C)`` against ``Y: (n, C)``.

    A threshold is put half-way between the probability that wins and the next lower one. Labels with fewer than
    ``min_positives`` positives keep ``default``.
    """
    P = np.asarray(probs, dtype=float)
    T = np.asarray(Y) == 1
    if P.ndim != 2 or P.shape != T.shape:
        raise ShapeError(f"probs and Y must both be (n, C), got {P.shape} and {T.shape}.")
    out = np.full(P.shape[1], float(default))
    for c in range(P.shape[1]):
        n_pos = int(T[:, c].sum())
        if n_pos < min_positives:
            continue
        order = np.argsort(-P[:, c], kind="stable")
        p_sorted, t_sorted = P[order, c], T[order, c]
        tp = np.cumsum(t_sorted)
        k = np.arange(1, len(p_sorted) + 1)
        f1 = 2 * tp / (k + n_pos)
        # only cut between distinct values
        cut_ok = np.append(p_sorted[1:] < p_sorted[:-1], True)
        f1 = np.where(cut_ok, f1, -1.0)
        best = int(np.argmax(f1))
        nxt = p_sorted[best + 1] if best + 1 < len(p_sorted) else 0.0
        out[c] = 0.5 * (p_sorted[best] + nxt)
    return out


def choose_thresholds(threshold: float | str, probs: np.ndarray | None, Y: np.ndarray | None,
                      n_labels: int) -> np.ndarray:
    """Thresholds ``(C,)`` for ``threshold``: a number (every label), ``"tuned"`` (per-label F1-optimal,
    :func:`tune_thresholds`) or ``"global"`` (one micro-F1-optimal threshold for every label: the choice when a
    validation split holds too few positives per label to set each label's own). ``probs``, ``Y``: ``(n, C)``
    validation probabilities and 0/1 labels (None or no rows: 0.5 for the tuned modes)."""
    if not (threshold in ("tuned", "global") or isinstance(threshold, (int, float))):
        raise ParameterError(f"threshold must be a number, 'tuned' or 'global', got {threshold!r}.")
    if isinstance(threshold, (int, float)):
        return np.full(n_labels, float(threshold))
    if probs is None or Y is None or len(probs) == 0:
        return np.full(n_labels, 0.5)
    if threshold == "tuned":
        return tune_thresholds(probs, Y)
    P, T = np.asarray(probs, dtype=float), np.asarray(Y)
    if P.shape != T.shape:
        raise ShapeError(f"probs and Y must both be (n, C), got {P.shape} and {T.shape}.")
    return np.full(n_labels, tune_thresholds(P.reshape(-1, 1), T.reshape(-1, 1))[0])
