"""Ctrl-C as a user meets it: a real SIGINT sent to a real `labelwise` process stops it with exit status 130 and the one
line "interrupted" on stderr (no traceback, no leftover progress bar), and leaves no half-written output behind.

The signal is real (``os.kill(own pid, SIGINT)``); only *when* it comes is arranged, by a small runner that sends it
at the first move of a progress bar (at once, or from a timer so that it lands inside llama.cpp) or as the audit
starts saving its files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

RUNNER = r"""
import os, signal, sys, threading

def interrupt():
    delay = float(os.environ.get("INTERRUPT_DELAY", "0"))
    if delay:
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
    else:
        os.kill(os.getpid(), signal.SIGINT)

def once(function):
    def wrapper(*args, **kwargs):
        if not wrapper.sent:
            wrapper.sent = True
            if os.environ["INTERRUPT_AT"] == "before":
                interrupt()
            result = function(*args, **kwargs)
            if os.environ["INTERRUPT_AT"] == "after":
                interrupt()
            return result
        return function(*args, **kwargs)
    wrapper.sent = False
    return wrapper

if os.environ["INTERRUPT_IN"] == "progress":  # the first move of a progress bar
    import rich.progress
    rich.progress.Progress.update = once(rich.progress.Progress.update)
else:  # the first file of a saved audit
    import numpy
    numpy.savez = once(numpy.savez)

from labelwise.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_interrupted(args, cwd, *, where="progress", when="after", delay=0.0, timeout=600):
    env = dict(os.environ, INTERRUPT_IN=where, INTERRUPT_AT=when, INTERRUPT_DELAY=str(delay))
    return subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = tmp_path_factory.mktemp("interrupt")
    frame = pd.DataFrame(digits.data[:500], columns=[f"p{i}" for i in range(64)])
    frame["digit"] = digits.target[:500]
    frame.to_csv(folder / "digits.csv", index=False)
    return folder / "digits.csv"


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_ctrl_c_during_an_audit_exits_130_with_one_line_and_writes_nothing(digits_csv, tmp_path):
    out = tmp_path / "audit"
    run = run_interrupted(["audit", str(digits_csv), "--label", "digit", "--out", str(out)], tmp_path)
    assert run.returncode == 130
    assert run.stderr == "interrupted\n"  # the progress bar is gone; no traceback
    assert run.stdout == ""
    assert not out.exists() and leftovers(tmp_path) == []


def test_audit_and_review_does_not_carry_on_after_ctrl_c(digits_csv, tmp_path):
    """`labelwise audit ... && labelwise review ...`: the shell stops at the interrupted audit."""
    line = (f"{sys.executable} -c \"$RUNNER\" audit {digits_csv} --label digit --out {tmp_path / 'audit'} "
            f"&& touch {tmp_path / 'carried-on'}")
    env = dict(os.environ, RUNNER=RUNNER, INTERRUPT_IN="progress", INTERRUPT_AT="after", INTERRUPT_DELAY="0")
    run = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 130 and not (tmp_path / "carried-on").exists()


def test_ctrl_c_while_the_audit_saves_finishes_the_folder_first(tmp_path):
    """Each file is written atomically; a Ctrl-C between them waits until the folder is whole, then exits 130."""
    import numpy as np

    from labelwise.audit.result import AuditResult

    x = np.random.default_rng(0).normal(size=(120, 4))
    pd.DataFrame(x, columns=list("abcd")).assign(y=(x[:, 0] > 0).astype(int)).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "audit"
    run = run_interrupted(["audit", "t.csv", "--label", "y", "--out", str(out), "--quiet"], tmp_path,
                          where="save", when="before")
    assert run.returncode == 130 and run.stderr == "interrupted\n"
    assert AuditResult.saved_in(out) and len(AuditResult.load(out).given) == 120  # every file, all of one audit
    assert leftovers(tmp_path) == []


@pytest.mark.model
@pytest.mark.slow
def test_ctrl_c_inside_the_llm_loop_exits_130_with_one_line(tmp_path):
    """The signal comes 0.3 s after the first labelled row, while llama.cpp is computing the next ones."""
    pytest.importorskip("llama_cpp", reason="needs the llm extra: pip install 'labelwise[llm]'")
    texts = [f"my card number {i} was charged twice, please refund" for i in range(200)]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "annotated"
    run = run_interrupted(["annotate", "t.csv", "--text", "text", "--labels", "billing,bug", "--out", str(out),
                           "--threads", "1"], tmp_path, delay=0.3)
    assert run.returncode == 130
    assert run.stderr == "interrupted\n"  # nor any of llama.cpp's log lines
    assert run.stdout == "" and not out.exists()


@pytest.mark.slow
def test_ctrl_c_stops_the_review_server_with_130_and_the_link_was_on_stdout(tmp_path):
    """Ctrl-C is how a review server is stopped: uvicorn shuts down cleanly, then the command exits 130 like every
    other command stopped by Ctrl-C (so `labelwise review ... && labelwise export ...` does not export)."""
    pytest.importorskip("uvicorn", reason="needs the review extra: pip install 'labelwise[review]'")
    import httpx

    from tests.review.servers import audit_dir, free_port

    folder = audit_dir(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # the link must come through a pipe too
    proc = subprocess.Popen([sys.executable, "-m", "labelwise", "review", str(folder), "-r", "ana", "--port",
                             str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        header, link = proc.stdout.readline(), proc.stdout.readline()
        assert header.startswith("200 items, 0 reviewed.") and "/login?token=" in link and link.startswith("  ana: ")
        url = link.split(": ", 1)[1].strip()
        deadline = time.time() + 60
        while True:  # wait until it serves
            try:
                assert httpx.get(url.split("/login")[0] + "/", timeout=2).status_code == 401  # no session yet
                break
            except httpx.HTTPError:
                assert time.time() < deadline, "the server never answered"
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert proc.stdout.read() == "" and proc.stderr.read() == "interrupted\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
