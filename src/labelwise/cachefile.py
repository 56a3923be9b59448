"""One SQLite file that holds a cache and heals itself: the embedding cache and the LLM response cache build on it.

A cache only saves time, so nothing that happens to its file stops a run:

- **corrupt, truncated or of another schema** (another program's file, an older labelwise): the file and its
  ``-wal``/``-shm``/``-journal`` companions are renamed to ``<name>.broken-<UTC time>`` (never deleted), one
  :class:`~labelwise.errors.CacheWarning` line says so, and a new file is started;
- **read-only** (the file, its folder or the file system): what it holds is read (opened ``immutable``: nobody can
  change it) and what is missing is computed but not saved, with one warning per cache saying how to keep it. We
  chose this over raising :class:`~labelwise.errors.CacheError`: the results are the same with or without the
  cache, a read-only cache is a deliberate setup (a shared or pre-built cache, a read-only home in a container)
  whose missing entries are few, and an error would stop a run that can finish correctly, only slower;
- **deleted** at any time (the file or its folder, even between two batches of one run): the next call notices
  (the path is gone or names another file), starts a new file and goes on; only what the deleted file held is lost;
- **disk full, I/O errors, or locked beyond the busy timeout**: that write is skipped with one warning, reads miss.

Checking each row (model, length, checksum) is the caller's job: this module knows files, not contents.

Connections: one per thread and process (an SQLite connection must not cross a thread or a ``fork``), kept open and
reopened when the file was replaced. WAL journal: readers never wait for the writer, and a process killed at any
point leaves a consistent file (committed transactions stay, an unfinished one is rolled back on the next open).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from labelwise.errors import CacheWarning

__all__ = ["CacheFile", "CACHE_DIR_ENV", "default_cache_dir"]

#: Environment variable that moves the default cache directory (embeddings and LLM answers).
CACHE_DIR_ENV = "LABELWISE_CACHE_DIR"

_APPLICATION_ID = 0x4C424C57  # "LBLW" in the file header: a file another program wrote is never taken for ours
_BUSY_TIMEOUT_S = 60.0
_COMPANIONS = ("-wal", "-shm", "-journal")

T = TypeVar("T")

# SQLite's primary result codes (https://sqlite.org/rescode.html)
_CORRUPT, _NOTADB = 11, 26
_READONLY, _PERM, _AUTH = 8, 3, 23
_BUSY, _LOCKED = 5, 6
_FULL = 13
_IOERR, _CANTOPEN = 10, 14

_inherited: list[sqlite3.Connection] = []  # connections a forked child got from its parent: never used, never closed


def default_cache_dir() -> Path:
    """``$LABELWISE_CACHE_DIR`` if set, else ``~/.cache/labelwise``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "labelwise"


class _Broken(Exception):
    """The file is not a cache of ours (or not a database at all)."""


class _Unwritable(Exception):
    """The file cannot be created or written here."""


def _kind(exc: sqlite3.Error) -> str:
    """What an SQLite error means for a cache: broken, readonly, busy, full, gone or other."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    text = str(exc).lower()
    if code is not None:
        primary = code & 0xFF
        if primary in (_CORRUPT, _NOTADB):
            return "broken"
        if primary in (_READONLY, _PERM, _AUTH):
            return "readonly"
        if primary in (_BUSY, _LOCKED):
            return "busy"
        if primary == _FULL:
            return "full"
        if primary in (_IOERR, _CANTOPEN):
            return "gone"
    elif "malformed" in text or "not a database" in text:
        return "broken"
    elif "readonly" in text or "read-only" in text:
        return "readonly"
    elif "locked" in text or "busy" in text:
        return "busy"
    elif "full" in text:
        return "full"
    elif "i/o error" in text or "unable to open" in text:
        return "gone"
    if "no such table" in text or "no such column" in text:  # our statements are fixed: the schema changed
        return "broken"
    return "other"


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold the lock of ``path`` against other threads (a lock per path) and other processes (``flock`` on
    ``<name>.lock`` beside it, where the folder is writable and the platform has it)."""
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(str(path), threading.Lock())
    with lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: threads of this process are still serialised
            yield
            return
        try:
            handle = open(f"{path}.lock", "a")
        except OSError:  # a read-only folder: nothing can be renamed there anyway
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_layouts: dict[tuple[str, ...], dict[tuple[str, str], tuple]] = {}


def _layout(con: sqlite3.Connection) -> dict[tuple[str, str], tuple]:
    """``{(type, name): columns}`` of every table, index and trigger (columns: names and types; () for the rest)."""
    entries = con.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    out = {}
    for kind, name in entries:
        columns = ()
        if kind == "table":
            quoted = name.replace('"', '""')
            columns = tuple((row[1], row[2].upper()) for row in con.execute(f'PRAGMA table_info("{quoted}")'))
        out[(kind, name)] = columns
    return out


def _expected_layout(schema: tuple[str, ...]) -> dict[tuple[str, str], tuple]:
    if schema not in _layouts:
        con = sqlite3.connect(":memory:")
        for statement in schema:
            con.execute(statement)
        _layouts[schema] = _layout(con)
        con.close()
    return _layouts[schema]


