"""Temperature scaling of pred_probs to the annotators' label distribution (cleanlab's ``calibrate_probs``), with
the whole (n, K) matrix scored per temperature instead of row by row.

labels: (n, m) float with NaN; pred_probs: (n, K) float.
"""

from __future__ import annotations

import numpy as np

from labelwise.audit.multiannotator._inputs import label_counts

COARSE_TEMPERATURES = (0.1, 0.2, 0.5, 0.8, 1, 2, 3, 5, 8)
_TINY = 1e-30  # cleanlab's SMALL_CONST
_EPSILON = 1e-6  # the smallest temperature cleanlab's softmax divides by


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x / max(temperature, _EPSILON))
        return e / np.sum(e, axis=1, keepdims=True)


def soft_cross_entropy(empirical: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """(n,) cross entropy between each row's empirical label distribution (n, K) and pred_probs, / log K."""
    clipped = np.clip(pred_probs, _TINY, None)
    with np.errstate(invalid="ignore"):
        return -np.sum(empirical * np.log(clipped), axis=1) / np.log(pred_probs.shape[1])


def best_temperature(labels: np.ndarray, pred_probs: np.ndarray,
                     coarse: tuple = COARSE_TEMPERATURES, fine_size: int = 4) -> float:
    """The temperature minimising the mean soft cross entropy: the best of ``coarse``, then of ``fine_size`` points
    on each side of it (cleanlab's two-stage grid search, the same grid)."""
    counts = label_counts(labels, pred_probs.shape[1])
    empirical = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_probs = np.where(pred_probs > 0, np.log(np.where(pred_probs > 0, pred_probs, 1.0)), -np.inf)

    def losses(grid) -> np.ndarray:
        return np.array([np.mean(soft_cross_entropy(empirical, _softmax(log_probs, t))) for t in grid])

    at = int(np.argmin(losses(coarse)))
    fine = np.array([])
    if at != 0:
        fine = np.append(np.linspace(coarse[at - 1], coarse[at], fine_size, endpoint=False), fine)
    if at != len(coarse) - 1:
        fine = np.append(fine, np.linspace(coarse[at], coarse[at + 1], fine_size + 1, endpoint=True))
    return float(fine[np.argmin(losses(fine))])


def temperature_scale(pred_probs: np.ndarray, temperature: float) -> np.ndarray:
    """(n, K): softmax(log(p) / temperature), p floored at 1e-30 and renormalised; < 1 sharpens, > 1 smooths."""
    p = np.clip(pred_probs, _TINY, None)
    p = p / np.sum(p, axis=1)[:, None]
    scaled = _softmax(np.log(p), temperature)
    return scaled / np.sum(scaled, axis=1)[:, None]
