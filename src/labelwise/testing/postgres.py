"""A throwaway PostgreSQL server on loopback, for the review store's tests and load benchmark (test infrastructure:
nothing in the library imports it).

It uses the PostgreSQL binaries of the machine (Debian's ``postgresql`` package: ``make postgres``), makes a new
cluster in a temporary folder (``initdb``, trust authentication, listening on 127.0.0.1 only, a free port), and
removes it all on exit. PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user.
Not for production data: fsync is off.

Why not pytest-postgresql's ``postgresql_proc``: it starts ``pg_ctl`` as the current user, and PostgreSQL refuses to
run as root (CI runs as root); and ``bench/review_load.py`` needs the same server outside pytest.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to install."""


def _bindir() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres() -> Iterator[tuple[str, int, str]]:
    """Start a server; yields (host, port, superuser). Raises PostgresUnavailable when it cannot start."""
    bindir = _bindir()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL is not installed: `make postgres` (as root: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="labelwise-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL unprivileged")
        for path in (root, sockets):
            shutil.chown(path, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    pg_ctl = as_user + [str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                  "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        subprocess.run(pg_ctl + ["-l", str(root / "server.log"), "-w", "-t", "60", "-o",
                                 f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=300",
                                 "start"], check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = (getattr(err, "stderr", b"") or b"").decode(errors="replace")[-300:]
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL from {bindir}: {err} {detail}") from None
    try:
        yield "127.0.0.1", port, "postgres"
    finally:
        subprocess.run(pg_ctl + ["-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(host: str, port: int, user: str, name: str) -> str:
    """Create database ``name`` on the server; returns its SQLAlchemy URL (psycopg 3 driver)."""
    import psycopg

    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"
