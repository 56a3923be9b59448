"""Predicted probabilities read in row chunks with bounded memory, from memory, a memmap, ``.npy`` or Parquet.

:func:`open_probabilities` turns ``pred_probs`` given as

- a numpy array or ``np.memmap`` (n, k),
- a path to an ``.npy`` file (memory-mapped one chunk at a time, as ``np.load(path, mmap_mode='r')`` would map
  it whole: only what a chunk touches is read, and the resident memory stays one chunk),
- a path to a Parquet file or a directory of Parquet files, a ``pyarrow.dataset.Dataset`` or a ``pyarrow.Table``,
  holding the probabilities either as ONE column of (fixed-size) lists of k floats per row (``pred_probs`` by
  name, or the only list column), or as k numeric columns (every column of the table, in schema order; pass
  ``columns=`` to pick them),

into a :class:`ChunkSource` with ``.shape`` (n, k), ``.dtype`` (the working dtype: float32 for float16/float32
data, float64 otherwise) and ``iter_chunks(rows)`` yielding ``(start, block)`` with ``block`` (m, k) of that
dtype, m <= rows. float16 is widened chunk by chunk, so memory stays O(rows x k) whatever n is.

This is the one read-only array I/O at the algorithms floor: it lets
:func:`labelwise.audit.label_errors.find_label_issues` keep cleanlab's signature and take a path for
``pred_probs``. pyarrow is imported only when Arrow or Parquet input is given.
"""

from __future__ import annotations

import os
import threading
from typing import Iterator, Optional, Sequence

import numpy as np

from labelwise.errors import DataError, ShapeError

DEFAULT_CHUNK_BYTES = 64 << 20
"""Working memory per chunk (float32/float64 values of one block) when ``chunk_rows`` is not given."""


