"""Agreement between annotators: Krippendorff's alpha over all of them, Cohen's kappa for every pair.

- Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011; Content Analysis, 4th ed. 2018): alpha =
  1 - D_o / D_e from the coincidence matrix of the values paired within each unit; any number of annotators,
  missing values, and nominal / ordinal / interval / ratio distances.
- Cohen, "A Coefficient of Agreement for Nominal Scales" (Educational and Psychological Measurement 20(1), 1960):
  kappa = (p_o - p_e) / (1 - p_e) on the examples both annotators labelled.

labels: (n, m) float, ``labels[i, j]`` = the value annotator j gave unit i, NaN where none.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from labelwise.audit.multiannotator._inputs import as_label_matrix, observations
from labelwise.errors import ParameterError, ShapeError

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def krippendorff_alpha(labels_multiannotator, level: str = "nominal") -> float:
    """Krippendorff's alpha: 1 = perfect agreement, 0 = agreement at chance, < 0 = systematic disagreement; NaN
    when fewer than two values are pairable or every pairable value is the same.

    labels_multiannotator: (n, m) float, any numbers (nominal: category codes), NaN where missing; units with fewer
    than two values are not pairable and are left out. level: nominal, ordinal (ranks of the values present),
    interval ((a - b)^2) or ratio (((a - b) / (a + b))^2).
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}; got {level!r}.")
    try:
        values = np.asarray(labels_multiannotator, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("labels_multiannotator must hold numbers or NaN; code categories as integers "
                             "(format_multiannotator_labels).") from None
    if values.ndim != 2:
        raise ShapeError(f"labels_multiannotator must be 2-D (units, annotators); got {values.ndim}-D.")
    present = ~np.isnan(values)
    categories, codes = np.unique(values[present], return_inverse=True)
    rows = np.nonzero(present)[0]
    per_unit = present.sum(axis=1)
    pairable = per_unit[rows] >= 2
    if pairable.sum() < 2 or categories.size < 1:
        return float("nan")
    v = categories.size
    # counts[u, c]: how many annotators gave unit u value c (pairable units only)
    counts = sparse.csr_matrix((np.ones(pairable.sum()), (rows[pairable], codes[pairable])),
                               shape=(values.shape[0], v))
    scale = sparse.diags(1.0 / np.maximum(per_unit - 1, 1))
    coincidence = (counts.T @ scale @ counts).toarray()
    coincidence -= np.diag(np.asarray((scale @ counts).sum(axis=0)).ravel())
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    delta = _distances(categories, totals, level)
    expected = (np.outer(totals, totals) * delta).sum() / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1 - (coincidence * delta).sum() / expected)


def _distances(categories: np.ndarray, totals: np.ndarray, level: str) -> np.ndarray:
    """(V, V) squared distance between the values present (Krippendorff's delta^2 of each level)."""
    a, b = categories[:, None], categories[None, :]
    if level == "nominal":
        return (a != b).astype(np.float64)
    if level == "interval":
        return (a - b) ** 2
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(((a - b) / (a + b)) ** 2)
    cumulative = np.cumsum(totals)  # ordinal: sum of the marginals from c to k, less half of both ends
    lo, hi = np.minimum.outer(np.arange(len(totals)), np.arange(len(totals))), \
        np.maximum.outer(np.arange(len(totals)), np.arange(len(totals)))
    between = cumulative[hi] - cumulative[lo] + totals[lo]
    return (between - (totals[:, None] + totals[None, :]) / 2) ** 2


def cohen_kappa_pairs(labels_multiannotator) -> np.ndarray:
    """(m, m) Cohen's kappa of every pair of annotators on the examples both labelled (sklearn's
    ``cohen_kappa_score`` on those rows, unweighted); the diagonal is 1 where an annotator labelled 2+ examples with
    two or more classes; NaN where two annotators share fewer than 2 examples, or where chance agreement is 1 (both
    gave one and the same class throughout).

    labels_multiannotator: (n, m) float, class index or NaN.
    """
    labels = as_label_matrix(labels_multiannotator)
    n, m = labels.shape
    rows, annotators, given = observations(labels)
    k = int(given.max()) + 1 if given.size else 1
    mask = sparse.csr_matrix((np.ones(rows.size), (rows, annotators)), shape=(n, m))
    shared = (mask.T @ mask).toarray()  # [a, b]: examples both labelled
    agree = np.zeros((m, m))
    chance = np.zeros((m, m))
    for c in range(k):  # one class at a time: (m, m) products of sparse indicators
        said = given == c
        gave = sparse.csr_matrix((np.ones(said.sum()), (rows[said], annotators[said])), shape=(n, m))
        agree += (gave.T @ gave).toarray()
        on_shared = (gave.T @ mask).toarray()  # [a, b]: a said c on the examples b labelled
        chance += on_shared * on_shared.T
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = agree / shared
        p_e = chance / shared**2
        kappa = (p_o - p_e) / (1 - p_e)
    kappa[(shared < 2) | (p_e >= 1)] = np.nan
    return kappa
