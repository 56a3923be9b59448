"""A Ray cluster of several nodes on this machine, for tests and benchmarks (never a user's cluster).

Each node is its own ``ray start --block`` process in its own process group, on 127.0.0.1, with free ports, a
fixed number of CPUs, a small object store, no dashboard, no usage stats, and one temporary folder for the whole
cluster; other Ray clusters on the machine are never touched (no ``ray stop``: it would end everyone's).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

__all__ = ["LocalRayCluster", "free_ports"]

RAY = str(Path(sys.executable).with_name("ray"))
AUTH_MODE = "disabled"
"""Ray's token authentication, set explicitly for the test cluster (loopback only, one session): with the mode unset,
``ray start`` turns tokens on whenever ``~/.ray/auth_token`` exists (any earlier local ``ray.init()`` on the machine
writes one), and this module's liveness check and the tests' clients would be refused. Processes that talk to the
cluster set ``RAY_AUTH_MODE`` to the same value (``tests/scale/conftest.py``)."""
START_TIMEOUT_S = 90
"""Seconds to wait for the nodes to come up."""
OBJECT_STORE_BYTES = 300 * 1024**2
NODE_MEMORY_BYTES = 1024**3


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports nobody listens on now (bound to port 0, then released)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _node_ports(taken: int) -> list[str]:
    """A node's component ports, each free now and none equal to ``taken`` (the head's GCS port: released after it
    was picked, so the OS may hand it out again, and ``ray start`` refuses two components on one port)."""
    names = ("--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
             "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port")
    ports = [port for port in free_ports(len(names) + 1) if port != taken][: len(names)]
    return [f"{name}={port}" for name, port in zip(names, ports)]


class LocalRayCluster:
    """A Ray head and ``workers`` more nodes on 127.0.0.1, each its own ``ray start --block`` process group.

    ``address``: the head's GCS address, for ``ray.init(address=...)``. ``start()`` waits (bounded) until every
    node is alive; ``kill_worker()`` / ``start_worker()`` take the last worker node down (SIGKILL to its whole
    group, as a machine that dies) and bring one back; ``stop()`` ends every group and then, by pid, anything
    still running from this cluster's temporary folder. Usable as a context manager, which also deletes that folder
    (logs included) at the end.
    """

    def __init__(self, workers: int = 1, *, cpus_per_node: int = 1, object_store_bytes: int = OBJECT_STORE_BYTES,
                 memory_bytes: int = NODE_MEMORY_BYTES):
        self.temp_dir = tempfile.mkdtemp(prefix="lw-ray-")
        self.port = free_ports(1)[0]
        self.address = f"127.0.0.1:{self.port}"
        self.n_workers, self.cpus_per_node = workers, cpus_per_node
        self.object_store_bytes, self.memory_bytes = object_store_bytes, memory_bytes
        self.head: Optional[subprocess.Popen] = None
        self.workers: list = []

    def __enter__(self) -> "LocalRayCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        command = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus_per_node}",
                   f"--object-store-memory={self.object_store_bytes}", f"--memory={self.memory_bytes}",
                   "--min-worker-port=0", "--max-worker-port=0", "--disable-usage-stats",
                   f"--temp-dir={self.temp_dir}", *_node_ports(self.port), *args]
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": AUTH_MODE}
        env.pop("RAY_ADDRESS", None)
        # the nodes' workers import the labelwise this process runs (a source tree, not only the installed one)
        source = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
        with open(os.path.join(self.temp_dir, f"{name}.log"), "ab") as log:  # the node keeps its own copy
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def start(self) -> "LocalRayCluster":
        """Start the head and the worker nodes; returns when all are alive."""
        self.head = self._start("head", ["--head", f"--port={self.port}", "--include-dashboard=false"])
        self.wait_for_nodes(1)
        for _ in range(self.n_workers):
            self.start_worker()
        return self

    def start_worker(self) -> None:
        """Start one more node and wait until it is alive."""
        self.workers.append(self._start(f"worker{len(self.workers)}", [f"--address={self.address}"]))
        self.wait_for_nodes(1 + len(self.workers))

    def kill_worker(self) -> None:
        """SIGKILL every process of the last worker node at once, as when its machine dies."""
        _kill_group(self.workers.pop(), signal.SIGKILL)

    def alive_nodes(self) -> int:
        """Live nodes as the head's GCS sees them (asked directly, so no Ray session is needed here)."""
        from ray._raylet import GcsClient
        from ray.core.generated.gcs_pb2 import GcsNodeInfo

        try:
            nodes = GcsClient(address=self.address).get_all_node_info(timeout=5).values()
        except Exception:  # noqa: BLE001 - not up yet
            return 0
        return sum(node.state == GcsNodeInfo.ALIVE for node in nodes)

    def wait_for_nodes(self, n: int) -> None:
        """Wait until exactly ``n`` nodes are alive (at most ``START_TIMEOUT_S``); RuntimeError with the log if not."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for name, process in [("head", self.head), *((f"worker{i}", w) for i, w in enumerate(self.workers))]:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"ray {name} node exited with {process.returncode}: {self.log(name)}")
            if self._gcs_up() and self.alive_nodes() == n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the local Ray cluster did not reach {n} live nodes in {START_TIMEOUT_S} s: "
                           f"{self.log('head')}")

    def _gcs_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log(self, name: str) -> str:
        path = os.path.join(self.temp_dir, f"{name}.log")
        return Path(path).read_text(errors="replace")[-2000:] if os.path.exists(path) else ""

    def leftover_processes(self) -> list[str]:
        """Processes still running with this cluster's temporary folder in their command line."""
        left = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.temp_dir in args and int(entry.name) != os.getpid():
                left.append(f"{entry.name}: {args[:200]}")
        return left

    def stop(self) -> None:
        """Stop the workers, then the head: SIGTERM to each process group, SIGKILL to what is left after 15 s."""
        processes = [*self.workers, self.head]
        for process in processes:
            _kill_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes:
            if process is not None:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                _kill_group(process, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while self.leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.5)
        for line in self.leftover_processes():  # ours (the command line names our folder): end them by pid
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except OSError:
                pass
        self.workers, self.head = [], None


def _kill_group(process: Optional[subprocess.Popen], sig: int) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, sig)  # the group the process leads (start_new_session), so its children too
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
