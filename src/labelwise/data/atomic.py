"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every helper writes to a temporary file in the destination's own directory (so the final rename never crosses a
file system), flushes and ``fsync``s it, then ``os.replace``s it onto the destination and ``fsync``s the directory
where the platform allows. If anything fails before the rename, the temporary file is removed and the destination
is untouched. Missing parent directories are created.

The new file gets the permissions of the file it replaces, or the usual ``0o666 & ~umask`` for a new file.

A process killed outright (``kill -9``, power loss) cannot remove its temporary file. The name therefore says whose
it is, ``.<name>.<host>-<pid>-<random>.tmp``, and every atomic write of ``<name>`` first removes the temporary files
of ``<name>`` left by processes of this host that no longer run (POSIX; elsewhere nothing is swept). So a killed
write leaves nothing that outlives the next write of the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import uuid
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, move it onto ``path``.

    The block must write the complete file at the yielded path (and close it). On an exception the temporary file
    is deleted and ``path`` keeps its previous content.
    """
    final = Path(os.fspath(path))
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(final)
    tmp = final.with_name(f".{final.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    # Create it now (O_EXCL: never clobber anything) so the mode follows the umask, as a plain open() would.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _fsync_file(tmp)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(final).st_mode))
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(final.parent)


def sweep_stale_temporaries(path: PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` whose writer (a process of this host) is gone; return them.

    Temporary files of running processes, of other hosts (a shared file system) and of unknown form are kept.
    """
    final = Path(os.fspath(path))
    if os.name != "posix":
        return []
    prefix = f".{final.name}.{_HOST}-"
    removed = []
    try:
        entries = [e for e in os.scandir(final.parent) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return []
    for entry in entries:
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


# a short, file-name-safe tag of this machine, so a sweep never judges another host's process ids
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path written."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(os.fspath(path))


def write_bytes_once(path: PathLike, data: bytes) -> Path:
    """Create ``path`` holding ``data``, atomically, only if it does not exist yet: raises FileExistsError when it
    does. Of two processes creating the same file at once, exactly one wins, and no reader sees half of it."""
    final = Path(os.fspath(path))
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(final)
    tmp = final.with_name(f".{final.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)  # fails if final exists: the atomic "create unless present"
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: exclusive creation, then the bytes
            with open(final, "xb") as f:
                f.write(data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(final.parent)
    return final


def write_text_atomic(path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (``encoding``, default UTF-8, no newline translation); return the path."""
    return write_bytes_atomic(path, text.encode(encoding))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not possible (nor needed) on every platform."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
