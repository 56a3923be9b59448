"""Load test of the review app: 50 concurrent reviewers on loopback against a project of 100,000 items.

    python bench/review_load.py [--items 100000] [--reviewers 50] [--decisions 20] [--think-ms 500] [--db URL]

Starts `labelwise review` on a generated audit folder (SQLite beside it, or --db), with one account and login link
per reviewer, and has each reviewer open an item page, think, and submit a decision, `--decisions` times; every
fifth round they also load a page of the queue (with a filter). Bounded in count, and stopped after 120 s in any
case. Reports throughput, p50/p99 latency of page loads, queue pages and decisions, and lost events (acknowledged
decisions missing from the store afterwards).

Think time: a person needs seconds to read an item and decide. ``--think-ms`` (default 500, drawn uniformly from
0.5x to 1.5x) is far quicker than any person, so 50 such reviewers are a heavier load than 50 real ones;
``--think-ms 0`` measures saturation instead (every reviewer fires requests back to back).
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
    parser.add_argument("--think-ms", type=float, default=2000.0)
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite (a file beside the data), postgresql (a throwaway local server)")
    parser.add_argument("--db", default=None, help="instead of --backends: this database URL")
    parser.add_argument("--json", default="bench/results/review_load.json")
    args = parser.parse_args()

    results = []
    if args.db:
        results.append(run(args, args.db))
    for backend in [] if args.db else args.backends.split(","):
        if backend == "sqlite":
            results.append(run(args, None))
        elif backend == "postgresql":
            from labelwise.testing.postgres import PostgresUnavailable, create_database, throwaway_postgres

            try:
                with throwaway_postgres() as server:
                    results.append(run(args, create_database(*server, "labelwise_load")))
            except PostgresUnavailable as err:
                print(f"postgresql skipped: {err}", file=sys.stderr)
        else:
            raise SystemExit(f"unknown backend {backend!r}: use sqlite, postgresql")
    print(f"\n{args.reviewers} reviewers, {args.items:,} items, think time {args.think_ms:.0f} ms (x0.5-1.5)")
    print(f"{'backend':<12}{'decisions/s':>12}{'lost':>6}{'errors':>7}{'page p50/p99':>16}{'decide p50/p99':>17}"
          f"{'queue p50/p99':>16}{'all p99':>9}")
    for r in results:
        print(f"{r['backend']:<12}{r['decisions_per_s']:>12.1f}{r['lost']:>6}{r['errors']:>7}"
              f"{r['page_p50_ms']:>8.0f}/{r['page_p99_ms']:<7.0f}{r['decide_p50_ms']:>9.0f}/{r['decide_p99_ms']:<7.0f}"
              f"{r['queue_p50_ms']:>8.0f}/{r['queue_p99_ms']:<7.0f}{r['all_p99_ms']:>8.0f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


def run(args, db_url) -> dict:
    """One load test against a fresh project of ``args.items`` items; db_url None: SQLite beside the data."""
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
    open_audit_project(folder, db_url=db_url)  # load the items once, outside the timed part
    load_s = time.perf_counter() - t0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "labelwise", "review", str(folder), "--port", str(port)]
    for k in range(args.reviewers):
        command += ["--reviewer", f"reviewer{k}"]
    if db_url:
        command += ["--db", db_url]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    links = []
    while len(links) < args.reviewers:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit("the server did not start")
        m = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", line)
        if m:
            links.append(m.group(1))
    base = links[0].split("/login")[0]
    for _ in range(200):
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    page_ms, queue_ms, decide_ms, acknowledged, conflicts, errors = [], [], [], [], [0], [0]
    lock = threading.Lock()
    deadline = time.time() + 120

    def reviewer(k: int) -> None:
        client = httpx.Client(base_url=base, timeout=10)
        client.get(links[k][len(base):])
        think = np.random.default_rng(k)
        time.sleep(args.think_ms / 1000 * think.uniform(0, 1))  # people do not start at the same millisecond
        for j in range(args.decisions):
            if time.time() > deadline:
                return
            item = 1 + (k * 997 + j * 31) % n
            try:
                if j % 5 == 0:
                    t = time.perf_counter()
                    client.get("/", params={"class": classes[k % 20], "reviewed": "no"}).raise_for_status()
                    with lock:
                        queue_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                page = client.get(f"/item/{item}").text
                t_page = (time.perf_counter() - t) * 1000
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
                time.sleep(args.think_ms / 1000 * think.uniform(0.5, 1.5))
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

    store, pid, _ = open_audit_project(folder, db_url=db_url)
    stored = set()  # (item, version) of every human decision in the store
    for item in {a[0] for a in acknowledged}:
        for e in store.history(item):
            if e["source"] == "human":
                stored.add((item, e["version"]))
    lost = sum(1 for a in acknowledged if a not in stored)
    result = {
        "items": n, "reviewers": args.reviewers, "think_ms": args.think_ms,
        "backend": "postgresql" if db_url and db_url.startswith("postgresql") else "sqlite",
        "load_items_s": load_s, "decisions_acknowledged": len(acknowledged), "conflicts": conflicts[0],
        "errors": errors[0], "lost": lost, "seconds": elapsed, "decisions_per_s": len(acknowledged) / elapsed,
        "page_p50_ms": float(np.percentile(page_ms, 50)), "page_p99_ms": float(np.percentile(page_ms, 99)),
        "decide_p50_ms": float(np.percentile(decide_ms, 50)), "decide_p99_ms": float(np.percentile(decide_ms, 99)),
        "queue_p50_ms": float(np.percentile(queue_ms, 50)), "queue_p99_ms": float(np.percentile(queue_ms, 99)),
        "all_p99_ms": float(np.percentile(page_ms + decide_ms + queue_ms, 99)),
    }
    print(json.dumps(result, indent=2), file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
