"""Helpers for the tests that run `labelwise review` as a real server process on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import pandas as pd

CLASSES = ["a", "b", "c"]


def audit_dir(tmp_path, n=200, name="audit"):
    """A minimal audit folder of ``n`` rows (what `labelwise audit --out` writes, as far as the app reads it)."""
    folder = tmp_path / name
    folder.mkdir()
    pd.DataFrame({"row": range(n), "given_label": [CLASSES[i % 3] for i in range(n)],
                  "suggested_label": [CLASSES[(i + 1) % 3] for i in range(n)],
                  "label_quality": [i / n for i in range(n)], "is_label_issue": False,
                  "suggested_probability": 0.5, "text": [f"text {i}" for i in range(n)]}).to_csv(folder / "issues.csv",
                                                                                                index=False)
    pd.DataFrame({"class": CLASSES}).to_csv(folder / "per_class.csv", index=False)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder, port, db=None, *extra):
    """Start `labelwise review FOLDER --port PORT` and wait until it answers; returns (process, login url)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "labelwise", "review", str(folder), "--port", str(port)]
                            + (["--db", db] if db else []) + list(extra),
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    url = None
    while time.time() < deadline and url is None:
        line = proc.stderr.readline()
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
