"""Known truths shared by the label-shift tests.

- a perfect classifier (one-hot probabilities) makes BBSE and MLLS return the target's empirical label mix exactly;
- with exact posteriors of a known Gaussian mixture, EM (Saerens et al. 2002) and BBSE (Lipton et al. 2018) are
  consistent, so with many rows they land on the true target prior.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax


def onehot(labels: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out


def l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).sum())


# a Gaussian mixture whose posteriors are known exactly: k classes with means on a circle, unit variance
K_MIX = 5
MEANS = 2.0 * np.stack([np.cos(2 * np.pi * np.arange(K_MIX) / K_MIX), np.sin(2 * np.pi * np.arange(K_MIX) / K_MIX)], 1)
SOURCE_PRIOR = np.array([0.30, 0.25, 0.20, 0.15, 0.10])


def mixture(n: int, prior: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n rows drawn with class prior ``prior``; returns (labels (n,), exact source posteriors (n, k))."""
    labels = rng.choice(K_MIX, size=n, p=prior)
    x = MEANS[labels] + rng.standard_normal((n, 2))
    log_lik = -0.5 * ((x[:, None, :] - MEANS[None]) ** 2).sum(axis=2)
    return labels, softmax(log_lik + np.log(SOURCE_PRIOR), axis=1)  # P_source(y | x), calibrated by construction


# a perfect classifier's exact case
SOURCE_LABELS = np.repeat([0, 1, 2, 3], [10, 20, 30, 40])
TARGET_LABELS = np.repeat([0, 1, 2, 3], [35, 5, 0, 10])  # class 2 absent from the target
TARGET_MIX = np.array([35, 5, 0, 10]) / 50
