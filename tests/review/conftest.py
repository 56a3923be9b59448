"""A real PostgreSQL server for the review tests, started on loopback from Debian's packages.

``make test`` installs the ``postgresql`` package when it runs as root (the Makefile's ``postgres`` target). The
server is a throwaway cluster (``labelwise.testing.postgres``) started once per test session and stopped
at the end; each test gets its own fresh database. Where PostgreSQL or the psycopg driver is missing, the
PostgreSQL variants skip and say how to get them.
"""

from __future__ import annotations

import itertools
import os

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    """(host, port, user) of a running PostgreSQL server, or skip with the reason."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[dev]' (or 'labelwise[postgres]')")
    from labelwise.testing.postgres import PostgresUnavailable, throwaway_postgres

    try:
        with throwaway_postgres() as server:
            yield server
    except PostgresUnavailable as err:
        pytest.skip(str(err))


@pytest.fixture()
def postgres_url(postgres_server):
    """A SQLAlchemy URL of a new, empty database on the test server."""
    from labelwise.testing.postgres import create_database

    return create_database(*postgres_server, f"labelwise_{os.getpid()}_{next(_counter)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The review store's URL on each backend: a SQLite file, and a database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    return request.getfixturevalue("postgres_url")
