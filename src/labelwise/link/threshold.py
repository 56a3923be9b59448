"""Choosing the score threshold above which a candidate pair is called a match.

LinkTransformer (Arora & Dell 2023) returns the top-1 neighbour of every record with no threshold, so every record
gets a "match". labelwise keeps a threshold and a no-match outcome, chosen in one of two ways:

* **Without labels** (:func:`unsupervised_threshold` -> :func:`runner_up_threshold`): the second-best score of
  each record is a sample of "best non-match" scores (when a record matches at most one record on the other side,
  the usual case in linkage), i.e. an empirical null for the best scores of records that have no match. From the
  best scores and that null, the share of records with a match and, for each cut, the expected true and false
  positives follow; the cut maximising the estimated F1 is used. This works whether few or nearly all records
  have a match (a valley search on the best scores alone cuts the match mode in two when nearly all do, and a
  two-component mixture put one component on the exact duplicates near 1.0 on DBLP-ACM). No constant was tuned on
  a benchmark. With fewer than 20 runner-up scores: a two-component Gaussian mixture on the pooled scores (cut
  where both are equally likely), or Otsu's valley when the components overlap.
* **With a few labelled pairs** (:func:`choose_threshold`): the score that maximises F1 on those pairs.

Shapes: ``scores: (n,) float``; ``labelled``: ``(m,)`` pairs with a 0/1 ``match`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelwise.errors import DataError

__all__ = ["ThresholdChoice", "unsupervised_threshold", "runner_up_threshold", "otsu_threshold", "choose_threshold"]


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and how it was chosen (``method``: ``"given"``, ``"mixture"``, ``"otsu"``, ``"labelled"``...)."""

    value: float
    method: str
    detail: str = ""

    def describe(self) -> str:
        return f"{self.value:.3f} ({self.method}{': ' + self.detail if self.detail else ''})"


