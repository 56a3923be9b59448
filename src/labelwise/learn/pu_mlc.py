"""PU-MLC: positive-unlabelled multi-label loss.

Paper: "Positive Label Is All You Need for Multi-Label Classification" (PU-MLC, ICME 2024; code
TAKELAMAG/PU-MLC, no licence, so this is a re-implementation from the description). In multi-label data most
label noise sits in the negatives (objects nobody annotated), so PU-MLC drops every negative label and trains each
class as positive-unlabelled learning with the variational PU objective of VPU (Chen et al., NeurIPS 2020)
``log E_U[Phi] - E_P[log Phi]``, plus two adaptive pieces:

* an adaptive temperature per class, ``sigma_c = clip(alpha * std_b(Z[:, c]), sigma_min, 1)`` (a detached batch
  statistic), and ``S = sigmoid(Z / sigma_c)``: dividing by ``sigma_c <= 1`` sharpens the probabilities;
* an adaptive re-balance factor ``w_c = (mean_b S[:, c]) ** gamma`` (detached) on the unlabelled term, which
  down-weights classes that are rare in the batch.

``L = sum_c w_c * log(mean_b S[:, c]) - sum_c mean_{i: T_ic = 1} log S_ic`` where the whole batch is the
unlabelled set (positives included). A class with no positive in the batch adds nothing to the positive term.
Predictions use the plain, un-tempered ``sigmoid(Z)``.

The paper's mixup regulariser is available as :func:`pu_mixup_penalty` but is off by default in the estimators:
the notes' calibration run found it numerically fragile at small scale.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

from labelwise.errors import ParameterError, ShapeError

RandomState = Union[None, int, np.random.Generator]


def _check(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim != 2 or targets.shape != logits.shape:
        raise ShapeError(
            f"PU-MLC needs logits (B, C) and targets (B, C) of the same shape, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}."
        )


def pu_temperature(logits: torch.Tensor, alpha: float = 1.0, sigma_min: float = 0.05) -> torch.Tensor:
    """Adaptive per-class temperature ``sigma: (C,)`` = ``clip(alpha * std_b(logits), sigma_min, 1)``, detached.

    ``logits: (B, C)``; the standard deviation is the population one (divide by B).
    """
    std = logits.detach().std(dim=0, unbiased=False)
    return (alpha * std).clamp(min=sigma_min, max=1.0)


def pu_mlc_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 1.0,
    gamma: float = 0.55,
    sigma_min: float = 0.05,
    reduction: str = "sum",
) -> torch.Tensor:
    """PU-MLC variational loss (a scalar tensor).

    Parameters
    ----------
    logits: ``(B, C) float``, raw scores.
    targets: ``(B, C)``, ``1`` = known positive; anything else (0 unknown, -1 known negative) is unlabelled.
    alpha: temperature scale (paper: 1.0 on COCO, 2.0 on VOC).
    gamma: re-balance exponent (paper: 0.55 on COCO, 0.85 on VOC).
    sigma_min: lower clamp on the temperature, so collapsed logits do not saturate.
    reduction: ``"sum"`` over classes (the paper) or ``"mean"`` over classes.
    """
    _check(logits, targets)
    sigma = pu_temperature(logits, alpha, sigma_min)
    log_s = F.logsigmoid(logits / sigma)  # (B, C), log S
    pos = (targets == 1).to(log_s.dtype)
    n_pos = pos.sum(dim=0)
    p_term = (log_s * pos).sum(dim=0) / n_pos.clamp(min=1.0)  # 0 where a class has no positive
    log_mean_s = torch.logsumexp(log_s, dim=0) - math.log(logits.shape[0])  # log mean_b S
    w = torch.exp(gamma * log_mean_s).detach()
    per_class = w * log_mean_s - p_term
    if reduction == "sum":
        return per_class.sum()
    if reduction == "mean":
        return per_class.mean()
    raise ParameterError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


class PUMultiLabelLoss(torch.nn.Module):
    """Module form of :func:`pu_mlc_loss`: ``forward(logits (B, C), targets (B, C)) -> scalar``."""

    def __init__(self, alpha: float = 1.0, gamma: float = 0.55, sigma_min: float = 0.05, reduction: str = "sum"):
        super().__init__()
        self.alpha, self.gamma, self.sigma_min, self.reduction = alpha, gamma, sigma_min, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return pu_mlc_loss(
            logits, targets, alpha=self.alpha, gamma=self.gamma, sigma_min=self.sigma_min, reduction=self.reduction
        )


def pu_mixup_penalty(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    mix_alpha: float = 0.3,
    clamp: float = 1e-4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """VPU's mixup regulariser as used by PU-MLC (scalar tensor).

    The first half of the batch is mixed with a permutation of itself with ``lam ~ Beta(mix_alpha, mix_alpha)``;
    targets are ``o = 1`` for known positives and ``sigmoid(logits)`` (detached, un-tempered) otherwise;
    the penalty is ``sum_c mean_i (log o_mix - log sigmoid(model(x_mix)))**2`` with probabilities clamped at
    ``clamp`` (the official code's ``1e-10`` blows up at small scale).

    ``inputs: (B, d)``, ``logits: (B, C)`` = ``model(inputs)``, ``targets: (B, C)``.
    """
    _check(logits, targets)
    half = inputs.shape[0] // 2
    if half < 1:
        return logits.sum() * 0.0
    lam = float(np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator))).beta(
        mix_alpha, mix_alpha))
    perm = torch.randperm(half, generator=generator)
    o = torch.where(targets[:half] == 1, torch.ones_like(logits[:half]), torch.sigmoid(logits[:half]).detach())
    x_mix = lam * inputs[:half] + (1 - lam) * inputs[:half][perm]
    o_mix = (lam * o + (1 - lam) * o[perm]).clamp(min=clamp)
    p_mix = torch.sigmoid(model(x_mix)).clamp(min=clamp)
    return ((torch.log(o_mix) - torch.log(p_mix)) ** 2).mean(dim=0).sum()


def hide_positives(Y: np.ndarray, fraction: float, *, random_state: RandomState = None) -> np.ndarray:
    """Hide a random ``fraction`` of the positive labels (set them to 0): partial positive labels.

    ``Y: (n, C)`` 0/1; returns ``(n, C) uint8``. Each positive cell is hidden independently with probability
    ``fraction`` (missing completely at random). Negatives are kept as they are.
    """
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ShapeError(f"Y must be a (n, C) 0/1 matrix, got shape {Y.shape}.")
    if not 0.0 <= fraction <= 1.0:
        raise ShapeError(f"fraction must be in [0, 1], got {fraction}.")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    hide = rng.random(Y.shape) < fraction
    return np.where((Y == 1) & hide, 0, Y == 1).astype(np.uint8)
