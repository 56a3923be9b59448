"""Per-sentence lists -> flat token arrays and sentence offsets (shared by filter, rank and spans)."""

from __future__ import annotations

import numpy as np

from labelwise.errors import ShapeError


def flatten(labels, pred_probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """labels: list of (T_i,) int; pred_probs: list of (T_i, K) float ->
    (flat labels (N,) int64, flat pred_probs (N, K), sentence starts (S + 1,) int64 with starts[-1] == N)."""
    if len(labels) != len(pred_probs):
        raise ShapeError(
            f"labels has {len(labels)} sentences but pred_probs has {len(pred_probs)}; pass one entry per sentence."
        )
    lengths = np.fromiter((len(y) for y in labels), dtype=np.int64, count=len(labels))
    for i, (y, p) in enumerate(zip(labels, pred_probs)):
        if np.shape(p)[0] != len(y) or np.ndim(p) != 2:
            raise ShapeError(
                f"sentence {i}: labels has {len(y)} tokens but pred_probs has shape {np.shape(p)}; "
                "pred_probs[i] must be (T_i, K)."
            )
    starts = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    flat_labels = np.concatenate([np.asarray(y, dtype=np.int64) for y in labels]) if len(labels) else np.zeros(0, int)
    flat_probs = np.concatenate([np.asarray(p) for p in pred_probs]) if len(labels) else np.zeros((0, 0))
    return flat_labels, flat_probs, starts


def positions(flat_index: np.ndarray, starts: np.ndarray) -> list[tuple[int, int]]:
    """Flat token indices -> (sentence, token) pairs (Python ints, as cleanlab returns them)."""
    sentence = np.searchsorted(starts, flat_index, side="right") - 1
    token = flat_index - starts[sentence]
    return list(zip(sentence.tolist(), token.tolist()))
