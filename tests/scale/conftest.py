"""A real two-node Ray cluster on 127.0.0.1 for the tests of labelwise.scale (one per test session).

The head and the second node are :class:`labelwise.testing.ray_cluster.LocalRayCluster` nodes: separate
``ray start --block`` processes, each in its own process group, one CPU each, a small object store; other Ray
clusters on the machine are never touched. The worker node can be killed and started again (the fault test). At the
end both are stopped and the fixture checks that no process of this cluster is left.

Without ray the tests that use the fixture skip locally and fail in CI (LABELWISE_REQUIRE_ALL=1; see
tests/honest_markers.py).
"""

from __future__ import annotations

import os
import shutil

import pytest

from labelwise.testing.ray_cluster import AUTH_MODE

# this process, the commands it starts and any local Ray instance a test starts use the test cluster's
# authentication mode (see AUTH_MODE); set before any Ray client exists in this process
os.environ["RAY_AUTH_MODE"] = AUTH_MODE


@pytest.fixture(scope="session")
def ray_cluster():
    """The session's two-node Ray cluster (``.address``, ``.kill_worker()``, ``.start_worker()``); skips without
    ray (fails in CI)."""
    pytest.importorskip("ray", reason="ray is not installed: pip install 'labelwise[ray]'")
    from labelwise.testing.ray_cluster import LocalRayCluster

    cluster = LocalRayCluster(workers=1)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        left = cluster.leftover_processes()
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)
        assert not left, f"processes of the test Ray cluster were left running: {left}"


@pytest.fixture(scope="session")
def ray_session(ray_cluster):
    """This test process connected to :func:`ray_cluster` (``ray.init(address=...)``) for the whole session."""
    import ray

    ray.init(address=ray_cluster.address, log_to_driver=False)
    try:
        yield ray_cluster
    finally:
        ray.shutdown()
