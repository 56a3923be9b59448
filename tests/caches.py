"""Helpers for the tests of the caches: files moved aside, calls that must not warn, and code that cannot write a
folder (a real permission denial from the kernel, also when the tests run as root).

Root ignores file modes, so under root the code runs in a forked child that has dropped to the ``nobody`` user
(everything it needs is imported already: the interpreter's own folder may be closed to ``nobody``). As another
user the folder and its files are made read-only for the call and restored after.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

NOBODY = 65534


@contextmanager
def shared_folder() -> Iterator[Path]:
    """An empty folder that every user may read (under /tmp: pytest's own folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="labelwise-readonly-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _open_to_all(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def _make_readonly(folder: Path) -> None:
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)


def without_write_access(folder: Path, call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``call()`` where ``folder`` and all in it can be read but not written: (its result, its warning messages)."""
    if os.geteuid() != 0:
        _make_readonly(folder)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call()
        finally:
            _open_to_all(folder)
        return result, [str(w.message) for w in caught]

    _open_to_all(folder)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, run, send (ok, payload) back, exit without cleanup handlers
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call()
            payload = pickle.dumps((True, (result, [str(w.message) for w in caught])))
        except BaseException:  # noqa: BLE001 - reported to the parent
            payload = pickle.dumps((False, traceback.format_exc()))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    ok, payload = pickle.loads(data)
    if not ok:
        if "Operation not permitted" in payload and "setuid" in payload:
            pytest.skip("running as root without the right to switch to the 'nobody' user (CAP_SETUID)")
        raise AssertionError(f"the read-only call failed:\n{payload}")
    return payload


def moved_aside(folder: Path, name: str) -> list[Path]:
    """The copies of cache file ``name`` that were moved aside in ``folder`` (without their -wal/-shm)."""
    return sorted(p for p in folder.glob(f"{name}.broken-*") if not p.name.endswith(("-wal", "-shm")))


def no_warnings(call: Callable[[], Any]) -> Any:
    """``call()``, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


@contextmanager
def deleted_without_pause(path: Path) -> Iterator[list[int]]:
    """While the block runs, a thread deletes ``path`` (a file or a folder) again and again; yields the count."""
    stop = threading.Event()
    count = [0]

    def delete() -> None:
        while not stop.is_set():
            try:
                shutil.rmtree(path) if path.is_dir() else os.remove(path)
                count[0] += 1
            except OSError:
                pass
            stop.wait(0.001)

    thread = threading.Thread(target=delete)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join()
