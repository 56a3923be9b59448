"""``--ray`` on the command line: one clear line and exit 2 without ray or without a cluster at the address, for
audit, annotate, link and dedupe; on the two-node test cluster, the README's cluster commands and annotate (fake
model) print and write what the single-machine run does."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import labelwise.llm
from labelwise.cli.main import main
from labelwise.testing.fake_llm import FakeBackend, keyword_score
from tests.test_readme import README, readme_commands, user_tables

COMMANDS = {  # each on the tables of tests/test_readme.py, as fast as it gets (no model)
    "audit": ["audit", "train.csv", "--label", "category", "--text", "text", "--encoder", "tfidf", "--out", "audit"],
    "annotate": ["annotate", "tickets.csv", "--text", "body", "--labels", "refund,password", "--out", "labelled"],
    "link": ["link", "left.csv", "right.csv", "--on", "title,authors", "--encoder", "hashing", "--out", "pairs.csv"],
    "dedupe": ["dedupe", "data.csv", "--on", "name,address", "--encoder", "hashing", "--out", "clusters.csv"],
}
PYTHON_MAIN = "import sys; from labelwise.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _labelwise(args: list[str], cwd: Path, *, code: str = PYTHON_MAIN, timeout: int = 300):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _each_command(ray: str, cwd: Path, *, without_ray: bool = False) -> tuple[list, list]:
    """Run audit, annotate, link and dedupe with ``--ray ray`` in one interpreter: (exit codes, stderr lines)."""
    runs = [COMMANDS[name] + ["--ray", ray, "--quiet"] for name in sorted(COMMANDS)]
    code = ("import json, sys; from labelwise.cli.main import main; "
            "print(json.dumps([main(args) for args in json.loads(sys.argv[1])]))")
    if without_ray:
        code = "import sys; sys.modules['ray'] = None; " + code  # `import ray` fails, as when it is not installed
    run = _labelwise([json.dumps(runs)], cwd, code=code)
    return json.loads(run.stdout.strip().splitlines()[-1]), run.stderr.strip().splitlines()


def test_without_ray_installed_each_command_says_in_one_line_what_to_install(tmp_path):
    user_tables(tmp_path)
    codes, lines = _each_command("auto", tmp_path, without_ray=True)
    assert codes == [2] * len(COMMANDS) and len(lines) == len(COMMANDS), lines
    assert all(line.startswith("error:") and "pip install 'labelwise[ray]'" in line for line in lines)


def test_an_address_nobody_answers_at_is_one_line_naming_it(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed: pip install 'labelwise[ray]'")
    from labelwise.testing.ray_cluster import free_ports

    user_tables(tmp_path)
    address = f"127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    codes, lines = _each_command(address, tmp_path)
    assert codes == [2] * len(COMMANDS) and len(lines) == len(COMMANDS), lines
    assert all(line.startswith("error:") and address in line for line in lines)
    assert not any((tmp_path / args[-1]).exists() for args in COMMANDS.values())  # stopped before writing


def test_help_says_what_auto_means():
    run = _labelwise(["audit", "--help"], Path.cwd())
    assert "--ray" in run.stdout and "ray start" in run.stdout and "'labelwise[ray]'" in run.stdout


@pytest.mark.model  # the README's commands embed with the packaged MiniLM model, here and on the workers
@pytest.mark.slow
def test_the_readme_cluster_commands_write_what_one_machine_writes(ray_cluster, tmp_path):
    cluster = [c for c in readme_commands(README.read_text(encoding="utf-8")) if "--ray" in c.split()]
    assert {shlex.split(c)[1] for c in cluster} == {"audit", "link"}
    for written in cluster:
        args = shlex.split(written)[1:]
        here, there = tmp_path / "here", tmp_path / "there"
        for folder in (here, there):
            folder.mkdir(exist_ok=True)
            user_tables(folder)
        local = _labelwise(args[:args.index("--ray")], here)
        remote = _labelwise([*args[:args.index("--ray")], "--ray", ray_cluster.address], there)
        assert local.returncode == remote.returncode == 0, remote.stderr
        assert remote.stdout == local.stdout  # the summary: the same flags, groups and pairs
        if args[0] == "audit":
            pd.testing.assert_frame_equal(pd.read_csv(there / "audit" / "issues.csv"),
                                          pd.read_csv(here / "audit" / "issues.csv"), check_exact=False, atol=1e-6)
        else:
            pd.testing.assert_frame_equal(pd.read_csv(there / "pairs.csv"), pd.read_csv(here / "pairs.csv"))


def test_annotate_on_the_cluster_answers_from_the_local_runs_cache(ray_session, tmp_path, monkeypatch, capsys):
    user_tables(tmp_path)
    monkeypatch.setenv("LABELWISE_LLM_CACHE", str(tmp_path / "llm.sqlite"))
    fake = FakeBackend(score=keyword_score, use_cache=True)  # its cache: the file named above
    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: fake)
    monkeypatch.setattr(labelwise.llm, "backend_spec", lambda *a, **k: fake.spec())
    args = ["annotate", str(tmp_path / "tickets.csv"), "--text", "body", "--labels", "refund,password,card_arrival",
            "--quiet"]
    assert main([*args, "--out", str(tmp_path / "here")]) == 0
    local = capsys.readouterr().out.splitlines()
    assert main([*args, "--out", str(tmp_path / "there"), "--ray", ray_session.address]) == 0
    remote = capsys.readouterr().out.splitlines()
    here = json.loads((tmp_path / "here" / "summary.json").read_text())
    there = json.loads((tmp_path / "there" / "summary.json").read_text())
    assert here["model_calls"] > 0 and there["model_calls"] == 0  # every answer from the local run's cache
    assert there["cached_calls"] == here["model_calls"] + here["cached_calls"]
    assert ": 0 model calls," in remote[0] and remote[1:] == local[1:]  # the same label counts
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "there" / "annotations.csv"),
                                  pd.read_csv(tmp_path / "here" / "annotations.csv"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "there" / "probabilities.parquet"),
                                  pd.read_parquet(tmp_path / "here" / "probabilities.parquet"))
