"""Helpers for the tests that run `labelwise review` as a real server process on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

from pathlib import Path

import numpy as np

CLASSES = ["a", "b", "c"]


def audit_dir(tmp_path, n=200, name="audit", *, source=None, label_column="label"):
    """An audit folder of ``n`` rows, written by ``AuditResult.save`` as `labelwise audit --out` does: row i is given
    class i % 3, the model suggests the next class, and label quality rises with the row number. ``source``: the path
    of the audited table, recorded for the export."""
    from labelwise.audit.result import AuditResult

    given = np.arange(n) % 3
    probs = np.full((n, 3), 0.25)
    probs[np.arange(n), (given + 1) % 3] = 0.5
    audit = AuditResult(classes=CLASSES, row_ids=np.arange(n), given=given, suggested=(given + 1) % 3,
                        label_quality=np.arange(n) / n, is_issue=np.zeros(n, bool), pred_probs=probs, noise=None,
                        texts=[f"text {i}" for i in range(n)], label_column=label_column, n_input_rows=n,
                        source=str(source) if source else "<DataFrame>",
                        source_path=str(Path(source).resolve()) if source else None)
    return audit.save(tmp_path / name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder, port, db=None, *extra):
    """Start `labelwise review FOLDER --port PORT` and wait until it answers; returns (process, login url)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "labelwise", "review", str(folder), "--port", str(port)]
                            + (["--db", db] if db else []) + list(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    url = None
    while time.time() < deadline and url is None:
        line = proc.stdout.readline()  # the login links are the command's result: on stdout
        if not line and proc.poll() is not None:
            break
        match = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", line)
        url = match.group(1) if match else None
    assert url, "the server did not print its login link"
    base = url.split("/login")[0]
    while time.time() < deadline:  # wait until it answers
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
