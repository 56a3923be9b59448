"""A planted-token multi-label task with exactly known evidence, for the token learners' small exact tests."""

from __future__ import annotations

import numpy as np

from labelwise.token_states import TokenStates


def planted_tokens(n: int = 200, K: int = 3, L: int = 10, d: int = 16, rate: float = 0.35, seed: int = 0
                   ) -> tuple[TokenStates, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of random-length noise tokens; label ``k`` is present iff one token is replaced by label ``k``'s vector
    (plus noise). Returns (token states, Y (n, K), label vectors (K, d), planted position (n, K), -1 if absent)."""
    rng = np.random.default_rng(seed)
    labels = rng.normal(size=(K, d)).astype(np.float32)
    lengths = rng.integers(K + 1, L + 1, n)
    states = (0.5 * rng.normal(size=(n, L, d))).astype(np.float32)
    Y = (rng.random((n, K)) < rate).astype(int)
    where = np.full((n, K), -1)
    for i in range(n):
        spots = rng.permutation(lengths[i])
        for k in np.flatnonzero(Y[i]):
            where[i, k] = spots[k]
            states[i, spots[k]] = labels[k] + 0.3 * rng.normal(size=d)
    mask = np.arange(L) < lengths[:, None]
    return TokenStates(states, mask), Y, labels, where