def default_chunk_rows(n_classes: int, itemsize: int = 4, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Rows per chunk so that one (rows, n_classes) block of ``itemsize``-byte floats takes ~``chunk_bytes``."""
    return max(1024, chunk_bytes // max(1, n_classes * itemsize))


def _working_dtype(dtype: np.dtype) -> np.dtype:
    if dtype in (np.float16, np.float32):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


_HALF_SHIFT = np.float32(2.0**112)  # float16 bits << 13 read as float32 are the value / 2**112, exactly


def _widen_half_bits(u: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    widened = np.empty(u.shape, np.uint32) if out is None else out.reshape(-1)[: u.size].reshape(u.shape)
    np.copyto(widened, u)
    widened <<= 13
    values = widened.view(np.float32)
    values *= _HALF_SHIFT  # exact, subnormals included (unless the CPU flushes subnormal inputs to zero)
    return values


_TINIEST_HALVES = np.arange(0, 1 << 10, 64, dtype=np.uint16)  # subnormal halves: what a flushing CPU gets wrong
_buffers = threading.local()


def widen_half(raw: np.ndarray, *, reuse: bool = False) -> np.ndarray:
    """float16 (m, k) -> float32 (m, k), exactly ``raw.astype(np.float32)`` but several times faster than numpy's
    scalar conversion: non-negative finite halves are widened by shifting their bits (one integer pass, one float
    pass); a chunk with a negative value, an infinity or a NaN takes numpy's conversion.

    reuse: write into this thread's buffer (no fresh pages to fault in per chunk); the result is then overwritten
    by the thread's next ``reuse=True`` call, so only a caller that is done with it by then may ask for it.
    """
    u = np.ascontiguousarray(raw).view(np.uint16)
    if not u.size or u.max() >= 0x7C00 or not np.array_equal(_widen_half_bits(_TINIEST_HALVES),
                                                               _TINIEST_HALVES.view(np.float16).astype(np.float32)):
        return np.ascontiguousarray(raw, dtype=np.float32)
    if not reuse:
        return _widen_half_bits(u)
    buffer = getattr(_buffers, "half", None)
    if buffer is None or buffer.size < u.size:
        buffer = _buffers.half = np.empty(u.size, np.uint32)
    return _widen_half_bits(u, buffer)


class ChunkSource:
    """Rows of an (n, k) probability matrix, chunk by chunk. Subclasses define ``shape``, ``raw_dtype`` and
    ``_iter_raw``; ``iter_chunks(rows)`` yields ``(start, (m, k) working-dtype array)``.

    ``iter_chunks(rows, convert=False)`` yields the chunks as stored (e.g. float16 memmap views, read lazily),
    and :meth:`convert` widens one; readers that need a few values of each row (the thresholds' pass) or a few
    rows of each chunk gather them first and convert only those.
    """

    shape: tuple
    raw_dtype: np.dtype
    in_memory = False  # True for a plain ndarray (already validated by the caller; chunks are views)

    @property
    def dtype(self) -> np.dtype:
        return _working_dtype(self.raw_dtype)

    def convert(self, raw: np.ndarray, *, reuse: bool = False) -> np.ndarray:
        """A chunk as stored -> a C-contiguous (m, k) array of :attr:`dtype` (a copy unless already so).

        reuse: float16 is widened into a per-thread buffer that the thread's next ``reuse=True`` call overwrites
        (see :func:`widen_half`); for callers that are done with the block before converting the next one.
        """
        if raw.dtype == np.float16:
            return widen_half(raw, reuse=reuse)
        return np.ascontiguousarray(raw, dtype=self.dtype)

    def iter_chunks(self, rows: int, *, convert: bool = True) -> Iterator[tuple]:
        if rows < 1:
            raise ShapeError(f"chunk_rows must be at least 1; got {rows}.")
        for start, raw in self._iter_raw(int(rows)):
            yield start, (self.convert(raw) if convert else raw)

    def _iter_raw(self, rows: int) -> Iterator[tuple]:
        raise NotImplementedError


class ArraySource(ChunkSource):
    """An (n, k) numpy array or memmap; chunks are row slices (views; a memmap reads only what is touched)."""

    def __init__(self, array: np.ndarray, *, in_memory: Optional[bool] = None):
        if array.ndim != 2:
            raise ShapeError(f"pred_probs must be a 2-D array (n_rows, n_classes); got shape {array.shape}.")
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
                or array.dtype == np.bool_):
            raise ShapeError(f"pred_probs must hold numbers; got dtype {array.dtype}.")
        self.array = array
        self.shape = tuple(array.shape)
        self.raw_dtype = array.dtype
        self.in_memory = (not isinstance(array, np.memmap)) if in_memory is None else in_memory

    def _iter_raw(self, rows: int) -> Iterator[tuple]:
        for start in range(0, self.shape[0], rows):
            yield start, self.array[start : start + rows]


class NpyFileSource(ChunkSource):
    """An ``.npy`` file read through one short-lived memory map per chunk: only the touched pages are read, and
    they leave the process's memory with the chunk, so its resident size stays one chunk however large the file.
    """

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
                shape, fortran_order, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                               else np.lib.format.read_array_header_2_0(f))
            except ValueError as exc:
                raise DataError(f"cannot read {path!r} as an .npy array ({exc}); write it with numpy.save "
                                "(an .npz or pickled object array is not supported).") from exc
            self.offset = f.tell()
        if len(shape) != 2:
            raise ShapeError(f"pred_probs in {path!r} must be a 2-D array (n_rows, n_classes); got shape {shape}.")
        if fortran_order or dtype.hasobject:
            raise DataError(f"{path!r} holds a {'Fortran-ordered' if fortran_order else 'object'} array; save it "
                            "with numpy.save(path, np.ascontiguousarray(pred_probs, dtype=np.float32)).")
        ArraySource(np.empty((0, 0), dtype))  # the same dtype check as in memory
        self.shape, self.raw_dtype = tuple(int(x) for x in shape), np.dtype(dtype)

    def _iter_raw(self, rows: int) -> Iterator[tuple]:
        n, k = self.shape
        for start in range(0, n, rows):
            m = min(rows, n - start)
            if m * k == 0:
                yield start, np.empty((m, k), self.raw_dtype)
                continue
            yield start, np.memmap(self.path, dtype=self.raw_dtype, mode="r", shape=(m, k),
                                   offset=self.offset + start * k * self.raw_dtype.itemsize)


class ArrowSource(ChunkSource):
    """A ``pyarrow.dataset.Dataset`` whose probabilities are one list column or k numeric columns."""

    def __init__(self, dataset, columns: Sequence[str], list_size: Optional[int], raw_dtype: np.dtype, where: str):
        self.dataset = dataset
        self.columns = list(columns)
        self.list_size = list_size
        self.raw_dtype = np.dtype(raw_dtype)
        self.where = where
        k = list_size if list_size is not None else len(self.columns)
        self.shape = (int(dataset.count_rows()), int(k))

    def _iter_raw(self, rows: int) -> Iterator[tuple]:
        start, pending, held = 0, [], 0
        for batch in self.dataset.to_batches(columns=self.columns, batch_size=rows):
            if batch.num_rows == 0:
                continue
            pending.append(self._to_numpy(batch, start + held))
            held += batch.num_rows
            while held >= rows:
                block = pending[0] if len(pending) == 1 else np.concatenate(pending)
                yield start, block[:rows]
                start += rows
                rest = block[rows:]
                pending, held = ([rest] if rest.shape[0] else []), rest.shape[0]
        if held:
            yield start, pending[0] if len(pending) == 1 else np.concatenate(pending)

    def _to_numpy(self, batch, first_row: int) -> np.ndarray:
        import pyarrow as pa

        if self.list_size is None:
            cols = []
            for name in self.columns:
                col = batch.column(name)
                if col.null_count:
                    raise DataError(f"{self.where}: column {name!r} has missing values near row {first_row}; "
                                    "fill them (every row needs all k probabilities).")
                cols.append(col.to_numpy(zero_copy_only=False).astype(self.raw_dtype, copy=False))
            return np.stack(cols, axis=1)
        col = batch.column(self.columns[0])
        if col.null_count:
            raise DataError(f"{self.where}: column {self.columns[0]!r} has a missing row near row {first_row}; "
                            "every row needs its k probabilities.")
        if pa.types.is_fixed_size_list(col.type):
            values = col.flatten()
        else:
            lengths = col.value_lengths().to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(lengths != self.list_size)
            if bad.size:
                raise ShapeError(f"{self.where}: row {first_row + int(bad[0])} of column {self.columns[0]!r} has "
                                 f"{int(lengths[bad[0]])} probabilities, not {self.list_size} like the first row; "
                                 "write one value per class on every row.")
            values = col.flatten()
        if values.null_count:
            raise DataError(f"{self.where}: column {self.columns[0]!r} holds missing probabilities near row "
                            f"{first_row}; fill them.")
        return values.to_numpy(zero_copy_only=False).astype(self.raw_dtype, copy=False).reshape(-1, self.list_size)


def open_probabilities(pred_probs, *, columns: Optional[Sequence[str]] = None) -> ChunkSource:
    """A :class:`ChunkSource` over ``pred_probs`` (see the module docstring for what it may be).

    columns: for Arrow/Parquet input, the one list column or the k numeric columns to read (default: a column
    named ``pred_probs``, else the only list column, else every column).
    """
    if isinstance(pred_probs, ChunkSource):
        return pred_probs
    if isinstance(pred_probs, (str, os.PathLike)):
        path = os.fspath(pred_probs)
        if not os.path.exists(path):
            raise DataError(f"pred_probs file {path!r} does not exist; pass an .npy file, a Parquet file or "
                            "directory, or an array.")
        if path.endswith(".npy"):
            return NpyFileSource(path)
        return _arrow_source(_open_dataset(path), columns, path)
    module = type(pred_probs).__module__ or ""
    if module.startswith("pyarrow"):
        import pyarrow as pa
        import pyarrow.dataset as ds

        if isinstance(pred_probs, pa.Table):
            return _arrow_source(ds.dataset(pred_probs), columns, "the pyarrow Table")
        if isinstance(pred_probs, ds.Dataset):
            return _arrow_source(pred_probs, columns, "the pyarrow dataset")
    return ArraySource(np.asarray(pred_probs) if not isinstance(pred_probs, np.ndarray) else pred_probs)


def _open_dataset(path: str):
    import pyarrow.dataset as ds  # a core dependency, imported only for Parquet input

    try:
        return ds.dataset(path, format="parquet")
    except Exception as exc:  # pyarrow raises several types for unreadable input
        raise DataError(f"cannot read {path!r} as Parquet ({exc}); pass a Parquet file or directory, or an "
                        ".npy file.") from exc


def _arrow_source(dataset, columns: Optional[Sequence[str]], where: str) -> ArrowSource:
    import pyarrow as pa

    schema = dataset.schema
    names = list(columns) if columns is not None else None
    for name in names or []:
        if name not in schema.names:
            raise DataError(f"{where} has no column {name!r}; its columns are {', '.join(schema.names)}.")
    list_columns = [f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_fixed_size_list(f.type)
                    or pa.types.is_large_list(f.type)]
    if names is None:
        if "pred_probs" in list_columns:
            names = ["pred_probs"]
        elif len(list_columns) == 1:
            names = list_columns
        elif list_columns:
            raise DataError(f"{where} has several list columns ({', '.join(list_columns)}); pass columns=[NAME] "
                            "naming the one that holds the probabilities.")
        else:
            names = list(schema.names)
    fields = [schema.field(name) for name in names]
    if len(fields) == 1 and fields[0].name in list_columns:
        value_type = fields[0].type.value_type
        if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
            raise ShapeError(f"{where}: column {fields[0].name!r} holds lists of {value_type}, not numbers.")
        if pa.types.is_fixed_size_list(fields[0].type):
            size = fields[0].type.list_size
        else:
            first = next(iter(dataset.to_batches(columns=names, batch_size=1)), None)
            size = len(first.column(0)[0]) if first is not None and first.num_rows else 0
        if size < 2:
            raise ShapeError(f"{where}: column {fields[0].name!r} holds {size} probabilities per row; a row needs "
                             "one per class (at least two).")
        return ArrowSource(dataset, names, size, value_type.to_pandas_dtype(), where)
    bad = [f.name for f in fields if not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))]
    if bad:
        raise ShapeError(f"{where}: column(s) {', '.join(bad)} are not numeric; store the probabilities as one "
                         "list column (a list of k floats per row) or as k float columns, and pass columns=[...].")
    if len(fields) < 2:
        raise ShapeError(f"{where} has {len(fields)} probability column(s); a row needs one per class (at least "
                         "two), as k float columns or one list column.")
    raw = np.result_type(*[f.type.to_pandas_dtype() for f in fields])
    return ArrowSource(dataset, names, None, raw, where)
