"""Connecting to a Ray cluster: what an address means, clear errors, and disconnecting only what we connected.

``connect(address)`` accepts

- ``"HOST:PORT"``: the head node of a cluster started with ``ray start --head --port PORT`` (its GCS address);
- ``"ray://HOST:PORT"``: a Ray Client server (``ray start --head`` serves one on port 10001);
- ``"auto"``: Ray's own meaning, without its legacy guessing: ``$RAY_ADDRESS`` when set; otherwise the cluster last
  started on this machine with ``ray start`` (the address Ray records in ``/tmp/ray/ray_current_cluster``); when
  there is neither, a local Ray instance is started in this process, bounded to this machine's CPUs, and stopped
  again at :meth:`RayConnection.close` (its ``note`` says so, for the command line to print). Ray's ``"auto"``
  would also attach to any other Ray process found on the machine; on a shared machine that may be someone else's
  cluster, so labelwise does not.

Before ``ray.init`` the head's port is tried with a plain TCP connection (``CONNECT_TIMEOUT_S``), so an address
nobody answers on fails at once with one line naming it and what to check, instead of Ray's long retry loop. When
this process is already connected to Ray (``ray.is_initialized()``), that connection is used and left open.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Optional

from labelwise.errors import LabelwiseError, MissingExtraError, ParameterError

__all__ = ["RayConnection", "connect", "import_ray", "CONNECT_TIMEOUT_S"]

CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for the head node's port to accept a connection."""


def import_ray():
    """The ``ray`` module, or MissingExtraError naming ``pip install 'labelwise[ray]'``."""
    try:
        import ray
    except ImportError as error:
        raise MissingExtraError("ray", "ray", "running stages on a Ray cluster") from error
    return ray


@dataclass
class RayConnection:
    """The Ray session labelwise uses. address: where it is (``"local"`` for an instance started here); owned: True
    when :func:`connect` called ``ray.init`` (then :meth:`close` calls ``ray.shutdown``); note: what the user
    should be told (a started local instance), else ``""``."""

    address: str
    owned: bool
    note: str = ""

    def close(self) -> None:
        """Disconnect, when this connection made the session (a session that was already open stays open)."""
        if self.owned:
            ray = import_ray()
            if ray.is_initialized():
                ray.shutdown()
            self.owned = False


def _recorded_address() -> Optional[str]:
    """The address ``ray start`` on this machine recorded last, or None."""
    try:
        from ray._private.utils import read_ray_address  # where Ray itself reads it for "auto"

        return read_ray_address(None) or None
    except Exception:  # noqa: BLE001 - a Ray version without it: read the file it writes
        path = os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray", "ray_current_cluster")
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            return None


def _host_port(address: str) -> tuple[str, int]:
    bare = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        raise ParameterError(f"Ray address {address!r} is not HOST:PORT, ray://HOST:PORT or 'auto'.")
    return host.strip("[]"), int(port)


def _check_reachable(address: str, where: str, timeout_s: float) -> None:
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as error:
        raise LabelwiseError(
            f"no Ray cluster answers at {address}{where} ({error.strerror or error}); check that the head node runs "
            f"and the port is open: ray status --address {host}:{port} on the head, or start one with "
            "ray start --head.") from None


def connect(address: str = "auto", *, timeout_s: float = CONNECT_TIMEOUT_S) -> RayConnection:
    """Connect this process to Ray (see the module docstring for ``address``). Raises MissingExtraError without ray,
    ParameterError for an address that is not one, LabelwiseError when nobody answers there."""
    ray = import_ray()
    if ray.is_initialized():
        return RayConnection(address=_current_address(ray), owned=False)
    if not isinstance(address, str) or not address.strip():
        raise ParameterError(f"the Ray address must be 'auto', HOST:PORT or ray://HOST:PORT; got {address!r}.")
    address = address.strip()
    where = ""
    if address == "auto":
        found = os.environ.get("RAY_ADDRESS", "").strip()
        where = " (from RAY_ADDRESS)"
        if not found or found == "auto":
            found, where = _recorded_address() or "", " (recorded by ray start on this machine)"
        if not found:
            return _start_local(ray)
        address = found
    _check_reachable(address, where, timeout_s)
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ... for a bad cluster
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LabelwiseError(f"cannot join the Ray cluster at {address}{where}: {first}; check it with "
                             f"ray status --address {address.removeprefix('ray://')}.") from error
    return RayConnection(address=address, owned=True)


def _start_local(ray) -> RayConnection:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # "local": a new instance, never one found on the machine
    note = (f"no Ray cluster found (RAY_ADDRESS is not set and none was started with `ray start` on this machine): "
            f"started a local Ray instance on this machine's {cpus} CPUs; it stops when labelwise is done.")
    return RayConnection(address="local", owned=True, note=note)


def _current_address(ray) -> str:
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - a client session has no GCS address
        return "connected"
