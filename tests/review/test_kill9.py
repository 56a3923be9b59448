"""SIGKILL the review server while reviewers submit: after a restart every acknowledged decision is there once.

Bounded: 4 client threads, at most 15 s of submissions, loopback only.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

httpx = pytest.importorskip("httpx", reason="the kill test drives the app over HTTP with httpx")
pytest.importorskip("fastapi", reason="the review app needs the review extra")

from labelwise.review.project import open_audit_project  # noqa: E402
from tests.review.servers import CLASSES, audit_dir, free_port, start, stop as stop_server  # noqa: E402

@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    """None: SQLite beside the data (the default); else a database on the test PostgreSQL server."""
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_acknowledged_decisions_survive_sigkill(tmp_path, db):
    folder = audit_dir(tmp_path)
    port = free_port()
    proc, url = start(folder, port, db)
    cookies = {}
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    base = url.split("/login")[0]

    def reviewer(offset):
        client = httpx.Client(base_url=base, timeout=2)
        try:
            client.get(url[len(base):])  # the login link sets the session cookie
            cookies[offset] = client.cookies.get("labelwise_session")
            item = 1 + offset
            while not stop.is_set():
                page = client.get(f"/item/{item}").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
                label = CLASSES[(version + offset) % 3]
                r = client.post(f"/item/{item}/decide", data={"csrf": csrf, "version": version, "decision": "relabel",
                                                              "label": label})
                if r.status_code == 303:
                    with lock:
                        acknowledged.append((item, version + 1, label))
                item = 1 + (item + 3) % 200
        except (httpx.HTTPError, AttributeError):
            return  # the server went away mid-request: that request was not acknowledged

    threads = [threading.Thread(target=reviewer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(acknowledged) > 10, "too few decisions reached the server to make the test meaningful"
    print(f"{len(acknowledged)} decisions acknowledged before SIGKILL")

    store, pid, _ = open_audit_project(folder, db_url=db)  # what a restarted server sees
    events = [e for item in {a[0] for a in acknowledged} for e in store.history(item) if e["source"] == "human"]
    stored = {(item, e["version"]) for item in {a[0] for a in acknowledged}
              for e in store.history(item) if e["source"] == "human"}
    for item, version, label in acknowledged:
        assert (item, version) in stored, f"acknowledged decision on item {item} v{version} was lost"
    assert len(events) == len({(e["id"]) for e in events})
    per_item = {}
    for item, version in stored:
        per_item.setdefault(item, []).append(version)
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in per_item.values()), "duplicate or missing versions"

    port2 = free_port()
    proc2, _ = start(folder, port2, db)  # the server itself starts again on the same store ...
    again = httpx.get(f"http://127.0.0.1:{port2}/", cookies={"labelwise_session": cookies[0]}, timeout=5)
    assert again.status_code == 200  # ... and a reviewer's session survived the crash: no new login needed
    stop_server(proc2)
