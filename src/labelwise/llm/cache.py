"""A response cache in SQLite: key = hash of (backend, model, call kind, prompt, parameters), value = JSON.

One file per cache directory (``$LABELWISE_CACHE_DIR/llm.sqlite``, else ``~/.cache/labelwise/llm.sqlite``). A rerun
of the same annotation costs no model call, and an interrupted run resumes where it stopped because every answer
is written as soon as it arrives. Safe to delete at any time. Thread-safe (one connection per thread, WAL).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Optional


def default_cache_path() -> Path:
    root = os.environ.get("LABELWISE_CACHE_DIR") or Path.home() / ".cache" / "labelwise"
    return Path(root) / "llm.sqlite"


class ResponseCache:
    """get(key_parts) / put(key_parts, value); ``key_parts`` is any JSON-serialisable description of the call."""

    def __init__(self, path: Optional[os.PathLike] = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.hits = 0
        self.misses = 0

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def key(parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, parts: Any) -> Optional[Any]:
        row = self._connection().execute("SELECT value FROM responses WHERE key = ?", (self.key(parts),)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, parts: Any, value: Any) -> None:
        with self._connection() as conn:
            conn.execute("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                         (self.key(parts), json.dumps(value, ensure_ascii=False)))
