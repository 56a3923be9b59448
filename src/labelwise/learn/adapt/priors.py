"""Label priors for test-time adaptation: long-tailed priors to sample, the closed-form logit adjustment, and the
target prior estimated batch by batch from a stream.

Shapes: ``probs (n, k)`` are a source-trained model's ``P_s(y | x)``; priors are ``(k,)`` float summing to 1.

The per-batch estimate is maximum-likelihood label shift by EM (Saerens, Latinne, Decaestecker 2002), run by the
EM of :func:`labelwise.audit.label_shift.mlls` on each batch, warm-started from the running estimate, which then moves
towards the batch's answer with momentum (Park et al., ICCV 2023, section "online" of the notes: ``m = 0.9``) and
is floored at ``1e-3 / k`` so that a class, once estimated absent, can come back.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit.label_shift.maximum_likelihood import likelihood_ratios, run_em
from labelwise.errors import ParameterError, ShapeError

__all__ = [
    "long_tailed_prior",
    "sample_long_tailed_prior",
    "logit_adjust",
    "adjust_proba",
    "StreamingPriorEstimator",
]

PRIOR_UPDATES = ("em", "online")


def check_prior(prior, n_classes: int, name: str) -> np.ndarray:
    """``prior`` as a (k,) float64 array summing to 1; ShapeError when it is not k non-negative numbers."""
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (n_classes,) or not np.all(np.isfinite(prior)) or np.any(prior < 0) or prior.sum() <= 0:
        raise ShapeError(f"{name} must be {n_classes} non-negative numbers with a positive sum; got shape "
                         f"{prior.shape}.")
    return prior / prior.sum()


def long_tailed_prior(n_classes: int, rho: float, order=None) -> np.ndarray:
    """The long-tailed prior of imbalance ratio ``rho`` (largest / smallest class share): ``pi(order[j]) ∝
    rho ** (-j / (k - 1))``, j = 0..k-1 (``order`` a permutation of the classes; default 0..k-1). (k,) float."""
    if n_classes < 2:
        raise ParameterError(f"n_classes must be at least 2; got {n_classes}.")
    if not rho >= 1.0:
        raise ParameterError(f"rho (imbalance ratio) must be 1 or more; got {rho}.")
    order = np.arange(n_classes) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(n_classes)):
        raise ParameterError(f"order must be a permutation of 0..{n_classes - 1}.")
    prior = np.empty(n_classes)
    prior[order] = float(rho) ** (-np.arange(n_classes) / (n_classes - 1))
    return prior / prior.sum()


def sample_long_tailed_prior(n_classes: int, rng: np.random.Generator, *, rho_max: float = 100.0,
                             p_uniform: float = 0.2, source_prior=None) -> np.ndarray:
    """One training prior for the label-shift adapter (Park et al., ICCV 2023): ``rho ~ LogUniform[1, rho_max]``
    over a random class order (so that no class is always the head), or, with probability ``p_uniform``, the
    uniform prior or ``source_prior`` (half each when given). (k,) float."""
    u = rng.random()
    if u < p_uniform:
        if source_prior is not None and u < p_uniform / 2:
            return check_prior(source_prior, n_classes, "source_prior")
        return np.full(n_classes, 1.0 / n_classes)
    rho = float(np.exp(rng.uniform(0.0, np.log(rho_max))))
    return long_tailed_prior(n_classes, rho, rng.permutation(n_classes))


def logit_adjust(logits, prior_target, prior_source) -> np.ndarray:
    """The closed-form label-shift correction of logits: ``logits + log prior_target - log prior_source``.

    logits: (n, k) of a model trained under ``prior_source`` (k,); returns (n, k). Its softmax is the target
    posterior when only the label mix changed (``p(x | y)`` fixed): Bayes' rule with the prior swapped. A class with
    ``prior_source == 0`` (never seen in training) gets ``-inf``, as :func:`adjust_proba` gives it probability 0.
    """
    logits = np.asarray(logits, dtype=np.float64)
    k = logits.shape[-1]
    target = check_prior(prior_target, k, "prior_target")
    source = check_prior(prior_source, k, "prior_source")
    return logits + log_prior_ratio(target, source)


def log_prior_ratio(prior_target: np.ndarray, prior_source: np.ndarray) -> np.ndarray:
    """(k,) ``log prior_target - log prior_source``, ``-inf`` where either prior is 0 (the class cannot occur)."""
    seen = (prior_source > 0) & (prior_target > 0)
    with np.errstate(divide="ignore"):
        return np.where(seen, np.log(np.where(seen, prior_target, 1.0)) - np.log(np.where(seen, prior_source, 1.0)),
                        -np.inf)


def adjust_proba(probs, prior_target, prior_source) -> np.ndarray:
    """``probs * prior_target / prior_source``, renormalised per row: :func:`logit_adjust` on probabilities.

    probs: (n, k) source posteriors; returns (n, k). A class with ``prior_source == 0`` gets probability 0; a row
    left with no mass keeps its original probabilities.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    target = check_prior(prior_target, k, "prior_target")
    source = check_prior(prior_source, k, "prior_source")
    weights = np.divide(target, source, out=np.zeros(k), where=source > 0)
    adjusted = probs * weights
    total = adjusted.sum(axis=1, keepdims=True)
    return np.where(total > 0, adjusted / np.where(total > 0, total, 1.0), probs)


