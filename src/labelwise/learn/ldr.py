"""LDR-KL and ALDR-KL: label distributionally robust losses for multi-class classification.

Paper: Zhu, Ying, Yang, "Label Distributionally Robust Losses for Multi-class Classification: Consistency,
Robustness and Adaptivity", ICML 2023 (arXiv 2112.14869; code Optimization-AI/ICML2023_LDR, Apache-2.0; this is a
re-implementation from the paper's formulas).

With scores ``z: (K,)``, given label ``y`` and margin ``c`` (``delta_k = c * [k != y]``), LDR-KL is the worst case
over label distributions ``p`` regularised by ``KL(p || uniform)``, which has the closed form

    psi_lam(z, y) = max_p sum_k p_k (delta_k + z_k - z_y) - lam * KL(p || 1/K)
                  = lam * log( (1/K) * sum_k exp((delta_k + z_k - z_y) / lam) ).

Small ``lam`` approaches the Crammer-Singer max-hinge, large ``lam`` the average margin (symmetric, robust to label
noise); ``c = 0`` gives ``lam`` times cross-entropy at temperature ``lam`` minus ``lam * log K``. Scores are
normalised first (bounded scores are what the robustness analysis needs): ``softplus(z) / mean_k softplus(z)``
for LDR-KL, ``z / mean_k |z|`` for ALDR-KL.

ALDR-KL gives every training example its own ``lam_i``, updated in closed form before each step from the
inner maximiser ``p_i = softmax((delta + z_i) / lam_i_old)``:
``lam_i = lam0 * (1 - KL(p_i || 1/K) / (alpha * log K))`` (in ``[lam0 (1 - 1/alpha), lam0]`` for ``alpha > 1``):
confident (peaked) examples get a smaller, CE-like temperature; uncertain ones keep the smoother, robust one.

:func:`gce_loss` (generalised cross-entropy, Zhang and Sabuncu, NeurIPS 2018) is one of the baselines the paper
compares against; it is here so that the estimators can offer it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from labelwise.errors import ParameterError, ShapeError

NORMALIZE = ("softplus_mean", "l1", "none")


def _check(logits: torch.Tensor, y: torch.Tensor) -> None:
    if logits.ndim != 2 or y.ndim != 1 or y.shape[0] != logits.shape[0]:
        raise ShapeError(f"need logits (B, K) and labels (B,), got {tuple(logits.shape)} and {tuple(y.shape)}.")


def normalize_scores(logits: torch.Tensor, kind: str = "softplus_mean", eps: float = 1e-8) -> torch.Tensor:
    """Bound the scores as the paper's code does. ``logits: (B, K)`` -> ``(B, K)``.

    ``"softplus_mean"``: ``softplus(z) / mean_k softplus(z)`` (LDR-KL); ``"l1"``: ``z / mean_k |z|`` (ALDR-KL);
    ``"none"``: unchanged.
    """
    if kind == "softplus_mean":
        s = F.softplus(logits)
        return s / s.mean(dim=1, keepdim=True).clamp(min=eps)
    if kind == "l1":
        return logits / logits.abs().mean(dim=1, keepdim=True).clamp(min=eps)
    if kind == "none":
        return logits
    raise ParameterError(f"normalize must be one of {NORMALIZE}, got {kind!r}")


def _margins(z: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """``delta_k + z_k - z_y``: ``(B, K)``."""
    delta = torch.full_like(z, margin)
    delta.scatter_(1, y[:, None], 0.0)
    return delta + z - z.gather(1, y[:, None])


def ldr_kl_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    lam: float | torch.Tensor = 10.0,
    *,
    margin: float = 0.1,
    normalize: str = "softplus_mean",
    reduction: str = "mean",
) -> torch.Tensor:
    """LDR-KL loss ``lam * log((1/K) sum_k exp((delta_k + z_k - z_y) / lam))``.

    ``logits: (B, K) float``, ``y: (B,) int``, ``lam``: a float or ``(B,)`` per-example temperatures.
    ``reduction``: ``"mean"`` (scalar) or ``"none"`` (``(B,)``).
    """
    _check(logits, y)
    z = normalize_scores(logits, normalize)
    m = _margins(z, y, margin)
    lam_t = torch.as_tensor(lam, dtype=z.dtype, device=z.device)
    if lam_t.ndim == 0:
        lam_t = lam_t.expand(z.shape[0])
    per = lam_t * (torch.logsumexp(m / lam_t[:, None], dim=1) - math.log(z.shape[1]))
    if reduction == "mean":
        return per.mean()
    if reduction == "none":
        return per
    raise ParameterError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def aldr_lambda(
    logits: torch.Tensor, y: torch.Tensor, lam_old: torch.Tensor, *, lam0: float, alpha: float, margin: float,
    normalize: str = "l1",
) -> torch.Tensor:
    """ALDR-KL's closed-form temperature update (no gradient). Returns ``lam_new: (B,)``.

    ``p = softmax((delta + z) / lam_old)``; ``lam_new = lam0 * (1 - KL(p || 1/K) / (alpha * log K))``.
    """
    with torch.no_grad():
        z = normalize_scores(logits, normalize)
        k = z.shape[1]
        logp = F.log_softmax(_margins(z, y, margin) / lam_old[:, None], dim=1)
        kl = (logp.exp() * (logp + math.log(k))).sum(dim=1).clamp(min=0.0, max=math.log(k))
        return lam0 * (1.0 - kl / (alpha * math.log(k)))


class LDRKLLoss(torch.nn.Module):
    """LDR-KL as a module: ``forward(logits (B, K), y (B,)) -> scalar`` (paper defaults ``lam=10, margin=0.1``)."""

    def __init__(self, lam: float = 10.0, margin: float = 0.1, normalize: str = "softplus_mean"):
        super().__init__()
        if lam <= 0:
            raise ParameterError(f"lam must be > 0, got {lam}")
        self.lam, self.margin, self.normalize = lam, margin, normalize

    def forward(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        return ldr_kl_loss(logits, y, self.lam, margin=self.margin, normalize=self.normalize)


class ALDRKLLoss(torch.nn.Module):
    """ALDR-KL with a per-instance temperature kept across epochs.

    ``forward(logits (B, K), y (B,), idx (B,) int)``: ``idx`` are the examples' row numbers in the training set,
    whose temperatures ``self.lambdas: (n_samples,)`` (a buffer, saved in ``state_dict``) are updated first and
    then used in the loss. Paper defaults: ``lam0=10``, ``alpha=2``, ``margin=0.1``, ``normalize="l1"``.
    """

    def __init__(self, n_samples: int, lam0: float = 10.0, alpha: float = 2.0, margin: float = 0.1,
                 normalize: str = "l1"):
        super().__init__()
        if alpha <= 1:
            raise ParameterError(f"alpha must be > 1 (otherwise lam can reach 0), got {alpha}")
        if lam0 <= 0:
            raise ParameterError(f"lam0 must be > 0, got {lam0}")
        self.lam0, self.alpha, self.margin, self.normalize = lam0, alpha, margin, normalize
        self.register_buffer("lambdas", torch.full((int(n_samples),), float(lam0)))

    def forward(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        if idx is None:
            raise ShapeError("ALDRKLLoss needs idx: (B,) the examples' row numbers in the training set.")
        lam = aldr_lambda(logits, y, self.lambdas[idx], lam0=self.lam0, alpha=self.alpha, margin=self.margin,
                          normalize=self.normalize)
        self.lambdas[idx] = lam
        return ldr_kl_loss(logits, y, lam, margin=self.margin, normalize=self.normalize)


def gce_loss(logits: torch.Tensor, y: torch.Tensor, q: float = 0.7, reduction: str = "mean") -> torch.Tensor:
    """Generalised cross-entropy ``(1 - p_y ** q) / q`` (Zhang and Sabuncu 2018). ``logits: (B, K)``, ``y: (B,)``."""
    _check(logits, y)
    if not 0 < q <= 1:
        raise ParameterError(f"q must be in (0, 1], got {q}")
    log_py = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    per = (1.0 - torch.exp(q * log_py)) / q
    return per.mean() if reduction == "mean" else per
