"""Rows of a 2-D ``.npy`` file on disk, read and written a block at a time without keeping the file resident.

A plain ``np.memmap`` keeps every page it touched mapped into the process, so one pass over a 4 GB file makes the
process's resident set 4 GB (the kernel may drop those pages later, but ``ru_maxrss`` and a container's limit count
them). :class:`DiskRows` maps the file the same way and tells the kernel (``madvise(MADV_DONTNEED)``) after each
block that its pages are no longer needed: resident memory stays at one block. Nothing is lost: the mapping is
shared, so written rows are in the page cache and the file.

A ``DiskRows`` looks enough like an array (``ndim``, ``shape``, ``dtype``, ``len``, slicing) for
:func:`labelwise.sharded_neighbours.knn_sharded` to search it shard by shard.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

__all__ = ["DiskRows", "create_rows"]


def create_rows(path, n_rows: int, n_cols: int, dtype=np.float32) -> "DiskRows":
    """A new ``(n_rows, n_cols)`` ``.npy`` file of zeros at ``path`` (sparse on disk), open for writing."""
    header = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(int(n_rows), int(n_cols)))
    del header
    return DiskRows(path, writable=True)


class DiskRows:
    """``path``: a 2-D ``.npy`` file (C order). ``rows[lo:hi]`` and ``take(indices)`` return copies;
    ``write(lo, block)`` stores rows ``lo .. lo + len(block)`` and ``put(indices, block)`` scattered rows
    (``writable=True``); ``flush()`` makes them durable."""

    def __init__(self, path, *, writable: bool = False):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{self.path} is not a 2-D C-ordered array")
        self.shape, self.dtype, self._offset = tuple(shape), np.dtype(dtype), offset
        self._file = open(self.path, "r+b" if writable else "rb")
        size = offset + self.shape[0] * self.shape[1] * self.dtype.itemsize
        if size == offset:  # an empty array: nothing to map
            self._mmap, self._array = None, np.zeros(self.shape, self.dtype)
            return
        self._mmap = mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
        self._array = np.ndarray(self.shape, self.dtype, buffer=self._mmap, offset=offset)

    ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        out = np.array(self._array[key])
        self.release()
        return out

    def take(self, indices) -> np.ndarray:
        """Rows ``indices`` ((m,) int), as a copy. Read with ``pread``, not through the mapping: a page fault maps
        the pages around it too (fault-around, readahead), so scattered rows would map many times their size."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.shape[1]), self.dtype)
        self._by_runs(os.preadv, indices, out)
        return out

    def put(self, indices, block) -> None:
        """Store ``block`` ((m, cols)) as rows ``indices`` ((m,) int), with ``pwrite`` (see :meth:`take`)."""
        indices = np.asarray(indices, dtype=np.int64)
        self._by_runs(os.pwritev, indices, np.ascontiguousarray(block, dtype=self.dtype))

    def _by_runs(self, call, indices: np.ndarray, rows: np.ndarray) -> None:
        """``call(fd, [buffer], offset)`` once per run of consecutive ``indices``, on the matching ``rows``."""
        if not len(indices):
            return
        row_bytes = self.shape[1] * self.dtype.itemsize
        starts = np.flatnonzero(np.r_[True, np.diff(indices) != 1])
        stops = np.r_[starts[1:], len(indices)]
        buffer = rows.reshape(-1).view(np.uint8)
        fd = self._file.fileno()
        for lo, hi in zip(starts.tolist(), stops.tolist()):
            want = (hi - lo) * row_bytes
            done = call(fd, [buffer[lo * row_bytes:hi * row_bytes]], self._offset + int(indices[lo]) * row_bytes)
            if done != want:
                raise OSError(f"short {call.__name__} on {self.path}: {done} of {want} bytes")

    def write(self, lo: int, block) -> None:
        block = np.asarray(block, dtype=self.dtype)
        self._array[lo:lo + len(block)] = block
        self.flush()

    def flush(self) -> None:
        if self._mmap is not None and self._array.flags.writeable:
            self._mmap.flush()
        self.release()

    def release(self) -> None:
        """Drop this process's pages of the file (they stay in the page cache and on disk)."""
        if self._mmap is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mmap.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self._array = None
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        self._file.close()

    def __enter__(self) -> "DiskRows":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

