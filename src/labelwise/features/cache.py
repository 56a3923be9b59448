"""On-disk, content-addressed cache of embedding vectors.

One SQLite file (``embeddings.sqlite3``, WAL journal) in a directory. A row's key is
``sha256(model_id + "\\0" + text)`` and its value the vector as little-endian float32 bytes, so:

- the same text under the same model is embedded once, whatever dataset or run it came from;
- a different model (or model file, tokenizer, length limit: all part of ``model_id``) never sees another's
  vectors;
- the directory is safe to delete at any time: the next call recreates it and re-embeds;
- several processes may read and write at once (SQLite locking, WAL), and a run killed half way keeps every
  batch it committed, so the next run embeds only what is left.

Rows are only ever inserted (``INSERT OR IGNORE``), never updated: a key's vector is a pure function of the key.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labelwise.errors import LabelwiseError, ParameterError

__all__ = ["EmbeddingCache", "default_cache_dir", "CACHE_DIR_ENV"]

#: Environment variable that moves the default cache directory.
CACHE_DIR_ENV = "LABELWISE_CACHE_DIR"

_FILENAME = "embeddings.sqlite3"
_CHUNK = 500  # keys per SELECT: under SQLite's oldest host-parameter limit (999)
_BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key    BLOB PRIMARY KEY,   -- sha256(model_id + '\\0' + text), 32 bytes
    dim    INTEGER NOT NULL,
    vector BLOB NOT NULL       -- dim little-endian float32
) WITHOUT ROWID
"""


def default_cache_dir() -> Path:
    """``$LABELWISE_CACHE_DIR`` if set, else ``~/.cache/labelwise``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "labelwise"


def cache_key(model_id: str, text: str) -> bytes:
    """The 32-byte key of ``text`` embedded by ``model_id``."""
    data = (model_id + "\0" + text).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(data).digest()


class EmbeddingCache:
    """Embedding vectors on disk, keyed by model and text.

    Parameters
    ----------
    directory:
        Folder that holds the SQLite file; created when first written. Deleting it loses nothing but time.

    Each call opens and closes its own connection, so an instance may be shared between threads and survives
    ``fork`` and pickling.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory).expanduser()

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.directory / _FILENAME

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    # -- connection ---------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise LabelwiseError(
                f"Cannot open the embedding cache at {self.path}: {exc}. Point ${CACHE_DIR_ENV} (or cache_dir=) at "
                "a writable folder, or pass cache_dir=False to turn the cache off."
            ) from exc
        error: Exception = sqlite3.OperationalError("database is locked")
        for attempt in range(100):
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: never corrupt; may drop the last commit
                con.execute(_SCHEMA)
                return con
            except sqlite3.DatabaseError as exc:
                error = exc
                # switching a new file to WAL needs a moment alone with it, and SQLite answers "locked" at once
                # rather than waiting its busy timeout: several processes opening a new cache together retry here
                if not isinstance(exc, sqlite3.OperationalError) or not ("locked" in str(exc) or "busy" in str(exc)):
                    break
                time.sleep(0.01 * (1 + attempt % 10))
        con.close()
        raise LabelwiseError(
            f"The embedding cache {self.path} is unreadable ({error}). It holds only cached vectors and is safe "
            f"to delete: remove the folder {self.directory} and run again."
        ) from error

    # -- public -------------------------------------------------------------------------------------------------

    def get_many(self, model_id: str, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached vectors of ``texts`` under ``model_id``.

        Returns ``{i: vector}`` for each position ``i`` of ``texts`` that is cached; ``vector: (d,) float32``
        (a fresh, writable array). Positions not cached are absent. Repeated texts are all found or all absent.
        """
        if len(texts) == 0:
            return {}
        if not self.path.exists():  # a deleted or never-written cache: nothing to find, nothing to create
            return {}
        positions: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            positions.setdefault(cache_key(model_id, text), []).append(i)
        keys = list(positions)
        found: dict[int, np.ndarray] = {}
        con = self._connect()
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(f"SELECT key, dim, vector FROM embeddings WHERE key IN ({marks})", chunk)
                for key, dim, blob in rows:
                    vec = np.frombuffer(blob, dtype="<f4")
                    if vec.shape != (dim,):  # a torn or foreign row: treat as a miss
                        continue
                    vec = vec.astype(np.float32)  # native order, own memory
                    for i in positions[bytes(key)]:
                        found[i] = vec if len(positions[bytes(key)]) == 1 else vec.copy()
        except sqlite3.DatabaseError as exc:
            raise LabelwiseError(
                f"Reading the embedding cache {self.path} failed ({exc}). It is safe to delete: remove the folder "
                f"{self.directory} and run again."
            ) from exc
        finally:
            con.close()
        return found

    def put_many(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors: (n, d)`` (any float dtype, kept as float32) as the embeddings of ``texts: (n,)``.

        One transaction: after a crash either the whole batch is there or none of it.
        """
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ParameterError(f"vectors must have shape (len(texts), d) = ({len(texts)}, d), got {vectors.shape}")
        if len(texts) == 0:
            return
        data = np.ascontiguousarray(vectors, dtype="<f4")
        dim = int(data.shape[1])
        rows = [(cache_key(model_id, text), dim, data[i].tobytes()) for i, text in enumerate(texts)]
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR IGNORE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)", rows)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise LabelwiseError(
                f"Writing the embedding cache {self.path} failed ({exc}). Free disk space or point "
                f"${CACHE_DIR_ENV} at another folder; cache_dir=False turns the cache off."
            ) from exc
        finally:
            con.close()

    def __len__(self) -> int:
        """Number of cached vectors (all models)."""
        if not self.path.exists():
            return 0
        con = self._connect()
        try:
            return int(con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        finally:
            con.close()
