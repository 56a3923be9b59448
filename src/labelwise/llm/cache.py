"""A response cache in SQLite: key = hash of (backend, model, call kind, prompt, parameters), value = JSON.

One file (``$LABELWISE_LLM_CACHE``, else ``$LABELWISE_CACHE_DIR/llm.sqlite``, else ``~/.cache/labelwise/llm.sqlite``).
A rerun of the same annotation costs no model call, and an interrupted run resumes where it stopped because every
answer is written as soon as it arrives.

It heals like the embedding cache (:mod:`labelwise.cachefile`): a corrupt, truncated or foreign file is moved aside
with one warning line and rebuilt; a read-only one is read and not written; the file may be deleted at any time.
Each row stores the backend and model that answered and a checksum (blake2b, 8 bytes) over key, model and answer;
a row that fails either, or whose answer does not have the shape the caller expects, is a miss and is replaced.

**Size limit.** The answers (keys, model names and JSON, in bytes) are kept under ``size_limit`` (default 1 GiB;
``size_limit=`` or ``$LABELWISE_LLM_CACHE_SIZE``, e.g. ``500MB``, ``2GiB`` or a number of bytes): when a write
goes over it, the least recently used answers are evicted down to 90% of it. A hit records its time (when the last
record is over an hour old, so reruns in quick succession cost no writes), so a rerun keeps what it uses. A
trigger-kept total makes the check one read per write.

Why SQLite of our own rather than ``diskcache`` (which llama-cpp-python already installs, and which is SQLite
underneath too):

- *several processes*: both rely on SQLite's locking in WAL mode; diskcache adds nothing here;
- *kill -9*: our answers live in the database, so a killed writer leaves a committed row or no row; diskcache
  keeps values above 32 kB in separate files written before their rows, which a kill can leave orphaned;
- *weight and safety*: diskcache is not a dependency of labelwise's OpenAI backend (``httpx`` only), and its
  default serialisation is pickle, which runs code from whoever could write the cache folder; we store JSON only;
- *healing*: diskcache raises the same raw ``sqlite3.DatabaseError`` on a corrupt file, so we would wrap it in
  this module's healing anyway; with our own table the checks (model, checksum) sit in the row itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from labelwise.cachefile import CacheFile, default_cache_dir
from labelwise.errors import ParameterError

__all__ = ["ResponseCache", "default_cache_path", "parse_size", "CACHE_FILE_ENV", "CACHE_SIZE_ENV",
           "DEFAULT_SIZE_LIMIT"]

#: Environment variable naming the response cache file (default: ``llm.sqlite`` in the cache directory).
CACHE_FILE_ENV = "LABELWISE_LLM_CACHE"
#: Environment variable with the size limit (``500MB``, ``2GiB``, or bytes).
CACHE_SIZE_ENV = "LABELWISE_LLM_CACHE_SIZE"
DEFAULT_SIZE_LIMIT = 2**30  # 1 GiB: millions of answers (a label score is about 200 bytes)
_VERSION = 1  # 0: (key, value) only
_TOUCH_AFTER_S = 3600.0  # a hit records its time when the last record is older: least recently used to the hour
_EVICT_TO = 0.9  # an eviction frees room down to this share of the limit, so it does not run on every write

_SCHEMA = (
    """CREATE TABLE responses (
        key      TEXT PRIMARY KEY,  -- sha256 of the call's JSON description
        model    TEXT NOT NULL,     -- backend/model that answered: checked on read
        value    TEXT NOT NULL,     -- the answer as JSON
        checksum BLOB NOT NULL,     -- blake2b-8 of key, model and value
        size     INTEGER NOT NULL,  -- bytes counted against the limit: key, model and value
        used     REAL NOT NULL      -- last write or hit (Unix time): the least recently used go first
    )""",
    "CREATE INDEX responses_by_use ON responses (used)",
    "CREATE TABLE total (bytes INTEGER NOT NULL)",  # one row: the sum of responses.size
    "INSERT INTO total VALUES (0)",
    "CREATE TRIGGER responses_added AFTER INSERT ON responses BEGIN UPDATE total SET bytes = bytes + NEW.size; END",
    """CREATE TRIGGER responses_changed AFTER UPDATE OF size ON responses
        BEGIN UPDATE total SET bytes = bytes + NEW.size - OLD.size; END""",
    "CREATE TRIGGER responses_removed AFTER DELETE ON responses BEGIN UPDATE total SET bytes = bytes - OLD.size; END",
)

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def default_cache_path() -> Path:
    """``$LABELWISE_LLM_CACHE``, else ``llm.sqlite`` in :func:`labelwise.cachefile.default_cache_dir`."""
    env = os.environ.get(CACHE_FILE_ENV)
    if env:
        return Path(env).expanduser()
    return default_cache_dir() / "llm.sqlite"


def parse_size(value: int | str, where: str = "size_limit") -> int:
    """Bytes from ``1000000``, ``"500MB"``, ``"2 GiB"`` (decimal and binary units); a positive integer."""
    if isinstance(value, bool):
        raise ParameterError(f"{where} must be a number of bytes such as 500MB or 2GiB, got {value!r}.")
    if isinstance(value, int):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ParameterError(f"{where} must be a number of bytes such as 500MB or 2GiB, got {value!r}.")
        size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ParameterError(f"{where} must be positive, got {value!r}.")
    return size


def _checksum(key: str, model: str, value: str) -> bytes:
    return hashlib.blake2b("\0".join((key, model, value)).encode("utf-8", errors="surrogatepass"),
                           digest_size=8).digest()


class ResponseCache:
    """get(key_parts) / put(key_parts, value); ``key_parts`` is any JSON-serialisable description of the call.

    ``path``: the SQLite file (default: :func:`default_cache_path`). ``size_limit``: bytes or a string such as
    ``"500MB"`` (default: ``$LABELWISE_LLM_CACHE_SIZE``, else 1 GiB). Thread-safe; processes may share the file.
    """

    def __init__(self, path: Optional[os.PathLike] = None, *, size_limit: int | str | None = None):
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        if size_limit is None:
            env = os.environ.get(CACHE_SIZE_ENV)
            self.size_limit = parse_size(env, f"${CACHE_SIZE_ENV}") if env else DEFAULT_SIZE_LIMIT
        else:
            self.size_limit = parse_size(size_limit)
        self._file = CacheFile(self.path, schema=_SCHEMA, version=_VERSION, what="LLM response cache",
                               holds="cached model answers")
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, size_limit={self.size_limit})"

    @staticmethod
    def key(parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, parts: Any, *, model: str = "", valid: Optional[Callable[[Any], bool]] = None) -> Optional[Any]:
        """The answer stored for ``parts`` by ``model``, or ``None``. A row from another model, with a wrong
        checksum, or whose answer ``valid(answer)`` rejects is a miss (one warning line)."""
        key = self.key(parts)
        row = self._file.read(lambda con: con.execute(
            "SELECT model, value, checksum, used FROM responses WHERE key = ?", (key,)).fetchone())
        value = self._check(key, model, row[:3], valid) if row is not None else None
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        now = time.time()
        if not isinstance(row[3], (int, float)) or now - row[3] >= _TOUCH_AFTER_S:  # least-recently-used bookkeeping; skipped where the file is read-only
            self._file.write(lambda con: con.execute("UPDATE responses SET used = ? WHERE key = ?", (now, key)),
                             quiet=True)
        return value

    def _check(self, key: str, model: str, row: tuple, valid: Optional[Callable[[Any], bool]]) -> Optional[Any]:
        stored_model, text, checksum = row
        try:
            ok = stored_model == model and checksum == _checksum(key, stored_model, text)
            value = json.loads(text) if ok else None
            ok = ok and value is not None and (valid is None or bool(valid(value)))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            self._file.warn("bad rows", f"the LLM response cache {self.path} holds answers that fail their check "
                                        "(another model, a wrong checksum or an unexpected shape); they are asked "
                                        "again and replaced.")
            return None
        return value

    def put(self, parts: Any, value: Any, *, model: str = "") -> None:
        """Store ``value`` (JSON-serialisable) as the answer of ``model`` to ``parts``; evict the least recently
        used answers when the total goes over ``size_limit``. An answer larger than the limit is not stored."""
        key = self.key(parts)
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        size = len(key) + len(model.encode()) + len(text.encode())
        if size > self.size_limit:
            return
        row = (key, model, text, _checksum(key, model, text), size, time.time())

        def update(con) -> None:
            con.execute("INSERT INTO responses (key, model, value, checksum, size, used) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET model = excluded.model, value = excluded.value, "
                        "checksum = excluded.checksum, size = excluded.size, used = excluded.used", row)
            self._evict(con)

        self._file.write(update)

    def _evict(self, con) -> None:
        total = con.execute("SELECT bytes FROM total").fetchone()[0]
        if total <= self.size_limit:
            return
        excess = total - int(self.size_limit * _EVICT_TO)
        victims, freed = [], 0
        oldest_first = con.execute("SELECT key, size FROM responses ORDER BY used")
        for key, size in oldest_first:
            victims.append((key,))
            freed += size
            if freed >= excess:
                break
        oldest_first.close()
        con.executemany("DELETE FROM responses WHERE key = ?", victims)

    def close(self) -> None:
        """Close this thread's connection to the file (it reopens on the next call)."""
        self._file.close()

    def __len__(self) -> int:
        """Number of stored answers."""
        return int(self._file.read(lambda con: con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]) or 0)

    @property
    def size(self) -> int:
        """Bytes of the stored answers, as counted against ``size_limit``."""
        return int(self._file.read(lambda con: con.execute("SELECT bytes FROM total").fetchone()[0]) or 0)

