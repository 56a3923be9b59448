"""The test cluster itself and labelwise.scale.cluster.connect: addresses, errors, disconnecting what we opened."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labelwise.testing.ray_cluster import free_ports


def test_the_fixture_gives_two_live_nodes_with_one_cpu_each(ray_session):
    import ray

    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2
    assert ray.cluster_resources()["CPU"] == 2


def test_connect_to_an_address_nobody_answers_on_fails_at_once_with_one_line():
    # in a fresh process: this one may hold the session cluster's connection
    port = free_ports(1)[0]
    code = ("from labelwise.scale.cluster import connect\n"
            f"try:\n    connect('127.0.0.1:{port}', timeout_s=2)\n"
            "except Exception as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    line = out.stdout.strip()
    assert line.startswith("LabelwiseError |"), out.stdout + out.stderr
    assert f"127.0.0.1:{port}" in line and "ray status --address" in line and "\n" not in line


def test_connect_rejects_what_is_not_an_address():
    from labelwise.errors import ParameterError
    from labelwise.scale.cluster import _host_port

    with pytest.raises(ParameterError, match="not HOST:PORT"):
        _host_port("headnode")
    assert _host_port("ray://10.0.0.2:10001") == ("10.0.0.2", 10001)


def test_auto_reads_ray_address_and_an_executor_disconnects_what_it_connected(ray_cluster):
    import os

    code = ("import ray\nfrom labelwise.scale.executor import executor_for\n"
            "with executor_for('auto') as ex:\n"
            "    print(type(ex).__name__, ex.address, ex.connection.owned, ex.cpus(), repr(ex.note))\n"
            "print('still connected:', ray.is_initialized())\n")
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.address}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.splitlines() == [f"RayExecutor {ray_cluster.address} True 2 ''", "still connected: False"], (
        out.stdout + out.stderr)


def test_auto_with_a_recorded_cluster_nobody_answers_on_says_where_the_address_came_from():
    import os

    port = free_ports(1)[0]
    code = ("import labelwise.scale.cluster as c\n"
            f"c._recorded_address = lambda: '127.0.0.1:{port}'\n"
            "try:\n    c.connect('auto', timeout_s=2)\nexcept Exception as e:\n    print(type(e).__name__, '|', e)\n")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.stdout.startswith(f"LabelwiseError | no Ray cluster answers at 127.0.0.1:{port} (recorded by ray start "
                                 "on this machine)"), out.stdout + out.stderr