class CacheFile:
    """One SQLite cache file at ``path`` with the tables of ``schema`` (one statement per string).

    Parameters
    ----------
    path:
        The file; its folder is created on the first write.
    schema:
        ``CREATE`` statements (and any rows a new file starts with). A file whose tables, indexes or triggers differ,
        or whose ``version`` differs, is moved aside.
    version:
        Kept in the file's ``user_version``: raise it whenever ``schema`` changes.
    what:
        Names the cache in warnings ("embedding cache").
    holds:
        What a lost file costs, for warnings ("cached vectors").

    :meth:`read` and :meth:`write` take a function of an open connection. Neither raises for anything the file can
    do: ``read`` returns ``None`` when nothing could be read, ``write`` returns ``False`` when nothing was written.
    """

    def __init__(self, path: str | os.PathLike[str], *, schema: Sequence[str], version: int, what: str, holds: str):
        self.path = Path(path).expanduser()
        self.schema = tuple(schema)
        self.version = version
        self.what = what
        self.holds = holds
        self._local = threading.local()
        self._warned: set[str] = set()
        self._off = False  # unusable and impossible to move aside: the rest of this object's life runs without it

    def __repr__(self) -> str:
        return f"CacheFile({str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:  # picklable: connections stay behind
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    # -- public -------------------------------------------------------------------------------------------------

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T | None:
        """``query(connection)``; ``None`` when the file is missing, unusable or was just moved aside."""
        for attempt in range(2):
            if self._off:
                return None
            try:
                con = self._connection(create=False)
                return None if con is None else query(con)
            except _Broken as exc:
                self._move_aside(str(exc))
                return None
            except _Unwritable:
                return None
            except sqlite3.Error as exc:
                kind = _kind(exc)
                if kind == "broken":
                    self._move_aside(str(exc))
                    return None
                if kind == "gone" and attempt == 0:  # the file changed under an open connection: open it again
                    self._close()
                    continue
                if kind == "other":
                    raise
                self.warn(kind, f"the {self.what} {self.path} cannot be read ({exc}); going on without it.")
                return None
        return None

    def write(self, update: Callable[[sqlite3.Connection], None], *, quiet: bool = False) -> bool:
        """``update(connection)`` in one transaction (all of it is written or none); ``False`` when nothing was.

        ``quiet``: a write the caller can do without (bookkeeping): skipped silently when the file is read-only.
        """
        for attempt in range(2):
            if self._off:
                return False
            try:
                con = self._connection(create=True)
                if con is None or self._local.readonly:
                    raise _Unwritable("read-only")
                con.execute("BEGIN IMMEDIATE")
                try:
                    update(con)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                return True
            except _Broken as exc:
                self._move_aside(str(exc))
            except (_Unwritable, OSError) as exc:
                if not quiet:
                    self._warn_unwritable(exc)
                return False
            except sqlite3.Error as exc:
                kind = _kind(exc)
                if kind == "broken":
                    self._move_aside(str(exc))
                elif kind in ("gone", "readonly") and attempt == 0 and (
                        kind == "gone" or _identity(self.path) != getattr(self._local, "identity", None)):
                    self._close()  # the file was deleted or replaced under this connection: open the new one
                elif kind == "readonly":
                    self._local.readonly = True
                    if not quiet:
                        self._warn_unwritable(exc)
                    return False
                elif kind == "other":
                    raise
                else:
                    if not quiet:
                        self.warn(kind, f"writing the {self.what} {self.path} failed ({exc}); the run goes on "
                                        f"without saving these {self.holds}.")
                    return False
        return False

    def close(self) -> None:
        """Close the calling thread's connection (others close when their thread ends or this object goes)."""
        if getattr(self._local, "pid", None) == os.getpid():
            self._close()

    def warn(self, topic: str, message: str) -> None:
        """One :class:`CacheWarning` (one line) per ``topic`` and cache object."""
        if topic in self._warned:
            return
        self._warned.add(topic)
        warnings.warn(message, CacheWarning, stacklevel=3)

    # -- connections ----------------------------------------------------------------------------------------------

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        """This thread's connection to the file now at ``path``: ``None`` when there is none and ``create`` is
        false. Raises ``_Broken`` for a file that is not ours, ``_Unwritable`` when it cannot be created."""
        local = self._local
        con = getattr(local, "con", None)
        if con is not None and local.pid != os.getpid():
            _inherited.append(con)  # the parent's: closing it here could check point the parent's WAL under it
            con = local.con = None
        identity = _identity(self.path)
        if con is not None:
            if identity == local.identity:
                return con
            self._close()  # deleted or replaced since: the next statement would write to a file nobody reads
        if identity is None:
            if not create:
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _Unwritable(f"cannot create {self.path.parent}: {exc.strerror or exc}") from exc
        writable = os.access(self.path.parent, os.W_OK) and (identity is None or os.access(self.path, os.W_OK))
        if not writable and identity is not None and _identity(self.path) != identity:
            return self._connection(create)  # moved or replaced while we looked (another thread healing it): again
        if not writable and identity is None:
            raise _Unwritable(f"cannot create files in {self.path.parent}")
        local.identity = identity  # of the file being opened: only that one may be moved aside if it is broken
        con = self._open(writable)
        local.con, local.pid, local.readonly = con, os.getpid(), not writable
        if identity is None:
            local.identity = _identity(self.path)
        try:
            self._check(con, writable)
        except BaseException:
            self._close()
            raise
        return con

    def _open(self, writable: bool) -> sqlite3.Connection:
        if not writable:  # nobody can change a file we cannot write: no locks, no -shm file needed
            uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=ro&immutable=1"
            return sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        con = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        error: sqlite3.Error = sqlite3.OperationalError("database is locked")
        for attempt in range(100):
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: never corrupt; may lose the last commit
                return con
            except sqlite3.Error as exc:
                error = exc
                # switching a new file to WAL needs a moment alone with it, and SQLite answers "locked" at once
                # rather than waiting its busy timeout: several processes opening a new cache together retry here
                if _kind(exc) != "busy":
                    break
                time.sleep(0.01 * (1 + attempt % 10))
        con.close()
        raise error

    def _check(self, con: sqlite3.Connection, writable: bool) -> None:
        """Create the schema in a new, empty file; raise ``_Broken`` for a file that is not this cache."""
        try:
            self._check_or_create(con, writable)
        except sqlite3.Error as exc:
            if _kind(exc) == "other":  # a foreign file that trips our questions about its schema
                raise _Broken(str(exc)) from exc
            raise

    def _check_or_create(self, con: sqlite3.Connection, writable: bool) -> None:
        if self._matches(con):
            return
        if not writable:
            if not _layout(con):  # empty and read-only: nothing to read, nothing to do
                raise _Unwritable("read-only and empty")
            raise _Broken(self._difference(con))
        con.execute("BEGIN IMMEDIATE")  # decide alone: another process may be creating the same new file
        try:
            if not self._matches(con):
                if _layout(con) or con.execute("PRAGMA user_version").fetchone()[0] != 0:
                    raise _Broken(self._difference(con))
                for statement in self.schema:
                    con.execute(statement)
                con.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                con.execute(f"PRAGMA user_version = {int(self.version)}")
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _matches(self, con: sqlite3.Connection) -> bool:
        return (con.execute("PRAGMA application_id").fetchone()[0] == _APPLICATION_ID
                and con.execute("PRAGMA user_version").fetchone()[0] == self.version
                and _layout(con) == _expected_layout(self.schema))

    def _difference(self, con: sqlite3.Connection) -> str:
        app = con.execute("PRAGMA application_id").fetchone()[0]
        if app != _APPLICATION_ID:
            return "not written by labelwise, or by an older version"
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version != self.version:
            return f"schema version {version}, expected {self.version}"
        return "its tables were changed"

    def _close(self) -> None:
        con = getattr(self._local, "con", None)
        self._local.con = None
        if con is not None:
            try:
                con.close()
            except sqlite3.Error:
                pass

    # -- healing --------------------------------------------------------------------------------------------------

    def _move_aside(self, reason: str) -> None:
        """Rename the broken file (and its companions) out of the way; the next call starts a new one.

        Threads and processes that meet the same broken file all come here: the check that the file is still the
        broken one and the renames happen under one lock (``<name>.lock``), so a new file another thread started
        a moment ago is never moved aside in its place. The companions go first: once the main file is renamed,
        nothing here touches the path again.
        """
        broken = getattr(self._local, "identity", None)
        self._close()
        with _exclusive(self.path):
            if broken is not None and _identity(self.path) != broken:
                return  # already moved (by another thread or process) or replaced by a new file: leave it be
            if _identity(self.path) is None:
                return
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            target = self.path.with_name(f"{self.path.name}.broken-{stamp}")
            n = 1
            while target.exists():
                target = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
                n += 1
            for suffix in _COMPANIONS:
                try:
                    os.rename(f"{self.path}{suffix}", f"{target}{suffix}")
                except OSError:
                    pass
            try:
                os.rename(self.path, target)
            except FileNotFoundError:
                return
            except OSError as exc:
                self._off = True
                self.warn("broken", f"the {self.what} {self.path} is unusable ({reason}) and cannot be moved aside "
                                    f"({exc.strerror or exc}); going on without it. Delete it, or point "
                                    f"${CACHE_DIR_ENV} at a writable folder.")
                return
        self.warn(f"broken {target}", f"the {self.what} {self.path} was unusable ({reason}); moved it to "
                                      f"{target.name} and started a new one (it held only {self.holds}).")

    def _warn_unwritable(self, exc: BaseException) -> None:
        self.warn("unwritable", f"the {self.what} {self.path} is not writable ({exc}); what it holds is used, what "
                                f"is new is computed but not saved. Point ${CACHE_DIR_ENV} at a writable folder "
                                "to keep it.")
