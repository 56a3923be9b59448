"""A stage's inputs, read and checked the same way whichever executor runs it."""

from __future__ import annotations

from typing import Optional

__all__ = ["open_counts_input"]


def open_counts_input(labels, pred_probs, chunk_rows: Optional[int]) -> tuple:
    """``(labels (n,) int64, a ChunkSource over pred_probs, rows per chunk)``, checked as
    :mod:`labelwise.audit.label_errors` checks them (an in-memory array whole, anything else chunk by chunk)."""
    from labelwise.audit.label_errors import _open, _rows_per_chunk

    labels, source = _open(labels, pred_probs)
    return labels, source, _rows_per_chunk(source, chunk_rows)
