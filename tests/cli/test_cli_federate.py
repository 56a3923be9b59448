"""``labelwise federate``: a wrong table or option is one line and exit 2, before any network is opened (the
server and clients training for real: tests/scale/test_federated_flower.py)."""

from __future__ import annotations

import os
import socket

import pandas as pd
import pytest

from labelwise.cli.main import main

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # before flwr is imported: no event posted to flower.ai
pytest.importorskip("flwr", reason="flwr is not installed: pip install 'labelwise[federated]'")


@pytest.fixture
def shard(tmp_path):
    path = tmp_path / "shard.csv"
    pd.DataFrame({"x1": [0.1, 0.2, 0.3], "x2": [1.0, 2.0, 3.0], "y": ["a", "", "b"]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("args, message", [
    (["--label", "y", "--classes", "a,c"], "holds labels not in the classes: b"),
    (["--label", "intent", "--classes", "a,b"], "no column 'intent'"),
    (["--label", "y", "--classes", "a,b", "--features", "x1,x3"], "no feature column 'x3'"),
    (["--label", "y", "--classes", "a,b", "--threads", "0"], "--threads must be >= 1"),
    (["--label", "y", "--classes", "a,b", "--address", "localhost"], "--address 'localhost': give HOST:PORT"),
])
def test_client_bad_input_is_one_line_and_exit_2(shard, capsys, args, message):
    assert main(["federate", "client", str(shard), "--address", "127.0.0.1:9", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_server_bad_options_are_one_line_and_exit_2(shard, tmp_path, capsys):
    base = ["federate", "server", "--classes", "a,b", "--n-features", "2", "--out", str(tmp_path / "fed"),
            "--address", "127.0.0.1:9"]
    assert main(base + ["--pseudo-labels", "both"]) == 2
    assert "pseudo-labels must be one of fedlabel, global, local, none" in capsys.readouterr().err
    assert main(base + ["--resume"]) == 2
    assert "no global_model.npz" in capsys.readouterr().err
    assert main(base + ["--test", str(shard)]) == 2
    assert "--test needs --label" in capsys.readouterr().err
    assert main(base[:5] + ["3"] + base[6:] + ["--test", str(shard), "--label", "y"]) == 2
    assert "has 2 feature columns, --n-features says 3" in capsys.readouterr().err
    assert main(base + ["--address", "127.0.0.1:http"]) == 2
    assert "give HOST:PORT" in capsys.readouterr().err
    assert main(base + ["--round-timeout", "0"]) == 2
    assert "--round-timeout must be > 0" in capsys.readouterr().err


def test_server_on_a_port_in_use_is_one_line_and_exit_2(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["federate", "server", "--classes", "a,b", "--n-features", "2", "--out", str(tmp_path / "fed"),
                     "--address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use; pick another port" in err and "Traceback" not in err
