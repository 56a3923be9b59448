"""Synthetic label corruption with a known ground truth, for tests and benchmarks.

Flipping a known set of labels on real data is the standard way to measure a label-error detector: the flipped rows
are the true errors (multi-label: a dropped label is a missing one, an added label a spurious one). Algorithm floor: arrays in, arrays out.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from labelwise.errors import ShapeError

RandomState = Union[None, int, np.random.Generator, np.random.RandomState]


def flip_labels(
    labels: np.ndarray,
    fraction: float,
    n_classes: int | None = None,
    *,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(fraction * n)`` labels, each to a different class.

    The rows to flip are drawn uniformly without replacement; each flipped row gets a class drawn uniformly from
    the ``n_classes - 1`` classes other than its own (uniform, symmetric noise).

    Parameters
    ----------
    labels: ``(n,) int`` in ``[0, n_classes)``.
    fraction: in ``[0, 1]``, the share of rows to flip (Python's ``round``: halves go to the even count).
    n_classes: K, at least 2; default ``labels.max() + 1``.
    random_state: None, an int seed, or a numpy ``Generator``/``RandomState``; an int gives the same result each call.

    Returns
    -------
    noisy: ``(n,) int64``, the labels after flipping.
    flipped: ``(n,) bool``, True where ``noisy != labels``.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ShapeError(f"labels must have shape (n,); got {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ShapeError(f"labels must be integers; got dtype {y.dtype}.")
    y = y.astype(np.int64, copy=False)
    if not 0.0 <= float(fraction) <= 1.0:
        raise ShapeError(f"fraction must be between 0 and 1; got {fraction}.")
    k = int(y.max()) + 1 if n_classes is None and y.size else int(n_classes or 0)
    if k < 2:
        raise ShapeError(f"flipping needs at least 2 classes; got n_classes={k}.")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ShapeError(f"labels must be in [0, {k}); got values from {y.min()} to {y.max()}.")

    rng = _generator(random_state)
    n = y.shape[0]
    n_flip = round(float(fraction) * n)
    rows = rng.choice(n, size=n_flip, replace=False)
    noisy = y.copy()
    # adding 1..k-1 modulo k reaches each other class exactly once: uniform over the other classes
    noisy[rows] = (y[rows] + rng.integers(1, k, size=n_flip)) % k
    flipped = np.zeros(n, dtype=bool)
    flipped[rows] = True
    return noisy, flipped


def drop_and_add_labels(
    labels: np.ndarray, n_drop: int, n_add: int, *, random_state: RandomState = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multi-label corruption with a known truth: in ``n_drop`` rows remove one of their labels, in ``n_add`` other
    rows add one label they do not have (rows, and the label within a row, drawn uniformly).

    labels: ``(n, K)`` 0/1 indicator. Rows without a label cannot lose one, rows with every label cannot gain one.
    Returns ``(noisy (n, K) bool, dropped (n, K) bool, added (n, K) bool)``: dropped marks the (row, label) taken
    away (the label is now *missing*), added the one put in (now *spurious*).
    """
    Y = np.asarray(labels)
    if Y.ndim != 2:
        raise ShapeError(f"labels must be an (n, K) indicator matrix; got shape {Y.shape}.")
    Y = Y.astype(bool)
    can_drop = np.flatnonzero(Y.any(axis=1))
    can_add = np.flatnonzero(~Y.all(axis=1))
    if n_drop < 0 or n_add < 0 or n_drop > can_drop.size:
        raise ShapeError(f"n_drop and n_add must be 0 or more, and n_drop at most the {can_drop.size} rows with a "
                         f"label; got {n_drop} and {n_add}.")
    rng = _generator(random_state)
    drop_rows = rng.choice(can_drop, size=n_drop, replace=False)
    can_add = np.setdiff1d(can_add, drop_rows)
    if n_add > can_add.size:
        raise ShapeError(f"n_add must be at most the {can_add.size} other rows that lack some label; got {n_add}.")
    add_rows = rng.choice(can_add, size=n_add, replace=False)
    dropped, added = np.zeros_like(Y), np.zeros_like(Y)
    for i in drop_rows:
        dropped[i, rng.choice(np.flatnonzero(Y[i]))] = True
    for i in add_rows:
        added[i, rng.choice(np.flatnonzero(~Y[i]))] = True
    return (Y & ~dropped) | added, dropped, added


def _generator(random_state: RandomState) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**32 - 1, dtype=np.uint64))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise ShapeError(f"random_state must be None, an int or a numpy Generator; got {type(random_state).__name__}.")
