"""The review database's engines: connections for reads, for writes and for one consistent snapshot; schema upgrades.

SQLite by default (WAL journal, foreign keys on), PostgreSQL by URL. Writers on SQLite take the database lock when
their transaction begins (``BEGIN IMMEDIATE``), so a version check always sees the last commit, and queue on a lock
of this process first (fair and immediate, where SQLite's busy handler sleeps with growing pauses). Readers use
their own engine, which WAL never blocks. The schema is created and upgraded by the Alembic migrations in
``migrations/`` when the database is opened.
"""

from __future__ import annotations

import datetime as _dt
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from labelwise.errors import MissingExtraError

try:
    from sqlalchemy import Connection, create_engine, event, inspect
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("sqlalchemy", "review", "the review store") from err

MIGRATIONS = Path(__file__).parent / "migrations"


def now() -> _dt.datetime:
    """The current time, timezone-aware (UTC); every timestamp of the store comes from here."""
    return _dt.datetime.now(_dt.timezone.utc)


def upgrade_schema(engine) -> None:
    """Create or upgrade the review tables to the newest Alembic revision. A database made by the first version of
    the app (tables but no ``alembic_version``) is stamped as revision 0001 first, then upgraded."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "items" in tables and "alembic_version" not in tables:
            command.stamp(config, "0001")
        command.upgrade(config, "head")


class Database:
    """Engines and transactions of one review database. url: SQLAlchemy URL (``sqlite:///path.db`` or
    ``postgresql+psycopg://user@host/db``)."""

    def __init__(self, url: str):
        self.url = url
        self.sqlite = url.startswith("sqlite")
        # enough pooled connections for the app's worker threads, so no request waits for a connection
        options = {"pool_size": 20, "max_overflow": 30}
        if self.sqlite:
            options["connect_args"] = {"timeout": 30}
        self.engine = create_engine(url, **options)
        self.read_engine = self.engine
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self.read_engine = create_engine(url, **options)
            event.listen(self.read_engine, "connect", _sqlite_pragmas)
        upgrade_schema(self.engine)
        # Core connections, not ORM sessions: a page is a handful of point queries, and the ORM's per-statement
        # overhead (about 1 ms each) was most of a request's time
        self._read = self.read_engine.connect
        self._write_lock = threading.Lock() if self.sqlite else None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        if self._write_lock is None:
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._write_lock, self.engine.begin() as connection:
                yield connection

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read-only transaction: every query in the block sees the database as of its first query, whatever
        commits meanwhile (PostgreSQL: REPEATABLE READ; SQLite: one WAL read transaction)."""
        if self.sqlite:
            with self.read_engine.connect() as connection:
                connection.exec_driver_sql("BEGIN")  # deferred: the snapshot starts at the first SELECT
                try:
                    yield connection
                finally:
                    connection.exec_driver_sql("ROLLBACK")
        else:
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
                with connection.begin():
                    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                    yield connection

    def dispose(self) -> None:
        """Close every pooled connection (the store can still be used; it reconnects)."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _sqlite_pragmas(connection, _record) -> None:
    connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
