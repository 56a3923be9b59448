"""Load test of the review app: 50 concurrent reviewers on loopback against a project of 100,000 items.

    python bench/review_load.py [--items 100000] [--reviewers 50] [--decisions 20] [--db URL]

Starts `labelwise review` on a generated audit folder (SQLite beside it, or --db), logs every reviewer in,
and has each open an item page and submit a decision, `--decisions` times (bounded in count, and stopped after
120 s in any case). Reports throughput, p50/p99 latency of page loads and of decisions, and lost events
(acknowledged decisions missing from the store afterwards).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--db", default=None)
    parser.add_argument("--json", default="bench/results/review_load.json")
    args = parser.parse_args()

    import httpx

    from labelwise.review.project import open_audit_project

    folder = Path(tempfile.mkdtemp(prefix="labelwise-load-")) / "audit"
    folder.mkdir()
    classes = [f"class_{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    n = args.items
    pd.DataFrame({"row": np.arange(n), "given_label": [classes[i % 20] for i in range(n)],
                  "suggested_label": [classes[(i + 1) % 20] for i in range(n)], "label_quality": rng.random(n),
                  "is_label_issue": False, "suggested_probability": 0.5,
                  "text": [f"customer question number {i}" for i in range(n)]}).to_csv(folder / "issues.csv", index=False)
    pd.DataFrame({"class": classes}).to_csv(folder / "per_class.csv", index=False)
    t0 = time.perf_counter()
    open_audit_project(folder, db_url=args.db)  # load the items once, outside the timed part
    load_s = time.perf_counter() - t0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "labelwise", "review", str(folder), "--port", str(port)]
    if args.db:
        command += ["--db", args.db]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = None
    while url is None:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit("the server did not start")
        m = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", line)
        url = m.group(1) if m else None
    base = url.split("/login")[0]
    for _ in range(200):
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    page_ms, decide_ms, acknowledged, conflicts, errors = [], [], [], [0], [0]
    lock = threading.Lock()
    deadline = time.time() + 120

    def reviewer(k: int) -> None:
        client = httpx.Client(base_url=base, timeout=10)
        client.get(url[len(base):])
        for j in range(args.decisions):
            if time.time() > deadline:
                return
            item = 1 + (k * 997 + j * 31) % n
            try:
                t = time.perf_counter()
                page = client.get(f"/item/{item}").text
                t_page = (time.perf_counter() - t) * 1000
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
                t = time.perf_counter()
                r = client.post(f"/item/{item}/decide", data={"csrf": csrf, "version": version,
                                                              "decision": "relabel", "label": classes[j % 20]})
                t_decide = (time.perf_counter() - t) * 1000
            except (httpx.HTTPError, AttributeError):
                with lock:
                    errors[0] += 1
                continue
            with lock:
                page_ms.append(t_page)
                decide_ms.append(t_decide)
                if r.status_code == 303:
                    acknowledged.append((item, version + 1))
                elif r.status_code == 409:
                    conflicts[0] += 1
                else:
                    errors[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=reviewer, args=(k,)) for k in range(args.reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    proc.terminate()
    proc.wait(timeout=10)

    store, pid, _ = open_audit_project(folder, db_url=args.db)
    stored = set()  # (item, version) of every human decision in the store
    for item in {a[0] for a in acknowledged}:
        for e in store.history(item):
            if e["source"] == "human":
                stored.add((item, e["version"]))
    lost = sum(1 for a in acknowledged if a not in stored)
    result = {
        "items": n, "reviewers": args.reviewers, "db": args.db or "sqlite (beside the data)",
        "load_items_s": load_s, "decisions_acknowledged": len(acknowledged), "conflicts": conflicts[0],
        "errors": errors[0], "lost": lost, "seconds": elapsed, "decisions_per_s": len(acknowledged) / elapsed,
        "page_p50_ms": float(np.percentile(page_ms, 50)), "page_p99_ms": float(np.percentile(page_ms, 99)),
        "decide_p50_ms": float(np.percentile(decide_ms, 50)), "decide_p99_ms": float(np.percentile(decide_ms, 99)),
    }
    print(json.dumps(result, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
