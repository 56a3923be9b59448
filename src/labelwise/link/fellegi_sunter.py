"""Fellegi-Sunter match probabilities from comparison levels, fitted without labels by EM.

Fellegi & Sunter (1969, "A Theory for Record Linkage", JASA 64:1183-1210): a pair of records is a match (M) or a
non-match (U); each comparison ``c`` falls into a level ``l`` with probability ``m_c[l] = P(l | M)`` or
``u_c[l] = P(l | U)``; comparisons are taken as independent given the class, so a pair's Bayes factor is
``prod_c m_c[l_c] / u_c[l_c]`` and its match probability ``lambda * BF / (lambda * BF + 1 - lambda)`` with the prior
``lambda = P(M)`` among the pairs. Winkler (1988, "Using the EM Algorithm for Weight Computation in the
Fellegi-Sunter Model of Record Linkage") fits ``m``, ``u`` and ``lambda`` without labels as a two-class latent
mixture by EM; Splink does the same over comparison levels. A missing level (``-1``) contributes a factor 1.

:func:`competing_probabilities` then accounts for one-to-one linkage: a record matches at most one record on the
other side, so a pair's odds compete with the odds of the other pairs that share one of its records.

Shapes: ``levels: (p, c) int`` (``-1`` missing), ``n_levels: (c,) int`` -> ``m_, u_``: lists of ``(n_levels[c],)``
float, ``lambda_: float``; :meth:`FellegiSunter.predict_proba` -> ``(p,) float``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelwise.errors import ShapeError

__all__ = ["FellegiSunter", "competing_probabilities"]

_FLOOR = 1e-6


class FellegiSunter:
    """Two-class latent model of comparison levels (m, u, lambda) fitted by EM (Winkler 1988).

    n_levels: ``(c,) int`` levels per comparison (level ``n - 1`` the most similar). max_iter, tol: EM stops when no
    probability moves by more than ``tol``. prior: the starting ``lambda``. Starting ``m`` puts more weight on the
    higher levels (``m[l] ∝ 4**l``) and starting ``u`` is the levels' share among all pairs (nearly all of them are
    non-matches), so the class called "match" is the one of similar pairs. Pseudo-counts of ``smoothing`` per level
    keep every probability positive (shared between the classes in proportion to their sizes, so a level that no pair
    reaches gets ``m = u``: no evidence).
    monotone: after each M-step the match weights ``log(m/u)`` are made non-decreasing in the level (weighted
    isotonic regression, weights = pairs per level, then ``m`` renormalised): a more similar level is never weaker
    evidence of a match. Without it, EM on tables that share few entities can fit its "match" class to any
    structure, with "equal names" counting against a match.
    Fitted: ``m_``, ``u_`` (lists of ``(n_levels[c],)`` float), ``lambda_``, ``n_iter_``, ``converged_``.
    """

    def __init__(self, n_levels: Sequence[int], *, max_iter: int = 200, tol: float = 1e-5, prior: float = 0.05,
                 smoothing: float = 0.5, monotone: bool = True):
        self.n_levels = n_levels
        self.monotone = monotone
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.smoothing = smoothing

    def _check(self, levels) -> np.ndarray:
        levels = np.asarray(levels, dtype=np.int64)
        if levels.ndim != 2 or levels.shape[1] != len(self.n_levels):
            raise ShapeError(f"levels must be (pairs, {len(self.n_levels)}) for {len(self.n_levels)} comparisons; got "
                             f"shape {levels.shape}.")
        bad = (levels < -1) | (levels >= np.asarray(self.n_levels, dtype=np.int64)[None, :])
        if bad.any():
            raise ShapeError(f"levels must lie in -1..n_levels-1; found {int(levels[bad][0])}.")
        return levels

    def _log_bayes_factor(self, levels: np.ndarray, m, u) -> np.ndarray:
        out = np.zeros(levels.shape[0])
        for c in range(levels.shape[1]):
            lv = levels[:, c]
            seen = lv >= 0
            out[seen] += np.log(m[c][lv[seen]]) - np.log(u[c][lv[seen]])
        return out

    def _m_step(self, levels: np.ndarray, w: np.ndarray, lam: float) -> tuple[list, list]:
        """``m`` and ``u`` from the pairs' match responsibilities ``w: (p,)`` and the prior ``lam``."""
        new_m, new_u = [], []
        for c, n in enumerate(self.n_levels):
            lv = levels[:, c]
            seen = lv >= 0
            # pseudo-counts shared in proportion to the classes' sizes: a level no pair has keeps m = u
            cm = np.bincount(lv[seen], weights=w[seen], minlength=n) + self.smoothing * lam
            cu = np.bincount(lv[seen], weights=1 - w[seen], minlength=n) + self.smoothing * (1 - lam)
            mc, uc = np.maximum(cm / cm.sum(), _FLOOR), np.maximum(cu / cu.sum(), _FLOOR)
            if self.monotone:
                mc = _monotone_m(mc, uc, np.bincount(lv[seen], minlength=n))
            new_m.append(mc)
            new_u.append(uc)
        return new_m, new_u

    def fit(self, levels, start: np.ndarray | None = None) -> "FellegiSunter":
        """Fit ``m_, u_, lambda_`` by EM on ``levels: (p, c)``. start: ``(p,)`` match probabilities to begin from
        (an M-step on them gives the first ``m``, ``u`` and ``lambda``), e.g. the posterior of a model fitted on
        fewer comparisons; default: the start described in the class docstring."""
        levels = self._check(levels)
        p, n_comp = levels.shape
        if start is not None:
            w = np.clip(np.asarray(start, dtype=np.float64).ravel(), 0.0, 1.0)
            if w.shape != (p,):
                raise ShapeError(f"start must be one probability per pair ({p}); got shape {w.shape}.")
            lam = float(np.clip(w.mean(), _FLOOR, 1 - _FLOOR)) if p else float(self.prior)
            m, u = self._m_step(levels, w, lam)
        else:
            u, m = [], []
            for c, n in enumerate(self.n_levels):
                counts = np.bincount(levels[levels[:, c] >= 0, c], minlength=n).astype(np.float64) + self.smoothing
                u.append(counts / counts.sum())
                start_m = 4.0 ** np.arange(n)
                m.append(start_m / start_m.sum())
            lam = float(self.prior)
        self.converged_ = False
        self.n_iter_ = 0
        for it in range(1, self.max_iter + 1):
            logit = np.log(lam) - np.log1p(-lam) + self._log_bayes_factor(levels, m, u)
            w = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
            new_lam = float(np.clip(w.mean(), _FLOOR, 1 - _FLOOR)) if p else lam
            new_m, new_u = self._m_step(levels, w, new_lam)
            delta = max([abs(new_lam - lam)] + [float(np.abs(a - b).max()) for a, b in zip(new_m + new_u, m + u)])
            m, u, lam = new_m, new_u, new_lam
            self.n_iter_ = it
            if delta < self.tol:
                self.converged_ = True
                break
        self.m_, self.u_, self.lambda_ = m, u, lam
        return self

    def match_weight(self, levels) -> np.ndarray:
        """``log(lambda / (1 - lambda)) + sum_c log(m_c / u_c)``: the log odds of a match, ``(p,) float``."""
        levels = self._check(levels)
        return np.log(self.lambda_) - np.log1p(-self.lambda_) + self._log_bayes_factor(levels, self.m_, self.u_)

    def predict_proba(self, levels) -> np.ndarray:
        """Match probability of each pair, ``(p,) float``."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.match_weight(levels), -700, 700)))

    def fit_predict_proba(self, levels) -> np.ndarray:
        return self.fit(levels).predict_proba(levels)


def _monotone_m(m: np.ndarray, u: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``m`` whose ``log(m/u)`` is the weighted isotonic (non-decreasing) fit of the original, renormalised."""
    from sklearn.isotonic import isotonic_regression

    weight = np.log(m) - np.log(u)
    fitted = isotonic_regression(weight, sample_weight=counts + 1e-6, increasing=True)
    out = u * np.exp(fitted - fitted.max())
    return np.maximum(out / out.sum(), _FLOOR)


def competing_probabilities(left: np.ndarray, right: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Match probabilities when each record matches at most one record on the other side: ``(p,) float``.

    A pair ``(i, j)`` with odds ``o_ij`` competes with every other candidate pair of ``i`` and of ``j``: its
    probability is ``o_ij / (1 + sum of the odds of all pairs that share i or j, itself included)``, the posterior
    of "this pair" among "none of them, or exactly one of them" (exact for a record whose other candidates share
    nothing else; an approximation of the posterior over whole one-to-one matchings otherwise).
    left, right: ``(p,) int`` record positions; log_odds: ``(p,) float`` (e.g. :meth:`FellegiSunter.match_weight`).
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    lo = np.asarray(log_odds, dtype=np.float64)
    if lo.size == 0:
        return np.zeros(0)
    shift = max(float(lo.max()), 0.0)  # odds scaled by exp(-shift) so none overflow; "1" scales alike
    odds = np.exp(lo - shift)
    one = np.exp(-shift)
    row = np.bincount(left, weights=odds)[left]
    col = np.bincount(right, weights=odds)[right]
    return odds / (one + row + col - odds)
