"""The memory bound of the out-of-core audit: ``--memory-limit`` read, and the batch sizes derived from it.

The limit ``M`` (default: half the physical memory, read with ``os.sysconf``) is shared out as follows, for ``n`` rows,
``d`` embedding dimensions and ``k`` classes:

- ``BASE_BYTES`` (300 MB) for the interpreter and its libraries (numpy, pandas, pyarrow, scikit-learn, the encoder);
- ``PER_ROW_BYTES`` (192 bytes) per row for the arrays kept whole: labels, row numbers, text hashes, the 10 nearest
  neighbours (indices and similarities) and the per-row results;
- the work space ``W = M - BASE_BYTES - n * PER_ROW_BYTES`` (at least ``MIN_WORK_BYTES``), of which
  - a batch of rows read and embedded at a time takes ``W / 8``: ``batch_rows = W / 8 / (row_bytes + 4 d)`` with
    ``row_bytes`` = 1 KB of text and Arrow buffers per row;
  - the neighbour search holds one shard of stored rows, ``shard_rows = W / 4 / 4 d``, as large as that allows
    (fewer shards: every shard is searched by every row); a block of queries is held against it:
    ``query_rows * min(shard_rows, EXACT_MAX_ROWS) * 4 <= W / 4`` (exact shards compare a block with all their
    rows; indexed ones with a few cells);
  - the minibatch model reads ``chunk_rows = W / 8 / (4 d + 8 k)`` rows at a time.
- the out-of-fold model trains in memory (scikit-learn's logistic regression, as the in-memory audit) when the
  training rows' features fit: ``n * d * 4 * 3 <= W / 2`` (float32 features, and lbfgs' copies); otherwise a minibatch
  multinomial logistic regression streams them (:mod:`labelwise.audit.minibatch_logistic`).

Confident learning reads the (n, k) probabilities in chunks once :mod:`labelwise.audit.label_errors` streams them;
until then it holds ``n * k * 8`` bytes on top of this bound.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Optional, Union

from labelwise.errors import ParameterError

BASE_BYTES = 300 * 2**20
PER_ROW_BYTES = 192
MIN_WORK_BYTES = 64 * 2**20
ROW_BYTES = 1024
DEFAULT_FRACTION = 0.5
_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20, "MIB": 2**20,
          "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40, "TIB": 2**40}


def physical_memory() -> Optional[int]:
    """Bytes of physical memory (``os.sysconf``), or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_memory(limit: Union[str, int, float, None]) -> int:
    """``'4GB'``, ``'512MB'``, ``'1.5G'``, ``'2GiB'`` or a number of bytes -> bytes (binary units: 1 GB = 2**30).
    None: :data:`DEFAULT_FRACTION` of the physical memory (4 GB where it cannot be read)."""
    if limit is None:
        total = physical_memory()
        return int(total * DEFAULT_FRACTION) if total else 4 * 2**30
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        value = float(limit)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(limit))
        unit = match.group(2).upper() if match else None
        if match is None or unit not in _UNITS:
            raise ParameterError(f"--memory-limit takes a size such as 4GB, 512MB or 1.5G; got {limit!r}.")
        value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < BASE_BYTES + MIN_WORK_BYTES:
        raise ParameterError(f"--memory-limit must be at least {(BASE_BYTES + MIN_WORK_BYTES) // 2**20} MB (the "
                             f"libraries alone take about {BASE_BYTES // 2**20} MB); got {limit!r}.")
    return int(value)


@dataclass(frozen=True)
class MemoryBudget:
    """Batch sizes for ``n_rows`` rows of ``dim``-wide embeddings and ``n_classes`` classes within ``limit`` bytes
    (the formula is in the module docstring)."""

    limit: int
    n_rows: int
    dim: int = 384
    n_classes: int = 2

    @property
    def work_bytes(self) -> int:
        return max(self.limit - BASE_BYTES - self.n_rows * PER_ROW_BYTES, MIN_WORK_BYTES)

    @property
    def batch_rows(self) -> int:
        return _clamp(self.work_bytes / 8 / (ROW_BYTES + 4 * self.dim), 256, 262_144)

    @property
    def shard_rows(self) -> int:
        return _clamp(self.work_bytes / 4 / (4 * max(self.dim, 1)), 256, 262_144)

    @property
    def query_rows(self) -> int:
        from labelwise.neighbours import EXACT_MAX_ROWS

        return _clamp(self.work_bytes / 4 / (4 * min(self.shard_rows, EXACT_MAX_ROWS)), 64, 65_536)

    @property
    def chunk_rows(self) -> int:
        return _clamp(self.work_bytes / 8 / (4 * self.dim + 8 * self.n_classes), 256, 262_144)

    @property
    def fits_in_memory(self) -> bool:
        """Whether the training rows' features fit for an in-memory model (``n * d * 4 * 3 <= W / 2``)."""
        return self.n_rows * self.dim * 4 * 3 <= self.work_bytes / 2

    def describe(self) -> dict:
        return {"memory_limit_bytes": self.limit, "batch_rows": self.batch_rows, "shard_rows": self.shard_rows,
                "query_rows": self.query_rows, "chunk_rows": self.chunk_rows}


def _clamp(x: float, lo: int, hi: int) -> int:
    return int(min(max(int(x), lo), hi))
