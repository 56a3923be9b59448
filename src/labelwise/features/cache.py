"""On-disk, content-addressed cache of embedding vectors.

One SQLite file (``embeddings.sqlite3``) in a directory, kept by :class:`labelwise.cachefile.CacheFile`: a corrupt,
truncated or foreign file is moved aside and rebuilt, a read-only one is read (new vectors are computed, not
saved), and the file or its directory may be deleted at any time, even mid-run. Each of these gives one warning
line (:class:`~labelwise.errors.CacheWarning`) and the run goes on.

A row's key is ``sha256(model_id + "\\0" + text)``; beside its vector (little-endian float32) it stores the
``model_id`` and a checksum (blake2b, 8 bytes) over key, model and vector. Before a vector is used it must have
the model id asked for, a length that is a whole number of float32 values (and equal to ``dim`` when the caller
knows it), only finite values, and a matching checksum; any other row is a miss, is computed again and replaced.
So:

- the same text under the same model is embedded once, whatever dataset or run it came from;
- a different model (or model file, tokenizer, length limit: all part of ``model_id``) never sees another's
  vectors, not even ones copied under its keys;
- a damaged row, or one written by anything but :meth:`EmbeddingCache.put_many`, is never trusted;
- several processes may read and write at once (SQLite locking, WAL), and a run killed half way keeps every
  batch it committed, so the next run embeds only what is left.

A key's vector is a pure function of the key, so writing it again (``INSERT OR REPLACE``) changes nothing for a
good row and heals a bad one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labelwise.cachefile import CACHE_DIR_ENV, CacheFile, default_cache_dir
from labelwise.errors import ParameterError

__all__ = ["EmbeddingCache", "default_cache_dir", "CACHE_DIR_ENV"]

_FILENAME = "embeddings.sqlite3"
_CHUNK = 500  # keys per SELECT: under SQLite's oldest host-parameter limit (999)
_VERSION = 2  # 1: (key, dim, vector) without model id or checksum

_SCHEMA = (
    """CREATE TABLE embeddings (
        key      BLOB PRIMARY KEY,  -- sha256(model_id + '\\0' + text), 32 bytes
        model    TEXT NOT NULL,     -- model_id: checked on read
        vector   BLOB NOT NULL,     -- little-endian float32
        checksum BLOB NOT NULL      -- blake2b-8 of key, model and vector
    ) WITHOUT ROWID""",
)


def cache_key(model_id: str, text: str) -> bytes:
    """The 32-byte key of ``text`` embedded by ``model_id``."""
    data = (model_id + "\0" + text).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(data).digest()


def _checksum(key: bytes, model_id: str, blob: bytes) -> bytes:
    return hashlib.blake2b(key + model_id.encode("utf-8", errors="surrogatepass") + blob, digest_size=8).digest()


def _vector(key: bytes, model_id: str, dim: int | None, model: str, blob: bytes, checksum: bytes) -> np.ndarray | None:
    """The row's vector ``(d,) float32`` if it passes every check, else ``None``."""
    if model != model_id or not isinstance(blob, bytes) or len(blob) == 0 or len(blob) % 4:
        return None
    if dim is not None and len(blob) != 4 * dim:
        return None
    if checksum != _checksum(key, model_id, blob):
        return None
    vec = np.frombuffer(blob, dtype="<f4").astype(np.float32)  # native order, own memory
    return vec if np.isfinite(vec).all() else None


class EmbeddingCache:
    """Embedding vectors on disk, keyed by model and text.

    Parameters
    ----------
    directory:
        Folder that holds the SQLite file; created when first written. Deleting it loses nothing but time.

    An instance may be shared between threads (one SQLite connection each) and survives ``fork`` and pickling.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory).expanduser()
        self._file = CacheFile(self.directory / _FILENAME, schema=_SCHEMA, version=_VERSION, what="embedding cache",
                               holds="cached vectors")

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._file.path

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    def get_many(self, model_id: str, texts: Sequence[str], dim: int | None = None) -> dict[int, np.ndarray]:
        """Cached vectors of ``texts`` under ``model_id``.

        Returns ``{i: vector}`` for each position ``i`` of ``texts`` whose vector is cached and passes its checks;
        ``vector: (d,) float32`` (a fresh, writable array), with ``d == dim`` when ``dim`` is given. Positions not
        cached are absent; rows that fail a check are absent too, with one warning line saying how many.
        Repeated texts are all found or all absent.
        """
        if len(texts) == 0:
            return {}
        positions: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            positions.setdefault(cache_key(model_id, text), []).append(i)
        keys = list(positions)

        def query(con) -> tuple[dict[int, np.ndarray], int]:
            found: dict[int, np.ndarray] = {}
            rejected = 0
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT key, model, vector, checksum FROM embeddings WHERE key IN ({marks})"
                for key, model, blob, checksum in con.execute(sql, chunk):
                    vec = _vector(key, model_id, dim, model, blob, checksum)
                    if vec is None:
                        rejected += 1
                        continue
                    at = positions[key]
                    for n, i in enumerate(at):
                        found[i] = vec if n == 0 else vec.copy()
            return found, rejected

        result = self._file.read(query)
        if result is None:
            return {}
        found, rejected = result
        if rejected:
            self.reject(rejected, "a wrong model, length or checksum, or values that are not finite")
        return found

    def reject(self, count: int, why: str) -> None:
        """Warn (one line) that ``count`` cached vectors were not used because of ``why``."""
        self._file.warn(f"rejected {count} {why}", f"{count} cached vector(s) in {self.path} failed their check "
                                                   f"({why}); they are computed again and replaced.")

    def put_many(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors: (n, d)`` (any float dtype, kept as float32) as the embeddings of ``texts: (n,)``.

        One transaction: after a crash either the whole batch is there or none of it. Rows with values that are
        not finite are not stored. A cache that cannot be written is skipped with one warning.
        """
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ParameterError(f"vectors must have shape (len(texts), d) = ({len(texts)}, d), got {vectors.shape}")
        if len(texts) == 0 or vectors.shape[1] == 0:
            return
        data = np.ascontiguousarray(vectors, dtype="<f4")
        finite = np.isfinite(data).all(axis=1)
        rows = []
        for i, text in enumerate(texts):
            if finite[i]:
                key, blob = cache_key(model_id, text), data[i].tobytes()
                rows.append((key, model_id, blob, _checksum(key, model_id, blob)))
        if rows:
            self._file.write(lambda con: con.executemany(
                "INSERT OR REPLACE INTO embeddings (key, model, vector, checksum) VALUES (?, ?, ?, ?)", rows))

    def close(self) -> None:
        """Close this thread's connection to the file (it reopens on the next call)."""
        self._file.close()

    def __len__(self) -> int:
        """Number of cached vectors (all models)."""
        count = self._file.read(lambda con: con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        return int(count or 0)
