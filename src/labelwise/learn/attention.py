"""Masked attention, padded recurrent encoders and input checks shared by the token learners (KeNet, LDAM).

Algorithm floor: torch tensors and :class:`labelwise.token_states.TokenStates` in and out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sklearn.metrics import average_precision_score

from labelwise.errors import ShapeError
from labelwise.learn.estimators import _multi_hot
from labelwise.token_states import TokenStates

__all__ = ["check_fit_inputs", "check_tokens", "masked_softmax", "micro_average_precision", "run_rnn"]


def check_tokens(X: Any, dim: int | None = None, estimator: str = "", name: str = "X") -> TokenStates:
    """``X``: a :class:`TokenStates` or an ``(n, N, d)`` float array (every position real) -> :class:`TokenStates`;
    with ``dim``, ``d`` must match what ``estimator`` was fitted on. The input check of every learner that reads
    token or part vectors (KeNet, LDAM, PatchCT)."""
    if not isinstance(X, TokenStates):
        try:
            arr = np.asarray(X, dtype=np.float32) if not isinstance(X, (str, bytes)) else np.zeros(0)
        except (TypeError, ValueError) as exc:
            raise ShapeError(f"{name} must be TokenStates or an (n, N, d) float array: {exc}") from exc
        if arr.ndim != 3:
            raise ShapeError(f"{name} must be TokenStates (TextEncoder().encode_tokens(texts)) or an (n, N, d) float "
                             f"array of N token or part vectors per row, got shape {arr.shape}; for one vector per "
                             "row use MultiLabelClassifier.")
        X = TokenStates.from_arrays(arr)
    if len(X) == 0:
        raise ShapeError(f"{name} has no rows.")
    if dim is not None and X.dim != dim:
        raise ShapeError(f"{name} has {X.dim}-dimensional vectors, but {estimator} is expecting {dim}.")
    return X


def check_fit_inputs(X: Any, Y: Any, label_embeddings: Any
                     ) -> tuple[TokenStates, np.ndarray, np.ndarray, np.ndarray | None]:
    """``X`` (token states), ``Y`` (``(n, K)`` 0/1 or label lists), ``label_embeddings`` (``(K, d)`` or None) ->
    (TokenStates, targets ``(n, K) int8``, ``classes_``, label vectors ``(K, d) float32`` or None)."""
    ts = check_tokens(X)
    T, classes = _multi_hot(Y)
    if len(T) != len(ts):
        raise ShapeError(f"Y has {len(T)} rows but X has {len(ts)}.")
    labels = None
    if label_embeddings is not None:
        labels = np.asarray(label_embeddings, dtype=np.float32)
        if labels.shape != (T.shape[1], ts.dim):
            raise ShapeError(f"label_embeddings must be (K, d) = ({T.shape[1]}, {ts.dim}), got {labels.shape}.")
    return ts, T, classes, labels


def micro_average_precision(Y: np.ndarray, scores: np.ndarray) -> float:
    """Micro average precision of ``scores: (n, K)`` against ``Y: (n, K)`` 0/1 over the labels with a positive
    (0 when none has): the early-stopping score of the token learners."""
    keep = Y.sum(0) > 0
    if not keep.any():
        return 0.0
    return float(average_precision_score(Y[:, keep], scores[:, keep], average="micro"))


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` along ``dim`` over the positions where ``mask`` (broadcastable) is True.

    Masked positions get exactly 0 (their scores are set to -inf); a slice with no real position gets all zeros
    (not NaN), so an empty text contributes a zero vector, and gradients stay finite.
    """
    mask = mask.expand_as(scores)
    real = mask.any(dim=dim, keepdim=True)
    safe = mask | ~real
    weights = torch.softmax(scores.masked_fill(~safe, float("-inf")), dim=dim)
    return weights * real


def run_rnn(rnn: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A batch-first ``rnn`` (LSTM/GRU, either direction) over the real steps only: ``x: (B, L, d)``,
    ``mask: (B, L)`` left-aligned -> ``(B, L, out)`` with zeros at padding. A backward direction starts at each
    row's last real step, not at the padding."""
    if x.shape[1] == 0:
        width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
        return x.new_zeros((x.shape[0], 0, width))
    lengths = mask.sum(1).clamp(min=1).cpu()
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out * mask.unsqueeze(-1)