def otsu_threshold(scores: np.ndarray, bins: int = 200) -> float:
    """Otsu's valley: the cut maximising the between-class variance of a histogram of ``scores: (n,)``."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0 or s.min() == s.max():
        return float(s[0]) if s.size else 1.0
    counts, edges = np.histogram(s, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def runner_up_threshold(top1: np.ndarray, top2: np.ndarray) -> tuple[float, float, float]:
    """The threshold maximising F1 as estimated with the runner-up scores as the null distribution.

    A record with no true match has, as its best score, the best of its non-match scores; a record with one true
    match has, as its second-best score, the best of its non-match scores too. So the second-best scores ``top2``
    estimate the distribution of best scores among records with no match (an empirical null, as in Storey's
    false-discovery-rate estimates). The share ``pi0`` of non-matching records is estimated where matches are rare,
    at or below the null's median: ``pi0 = P(top1 <= median) / P(top2 <= median)``. For each candidate threshold ``t``,
    expected false positives are ``pi0 * n * P(top2 >= t)``, true positives the rest of ``#(top1 >= t)``, false
    negatives the number of true matches (``(1 - pi0) * n``, or the most true positives estimated at any cut if
    larger, so that no cut looks better than perfect) minus those, and ``t`` maximising the estimated F1 is returned with ``pi0`` and
    that F1: ``(threshold, pi0, estimated_f1)``.
    """
    a = np.sort(np.asarray(top1, dtype=np.float64))
    b = np.sort(np.asarray(top2, dtype=np.float64))
    n = a.size
    median = float(np.median(b))
    share_below = np.searchsorted(b, median, side="right") / b.size  # <= on both sides: ties count alike
    pi0 = float(np.clip((np.searchsorted(a, median, side="right") / n) / max(share_below, 1e-9), 0.0, 1.0))
    grid = np.unique(a)
    above = n - np.searchsorted(a, grid, side="left")  # top1 >= t
    null_tail = (b.size - np.searchsorted(b, grid, side="left")) / b.size  # P(top2 >= t)
    fp = np.minimum(pi0 * n * null_tail, above)
    tp = above - fp
    # true matches: at least (1 - pi0) n, and at least the most true positives estimated at any cut
    positives = max((1 - pi0) * n, float(tp.max()), 1e-9)
    f1 = 2 * tp / np.maximum(above + positives, 1e-9)
    best = int(np.argmax(f1))
    value = float(grid[best]) if best == 0 else float(grid[best] + grid[best - 1]) / 2  # in the gap below
    return value, pi0, float(f1[best])


def unsupervised_threshold(top1: np.ndarray, top2: np.ndarray | None = None, random_state: int = 0) -> ThresholdChoice:
    """A threshold from the score distribution alone.

    top1: ``(n,) float`` best-candidate score per record; top2: ``(n2,) float`` second-best scores (of the records
    that have a second candidate) or None. With at least 20 of each, :func:`runner_up_threshold`; otherwise a
    two-component Gaussian mixture on the pooled scores (cut where both components are equally likely), or Otsu's
    valley when the components overlap or the scores are too few. Returns a :class:`ThresholdChoice`.
    """
    a = np.asarray(top1, dtype=np.float64)
    a = a[np.isfinite(a)]
    b = np.asarray(top2 if top2 is not None else [], dtype=np.float64)
    b = b[np.isfinite(b)]
    if a.size >= 20 and b.size >= 20:
        value, pi0, f1 = runner_up_threshold(a, b)
        detail = (f"runner-up scores as the null: an estimated {1 - pi0:.0%} of {a.size:,} records have a match, "
                  f"estimated F1 {f1:.3f} at this cut")
        return ThresholdChoice(value, "runner-up null", detail)
    pooled = np.concatenate([a, b])
    if pooled.size == 0:
        return ThresholdChoice(1.0, "default", "no candidate scores")
    if pooled.size < 8 or pooled.std() < 1e-6:
        value = otsu_threshold(pooled)
        return ThresholdChoice(value, "otsu", f"too few or identical scores for a mixture (n={pooled.size})")
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(2, random_state=random_state, n_init=2, reg_covar=1e-5).fit(pooled[:, None])
    means = gm.means_.ravel()
    lo, hi = np.argsort(means)
    if means[hi] - means[lo] < pooled.std():
        return ThresholdChoice(otsu_threshold(pooled), "otsu", "the mixture's two components overlap")
    grid = np.linspace(means[lo], means[hi], 2001)
    post = gm.predict_proba(grid[:, None])[:, hi]
    value = float(grid[int(np.argmax(post >= 0.5))])
    return ThresholdChoice(value, "mixture", f"2 components, means {means[lo]:.3f} and {means[hi]:.3f}")


def choose_threshold(pairs: pd.DataFrame, labelled: pd.DataFrame, *, one_to_one: bool = False) -> ThresholdChoice:
    """The threshold maximising F1 on a few labelled pairs.

    pairs: candidate pairs with ``left_id, right_id, score`` (e.g. ``link(...).candidates``). one_to_one: only each
    left row's best candidate (``rank == 1``) counts, as when linking with ``one_to_one=True``.
    labelled: ``left_id, right_id`` and optionally ``match`` (0/1; absent means every row is a true match).
    Unlabelled candidates are ignored: a labelled left record's candidates count as false positives unless the
    labelled pair says they match. Returns a :class:`ThresholdChoice` with ``method="labelled"``.
    """
    for name, frame in (("pairs", pairs), ("labelled", labelled)):
        missing = [c for c in ("left_id", "right_id") if c not in frame.columns]
        if missing:
            raise DataError(f"{name} needs columns left_id and right_id; it has {list(frame.columns)}.")
    if "score" not in pairs.columns:
        raise DataError("pairs needs a score column (use the pairs or candidates of a LinkResult).")
    if one_to_one and "rank" in pairs.columns:
        pairs = pairs[pairs["rank"] == 1]
    lab = labelled.copy()
    if "match" not in lab.columns:
        lab["match"] = 1
    lab["match"] = lab["match"].astype(int)
    if lab.empty:
        raise DataError("labelled has no rows: give at least one labelled pair.")
    keys = lambda f: list(zip(f["left_id"].astype(str), f["right_id"].astype(str)))  # noqa: E731
    true = {k for k, m in zip(keys(lab), lab["match"]) if m == 1}
    known_left = set(lab["left_id"].astype(str))
    cand = pairs[pairs["left_id"].astype(str).isin(known_left)]
    scores = cand["score"].to_numpy(dtype=np.float64)
    hit = np.array([k in true for k in keys(cand)], dtype=bool)
    if not true:
        raise DataError("labelled has no true match (match == 1); F1 needs at least one.")
    if scores.size == 0:
        raise DataError("None of the labelled left ids is among the candidate pairs; check the id columns.")
    order = np.argsort(-scores, kind="stable")
    s, h = scores[order], hit[order]
    tp = np.cumsum(h)
    predicted = np.arange(1, s.size + 1)
    f1 = 2 * tp / (predicted + len(true))
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold keeps all pairs of equal score
    f1 = np.where(last_of_tie, f1, -1)
    best = int(np.argmax(f1))
    nxt = s[best + 1] if best + 1 < s.size else s[best] - 1e-3
    value = float((s[best] + max(nxt, s[best] - 0.05)) / 2)  # midway to the next lower score
    return ThresholdChoice(value, "labelled", f"F1 {f1[best]:.3f} on {len(lab)} labelled pairs")
