"""ConR: contrastive regulariser for deep imbalanced regression.

Paper: Keramati, Meng, Evans, "ConR: Contrastive Regularizer for Deep Imbalanced Regression", ICLR 2024 (code
BorealisAI/ConR, CC BY-NC-SA 4.0: not copied; re-implemented from the paper's equations).

For a batch of ``N`` embeddings (two augmented views of each example, concatenated), with
``q_i = f_i / |f_i|``, ``s_ij = q_i . q_j / t``, labels ``y`` and detached predictions ``yhat``:

* positives ``P_i = {j != i : |y_i - y_j| <= window}``;
* negatives ``N_i = {j : |y_i - y_j| > window and |yhat_i - yhat_j| <= window}`` (wrong proximities);
* pushing weight ``S_ij = w_i * exp(push * |y_i - y_j|)`` (``push_fn="linear"``: ``w_i * push * |y_i - y_j|``);
* ``l_i = -(1/|P_i|) sum_{j in P_i} log( exp(s_ij) / (sum_{p in P_i} exp(s_ip) + sum_{n in N_i} S_in exp(s_in)) )``;
* anchors without a negative (or without a positive) contribute 0; ``L = mean_i w_i l_i``.

The total objective is ``L_reg(yhat, y) + beta * L``. ``compat_official=True`` reproduces the official code's
denominator, which sums ``exp(s_ij * [j in P_i])`` over *all* ``j`` and so adds ``N - |P_i|`` to it.
``shot_metrics`` reports MAE overall and per many/median/few-shot region (bins by training count), as the paper
does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labelwise.errors import ParameterError, ShapeError


def _as_2d(t: torch.Tensor) -> torch.Tensor:
    return t[:, None] if t.ndim == 1 else t


def conr_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    window: float = 1.0,
    temperature: float = 0.2,
    push: float = 0.01,
    push_fn: str = "exp",
    compat_official: bool = False,
) -> torch.Tensor:
    """ConR regulariser (a scalar tensor).

    Parameters
    ----------
    features: ``(N, d) float``, encoder outputs of both views.
    labels: ``(N,)`` or ``(N, m)`` float, targets (a norm is used for multi-dimensional labels), in label units.
    preds: same shape as ``labels``; detached here (they only select negatives).
    weights: ``(N,)`` per-sample weights (e.g. inverse frequency), default 1.
    window: ``omega``, in label units. temperature: ``t``. push: ``e``.
    """
    n = features.shape[0]
    if features.ndim != 2 or labels.shape[0] != n or preds.shape != labels.shape:
        raise ShapeError(
            f"ConR needs features (N, d), labels (N,) and preds like labels; got {tuple(features.shape)}, "
            f"{tuple(labels.shape)}, {tuple(preds.shape)}."
        )
    y = _as_2d(labels.to(features.dtype))
    p = _as_2d(preds.detach().to(features.dtype))
    w = torch.ones(n, dtype=features.dtype, device=features.device) if weights is None else weights.to(features.dtype)
    q = F.normalize(features, dim=1)
    s = q @ q.T / temperature
    dy = torch.cdist(y, y, p=2)
    dp = torch.cdist(p, p, p=2)
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    pos = (dy <= window) & ~eye
    neg = (dy > window) & (dp <= window)
    if push_fn == "exp":
        push_w = w[:, None] * torch.exp(push * dy)
    elif push_fn == "linear":
        push_w = w[:, None] * push * dy
    else:
        raise ParameterError(f"push_fn must be 'exp' or 'linear', got {push_fn!r}")
    neg_inf = torch.finfo(s.dtype).min
    # log of the denominator: logsumexp over positives (s) and negatives (s + log S)
    terms = torch.where(pos, s, torch.where(neg, s + torch.log(push_w.clamp(min=1e-30)), torch.full_like(s, neg_inf)))
    if compat_official:
        ones = torch.where(pos, torch.full_like(s, neg_inf), torch.zeros_like(s))  # exp(0) = 1 per non-positive j
        terms = torch.cat([terms, ones], dim=1)
    log_den = torch.logsumexp(terms, dim=1)
    n_pos = pos.sum(dim=1)
    active = (n_pos > 0) & neg.any(dim=1)
    log_ratio = torch.where(pos, s - log_den[:, None], torch.zeros_like(s))
    per_anchor = -log_ratio.sum(dim=1) / n_pos.clamp(min=1)
    per_anchor = torch.where(active, per_anchor, torch.zeros_like(per_anchor))
    return (w * per_anchor).mean()


class ConRLoss(torch.nn.Module):
    """Module form of :func:`conr_loss`: ``forward(features (N, d), labels (N,), preds (N,), weights=None)``.

    Paper defaults (AgeDB-DIR): ``window=1``, ``temperature=0.2``, ``push=0.01``, ``push_fn="exp"``; use with
    ``beta=4`` times this term added to an L1 regression loss.
    """

    def __init__(self, window: float = 1.0, temperature: float = 0.2, push: float = 0.01, push_fn: str = "exp",
                 compat_official: bool = False):
        super().__init__()
        self.window, self.temperature, self.push = window, temperature, push
        self.push_fn, self.compat_official = push_fn, compat_official

    def forward(self, features, labels, preds, weights=None) -> torch.Tensor:
        return conr_loss(features, labels, preds, weights, window=self.window, temperature=self.temperature,
                         push=self.push, push_fn=self.push_fn, compat_official=self.compat_official)


def shot_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, *, bin_width: float = 1.0, many: int = 100,
    few: int = 20,
) -> dict[str, float]:
    """MAE overall and per region: bins of ``bin_width`` with more than ``many`` training labels are many-shot,
    fewer than ``few`` few-shot, the rest median-shot (the DIR benchmarks' convention).

    ``y_true, y_pred: (n,)``, ``y_train: (m,)``. Returns ``{"all", "many", "median", "few"}`` (NaN where a region
    has no test example) plus ``"n_few"`` (the number of test examples in the few-shot region).
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    y_train = np.asarray(y_train, dtype=float).ravel()
    if y_true.shape != y_pred.shape:
        raise ShapeError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}.")
    lo = min(y_train.min(), y_true.min())
    tb = np.floor((y_train - lo) / bin_width).astype(int)
    qb = np.floor((y_true - lo) / bin_width).astype(int)
    counts = np.bincount(tb, minlength=qb.max() + 1)
    c = counts[np.clip(qb, 0, len(counts) - 1)]
    err = np.abs(y_true - y_pred)

    def mae(mask: np.ndarray) -> float:
        return float(err[mask].mean()) if mask.any() else float("nan")

    return {"all": mae(np.ones_like(c, dtype=bool)), "many": mae(c > many), "median": mae((c <= many) & (c >= few)),
            "few": mae(c < few), "n_few": int((c < few).sum())}
