"""FedLabel on Flower: a real server and clients as separate ``labelwise federate`` processes on 127.0.0.1 (free
ports, temporary folders, a bounded number of rounds and a wall-time limit, every process stopped by its pid at
the end), the fault test (one client SIGKILLed mid-round), and the shard reader, the checkpoint and --resume in
process. Data: scikit-learn's bundled digits, split over the clients with label skew; labels hidden per client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import DataError, ParameterError
from tests.review.servers import free_port

pytest.importorskip("flwr", reason="flwr is not installed: pip install 'labelwise[federated]'")
torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'labelwise[learn]'")

CLASSES = ",".join(str(c) for c in range(10))
COLUMNS = [f"p{i}" for i in range(64)]
WALL = 240  # seconds a whole run may take before the test gives up (it normally takes a fraction)


def _frame(X, y, labelled) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=COLUMNS)
    frame["label"] = pd.Series(y.astype(object)).where(labelled, None)
    return frame


def _write_shards(folder: Path, n_clients: int, *, big_last: bool = False) -> list:
    """Digits over ``n_clients`` CSV shards (Dirichlet(1) skew, 30 % labelled) plus test.csv; with ``big_last`` the
    last shard gets 6,000 extra noisy unlabelled copies so that its round lasts long enough to be killed in."""
    from sklearn.datasets import load_digits

    from labelwise.learn.federated import dirichlet_partition

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).round(4)
    rng = np.random.default_rng(0)
    test = rng.choice(len(y), 300, replace=False)
    train = np.setdiff1d(np.arange(len(y)), test)
    _frame(X[test], y[test], np.ones(len(test), bool)).to_csv(folder / "test.csv", index=False)
    paths = []
    for k, part in enumerate(dirichlet_partition(y[train], n_clients, 1.0, random_state=0)):
        rows = train[part]
        frame = _frame(X[rows], y[rows], rng.random(len(rows)) < 0.3)
        if big_last and k == n_clients - 1:
            extra = rng.choice(rows, 6000)
            noisy = _frame(X[extra] + rng.normal(0, 0.05, (6000, 64)), y[extra], np.zeros(6000, bool))
            frame = pd.concat([frame, noisy], ignore_index=True)
        paths.append(folder / f"client{k}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def _start(args, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    env.pop("FLWR_TELEMETRY_ENABLED", None)  # labelwise's default (off): nothing leaves 127.0.0.1
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "labelwise", "federate", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the process and anything it started
            proc.wait(timeout=10)


def _server(folder: Path, port: int, rounds: int, *extra) -> subprocess.Popen:
    return _start(["server", "--classes", CLASSES, "--n-features", "64", "--rounds", str(rounds),
                   "--out", str(folder / "out"), "--address", f"127.0.0.1:{port}", "--test",
                   str(folder / "test.csv"), "--label", "label", "--local-epochs", "2", "--threshold", "0.9",
                   *extra], folder / "server.log")


def _client(folder: Path, shard: Path, port: int) -> subprocess.Popen:
    return _start(["client", str(shard), "--label", "label", "--classes", CLASSES, "--address", f"127.0.0.1:{port}"],
                  folder / f"{shard.stem}.log")


def _wait(proc: subprocess.Popen, folder: Path, deadline: float) -> int:
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not finish in {WALL} s:\n{(folder / 'server.log').read_text()}")
        time.sleep(0.05)
    return proc.returncode


@pytest.mark.slow
def test_server_and_two_clients_as_processes_train_to_completion(tmp_path):
    shards = _write_shards(tmp_path, 2)
    port, procs = free_port(), []
    deadline = time.monotonic() + WALL
    try:
        # all at once: the processes spend most of their time starting Python; a client that is ready before the
        # server retries (Flower's backoff, 1 s at first)
        procs.append(_server(tmp_path, port, 3))
        procs += [_client(tmp_path, shard, port) for shard in shards]
        assert _wait(procs[0], tmp_path, deadline) == 0, (tmp_path / "server.log").read_text()
        for proc in procs[1:]:  # the server's end of training stops the clients
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            assert proc.returncode == 0, (tmp_path / "client0.log").read_text()
    finally:
        _stop(procs)
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert history["round"].tolist() == [1, 2, 3]
    assert history["clients"].tolist() == [2, 2, 2] and history["failures"].tolist() == [0, 0, 0]
    assert history["test_accuracy"].iloc[-1] > 0.8  # 30 % of digits' labels, skewed over two clients
    from labelwise.scale.federated_flower import load_checkpoint

    saved = load_checkpoint(tmp_path / "out" / "global_model.npz")
    assert saved["rounds_done"] == 3 and saved["classes"] == CLASSES.split(",")
    assert "round 3: training" in (tmp_path / "client1.log").read_text()


@pytest.mark.slow
def test_a_client_killed_mid_round_is_left_out_and_training_goes_on(tmp_path):
    shards = _write_shards(tmp_path, 3, big_last=True)
    port, procs = free_port(), []
    deadline = time.monotonic() + WALL
    victim_log = tmp_path / f"{shards[-1].stem}.log"
    try:
        procs.append(_server(tmp_path, port, 3, "--min-clients", "2", "--wait-for", "3", "--round-timeout", "120"))
        procs += [_client(tmp_path, shard, port) for shard in shards]
        killed_in = None
        while killed_in is None:  # round 1 (all three wait for it): SIGKILL as soon as the victim's training starts
            assert time.monotonic() < deadline and procs[0].poll() is None, (tmp_path / "server.log").read_text()
            lines = [ln for ln in victim_log.read_text().splitlines() if ln.endswith(": training")] \
                if victim_log.exists() else []
            if lines:
                killed_in = int(lines[0].split()[1].rstrip(":"))
                os.kill(procs[-1].pid, signal.SIGKILL)
            time.sleep(0.02)
        assert _wait(procs[0], tmp_path, deadline) == 0, (tmp_path / "server.log").read_text()
    finally:
        _stop(procs)
    assert killed_in == 1
    history = pd.read_csv(tmp_path / "out" / "history.csv").set_index("round")
    assert "sent" not in victim_log.read_text().splitlines()[-1]  # it died before answering
    assert history.loc[1, "failures"] == 1 and history.loc[1, "clients"] == 2 and history.loc[1, "updated"]
    later = history.loc[2:]
    assert len(history) == 3 and (later["clients"] == 2).all() and (later["failures"] == 0).all()
    assert history["test_accuracy"].iloc[-1] > 0.7


def test_read_shard_splits_labelled_rows_and_says_what_is_wrong(tmp_path):
    from labelwise.scale.federated_flower import read_shard

    path = tmp_path / "shard.csv"
    pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [1, 2, 3], "y": ["cat", None, "dog"]}).to_csv(path, index=False)
    shard = read_shard(path, label="y", classes=["dog", "cat"])
    assert shard.y_l.tolist() == [1, 0] and np.array_equal(shard.X_l, np.float32([[0.1, 1.0], [0.3, 3.0]]))
    assert shard.X_u.shape == (1, 2)
    with pytest.raises(DataError, match="not in the classes: dog"):
        read_shard(path, label="y", classes=["cat", "cow"])
    with pytest.raises(DataError, match="no column 'label'"):
        read_shard(path, label="label", classes=["cat", "dog"])
    pd.DataFrame({"a": [0.1, "x"], "y": [1, None]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="row 3, column 'a'"):
        read_shard(path, label="y", classes=["1"], features=["a"])


def test_checkpoint_resume_continues_the_round_count_and_refuses_other_settings(tmp_path):
    from labelwise.learn.federated import MLP, get_parameters
    from labelwise.scale.federated_flower import make_strategy, save_checkpoint

    params = get_parameters(MLP(3, 2, 4))
    save_checkpoint(tmp_path / "global_model.npz", params, classes=["a", "b"], hidden=4, rounds_done=5)
    strategy = make_strategy(classes=["a", "b"], n_features=3, hidden=4, out=tmp_path, resume=True)
    assert strategy.rounds_done == 5
    assert strategy.on_fit_config_fn(1)["server_round"] == 6
    import flwr

    start = flwr.common.parameters_to_ndarrays(strategy.initial_parameters)
    assert all(np.array_equal(a, b) for a, b in zip(start, params))
    with pytest.raises(ParameterError, match="same settings"):
        make_strategy(classes=["a", "c"], n_features=3, hidden=4, out=tmp_path, resume=True)
    with pytest.raises(ParameterError, match="no global_model.npz"):
        make_strategy(classes=["a", "b"], n_features=3, out=tmp_path / "empty", resume=True)
    (tmp_path / "global_model.npz").write_bytes(b"PK\x03\x04 cut short")  # a zip's signature, then garbage
    with pytest.raises(DataError, match="not a FedLabel checkpoint"):
        make_strategy(classes=["a", "b"], n_features=3, hidden=4, out=tmp_path, resume=True)


def test_flower_telemetry_is_off_unless_the_user_turns_it_on(monkeypatch):
    from labelwise.scale.federated_flower import _flwr

    monkeypatch.delenv("FLWR_TELEMETRY_ENABLED", raising=False)
    _flwr()
    assert os.environ["FLWR_TELEMETRY_ENABLED"] == "0"
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "1")
    _flwr()
    assert os.environ["FLWR_TELEMETRY_ENABLED"] == "1"


def test_a_round_with_too_few_answers_fails_clearly_and_keeps_the_global_model():
    import flwr

    from labelwise.learn.federated import MLP, get_parameters
    from labelwise.scale.federated_flower import make_strategy

    seen = []
    strategy = make_strategy(classes=["a", "b"], n_features=3, hidden=4, min_clients=2, on_round=seen.append)
    params = flwr.common.ndarrays_to_parameters(get_parameters(MLP(3, 2, 4)))
    answer = flwr.common.FitRes(flwr.common.Status(flwr.common.Code.OK, ""), params, 10, {"mask_rate": 0.5})
    assert strategy.aggregate_fit(1, [(None, answer)], [ConnectionError("client died")]) == (None, {})
    assert len(seen) == 1 and not seen[0].updated and (seen[0].clients, seen[0].failures) == (1, 1)
    aggregated, _ = strategy.aggregate_fit(2, [(None, answer), (None, answer)], [])
    assert aggregated is not None and strategy.history[-1].updated and strategy.history[-1].mask_rate == 0.5
    assert strategy.rounds_done == 2