class StreamingPriorEstimator:
    """The target label prior of a stream, updated batch by batch.

    source_prior: (k,) the prior the model was trained under (its training label frequencies).
    momentum: weight of the running estimate at each update (0: each batch alone; the notes' 0.9).
    update: ``"em"``: the batch's maximum-likelihood prior by EM (the EM of
    :func:`labelwise.audit.label_shift.mlls`, from the running estimate), then
    ``prior <- m * prior + (1 - m) * batch_prior``; ``"online"``: one EM step per batch,
    ``prior <- m * prior + (1 - m) * mean_i adjusted posterior_i`` (stochastic EM; the notes' update).
    floor: smallest share a class keeps (default ``1e-3 / k``).

    ``update(probs (n, k))`` returns the new prior (k,) and appends it to ``history_`` (list of (k,) arrays,
    one per batch); ``prior_`` is the current estimate (starts at ``init``, default ``source_prior``).
    """

    def __init__(self, source_prior, *, momentum: float = 0.9, update: str = "em", floor: Optional[float] = None,
                 init=None, max_iter: int = 200):
        if not 0.0 <= momentum < 1.0:
            raise ParameterError(f"momentum must be in [0, 1); got {momentum}.")
        if update not in PRIOR_UPDATES:
            raise ParameterError(f"update must be one of {', '.join(PRIOR_UPDATES)}; got {update!r}.")
        source_prior = np.asarray(source_prior, dtype=np.float64)
        if source_prior.ndim != 1 or source_prior.shape[0] < 2:
            raise ShapeError(f"source_prior must be a (k,) array with k >= 2; got shape {source_prior.shape}.")
        self.source_prior = check_prior(source_prior, source_prior.shape[0], "source_prior")
        k = self.source_prior.shape[0]
        if floor is not None and not 0.0 <= floor < 1.0 / k:
            raise ParameterError(f"floor must be in [0, 1/k) = [0, {1.0 / k:.4g}) for {k} classes; got {floor}.")
        self.momentum = float(momentum)
        self.update_rule = update
        self.floor = 1e-3 / k if floor is None else float(floor)
        self.max_iter = int(max_iter)
        self.prior_ = self._clip(self.source_prior if init is None else check_prior(init, k, "init"))
        self.history_: list[np.ndarray] = []

    def _clip(self, prior: np.ndarray) -> np.ndarray:
        prior = np.maximum(prior, self.floor)
        return prior / prior.sum()

    def batch_prior(self, probs) -> np.ndarray:
        """The prior this batch alone points to (k,), from the running estimate (no state changes); an empty batch
        points to the running estimate itself."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != self.source_prior.shape[0]:
            raise ShapeError(f"probs must be (n, {self.source_prior.shape[0]}); got shape {probs.shape}.")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            bad = int(np.flatnonzero(~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1))[0])
            raise ShapeError(f"probs row {bad} is missing (NaN), infinite or negative; every row of a batch needs "
                             "the model's k probabilities.")
        if probs.shape[0] == 0:
            return self.prior_.copy()
        if self.update_rule == "online":
            return adjust_proba(probs, self.prior_, self.source_prior).mean(axis=0)
        # MLLS's EM (labelwise.audit.label_shift.mlls) without its per-call checks and BLAS thread limit, which
        # cost more than the EM itself on a batch of a few dozen rows; a batch that has not converged after
        # max_iter steps still gives its answer
        ratios = likelihood_ratios(probs, self.source_prior)
        return run_em(ratios, self.prior_[None, :], None, self.max_iter, 1e-6)[0][0]

    def update(self, probs) -> np.ndarray:
        """Fold one batch of source posteriors (n, k) into the estimate; return the new prior (k,). An empty batch
        (n = 0) leaves the estimate as it was (and still adds a row to ``history_``)."""
        batch = self.batch_prior(probs)
        self.prior_ = self._clip(self.momentum * self.prior_ + (1.0 - self.momentum) * batch)
        self.history_.append(self.prior_.copy())
        return self.prior_
