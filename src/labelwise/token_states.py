"""Token states: a padded batch of per-token (or per-patch) vectors, the input of set-level learners.

Learners that attend over the parts of an input (words of a text, patches of an image) take a
:class:`TokenStates` instead of one vector per row: :mod:`labelwise.learn` (KeNet, LDAM, PatchCT) reads it, and
:meth:`labelwise.features.TextEncoder.encode_tokens` writes it from MiniLM's token embeddings, so texts, image
patches and anything else set-shaped meet the learners in one form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from labelwise.errors import ShapeError

__all__ = ["TokenStates"]


@dataclass(frozen=True, eq=False)
class TokenStates:
    """``n`` rows of up to ``L`` vectors of size ``d``.

    states: ``(n, L, d) float32``, zeros where ``mask`` is False.
    mask: ``(n, L) bool``, True for real tokens; each row's True entries come first.
    tokens: per row, the strings of its real tokens (``len(tokens[i]) == mask[i].sum()``), or None (image patches).

    ``len(ts)`` is ``n``; ``ts[rows]`` (an int array, a slice or a boolean mask) gives the selected rows, padded
    only to their own longest row. A row may have no tokens at all (an empty text): learners see an all-False mask.
    """

    states: np.ndarray
    mask: np.ndarray
    tokens: Optional[tuple[tuple[str, ...], ...]] = None

    def __post_init__(self) -> None:
        states = np.asarray(self.states, dtype=np.float32)
        mask = np.asarray(self.mask, dtype=bool)
        if states.ndim != 3:
            raise ShapeError(f"TokenStates.states must be (n, L, d), got shape {states.shape}.")
        if mask.shape != states.shape[:2]:
            raise ShapeError(f"TokenStates.mask must be (n, L) = {states.shape[:2]}, got {mask.shape}.")
        if not np.isfinite(states).all():
            row = int(np.argwhere(~np.isfinite(states))[0, 0])
            raise ShapeError(f"TokenStates.states has NaN or infinite values (first in row {row}); impute or drop "
                             "that row.")
        counts = mask.sum(axis=1)
        if mask.shape[1] and not (mask == (np.arange(mask.shape[1]) < counts[:, None])).all():
            raise ShapeError("TokenStates.mask must put each row's real tokens first (left-aligned padding).")
        tokens = self.tokens
        if tokens is not None:
            tokens = tuple(tuple(str(t) for t in row) for row in tokens)
            if len(tokens) != len(states) or any(len(t) != c for t, c in zip(tokens, counts)):
                raise ShapeError("TokenStates.tokens must hold, per row, one string per real token.")
        states = np.where(mask[:, :, None], states, np.float32(0))
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "tokens", tokens)

    @classmethod
    def from_arrays(cls, states: Any, mask: Any = None, tokens: Optional[Sequence[Sequence[str]]] = None
                    ) -> "TokenStates":
        """``states: (n, L, d)`` (every position real when ``mask`` is None), ``mask: (n, L)``."""
        states = np.asarray(states, dtype=np.float32)
        if mask is None:
            if states.ndim != 3:
                raise ShapeError(f"states must be (n, L, d), got shape {states.shape}.")
            mask = np.ones(states.shape[:2], dtype=bool)
        return cls(states, mask, None if tokens is None else tuple(tuple(t) for t in tokens))

    @property
    def dim(self) -> int:
        """``d``, the size of each vector."""
        return int(self.states.shape[2])

    @property
    def lengths(self) -> np.ndarray:
        """Real tokens per row: ``(n,) int``."""
        return self.mask.sum(axis=1)

    def __len__(self) -> int:
        return int(self.states.shape[0])

    def __getitem__(self, rows: Any) -> "TokenStates":
        index = np.arange(len(self))[rows]
        index = np.atleast_1d(index)
        width = int(self.mask[index].sum(axis=1).max()) if len(index) else 0
        tokens = None if self.tokens is None else tuple(self.tokens[i] for i in index)
        return TokenStates(self.states[index, :width], self.mask[index, :width], tokens)

    def mean(self) -> np.ndarray:
        """Mean of each row's real vectors: ``(n, d) float32`` (zeros for a row without tokens)."""
        counts = np.maximum(self.lengths, 1).astype(np.float32)
        return (self.states.sum(axis=1) / counts[:, None]).astype(np.float32)
