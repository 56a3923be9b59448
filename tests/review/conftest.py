"""A real PostgreSQL server for the review tests, started on loopback from Debian's packages.

``make test`` installs the ``postgresql`` package when it runs as root (see the Makefile's ``postgres`` target).
The server is a throwaway cluster in a temporary folder (initdb, trust authentication on 127.0.0.1 only, a free
port), started once per test session and stopped at the end. Each test gets its own fresh database. Where
PostgreSQL or the psycopg driver is not installed, the PostgreSQL variants skip and say how to get them.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_counter = itertools.count()


def _bindir():
    for pattern in ("/usr/lib/postgresql/*/bin",):
        found = sorted(glob.glob(pattern))
        if found and Path(found[-1], "initdb").exists():
            return Path(found[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """(host, port, user) of a running PostgreSQL server, or skip with the reason."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[dev]' (or 'labelwise[postgres]')")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: `make postgres` (as root: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="labelwise-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    # PostgreSQL refuses to run as root: run it as the postgres system user where we are root
    as_user = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                  "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                                  f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=200",
                                  "start"], check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        pytest.skip(f"could not start PostgreSQL from {bindir}: {err} {detail.decode(errors='replace')[-300:]}")
    yield "127.0.0.1", port, "postgres"
    subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                   capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def postgres_url(postgres_server):
    """A SQLAlchemy URL of a new, empty database on the test server."""
    import psycopg

    host, port, user = postgres_server
    name = f"labelwise_{os.getpid()}_{next(_counter)}_{int(time.time())}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The review store's URL on each backend: a SQLite file, and a database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    return request.getfixturevalue("postgres_url")
