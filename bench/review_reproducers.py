"""Issue 13's reproducers for `labelwise export` and the review app, tried as a user and as an attacker would.

    python bench/review_reproducers.py [--rows 300000] [--json bench/results/review_reproducers.json]

Everything goes through the `labelwise` command and its web server on loopback (subprocesses), never through the
library's internals, so the same script measures the code before and after a change: point PYTHONPATH at either
source tree. Each reproducer prints one line: what was tried and what came back.

Exports: a CSV (and a Latin-1 CSV, and a Parquet file) whose cells pandas likes to change (``000000``, ``01234``,
``NA``, ``None``, ``n/a``, ``FALSE``, ``94``, long floats, empty and quoted-empty cells, quoted newlines) is audited
(with given probabilities, so no model runs), one row is relabelled through the app by a reviewer named
``@mallory`` with a reason starting with ``=``, and exported; the script counts the cells nobody changed that came
back different, the CSV cells that start a formula, a moved audit folder's decisions, and what a SIGKILLed export of
``--rows`` rows leaves behind. Review app: revocation on a running server, expiry options, logout, a reviewer of
another project, security headers, Secure cookies, malformed ids, oversized fields and a busy port.
"""

from __future__ import annotations

import argparse
import csv
import decimal
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

TRICKY = ["000000", "01234", "NA", "None", "n/a", "FALSE", "94", "0.1000000000000000055511151231257827",
          "1234567890123456789012", "", "line one\nline two", " padded ", "-5", "1e3", "café"]
CLASSES = ["alpha", "beta", "gamma"]
ROWS = 30


def cli(*args, timeout=600, env=None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "labelwise", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    return done.returncode, done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(folder, *args, reviewers=("ana",)):
    """A running `labelwise review` on a free port; yields (base url, {reviewer: login path}, process)."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "labelwise", "review", str(folder), "--port", str(port), *map(str, args)]
    for name in reviewers:
        command += ["-r", name]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    links, deadline = {}, time.time() + 120
    while len(links) < len(reviewers) and time.time() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        found = re.search(r"(\S+): (http://127\.0\.0\.1:\d+)(/login\?token=\S+)", line)
        if found:
            links[found.group(1)] = found.group(3)
    base = f"http://127.0.0.1:{port}"
    try:
        if len(links) < len(reviewers):
            raise RuntimeError(f"the server did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        while time.time() < deadline:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, links, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def login(base, path):
    import httpx

    client = httpx.Client(base_url=base, timeout=10)
    client.get(path)
    return client


def probe(client, method, url, **kwargs):
    """The status code of one request on a fresh connection, or the error's name when the server hung up."""
    import httpx

    try:
        with httpx.Client(base_url=client.base_url, cookies=client.cookies, timeout=10) as fresh:
            return fresh.request(method, url, follow_redirects=False, **kwargs).status_code
    except httpx.HTTPError as err:
        return type(err).__name__


def decide(client, item, *, label, reason=""):
    page = client.get(f"/item/{item}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    return client.post(f"/item/{item}/decide", data={"csrf": csrf, "version": version, "decision": "relabel",
                                                     "label": label, "reason": reason})


def tricky_frame(n=ROWS) -> pd.DataFrame:
    """Columns of the same raw strings under several headers; the label column ``category``."""
    frame = pd.DataFrame({"id": [f"{i:06d}" for i in range(n)],
                          "value": [TRICKY[i % len(TRICKY)] for i in range(n)],
                          "other": [TRICKY[(i * 7) % len(TRICKY)] for i in range(n)],
                          "score": [f"{0.1 + i / 3:.17g}" for i in range(n)],
                          "category": [CLASSES[i % 3] for i in range(n)]})
    return frame


def write_csv(frame, path, encoding="utf-8"):
    """Write every cell as its exact text; quote the empty ones of column ``other`` (quoted empty != empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(frame.columns)
    for record in frame.itertuples(index=False):
        writer.writerow(record)
    text = buffer.getvalue()
    path.write_bytes(text.encode(encoding))


def audit(table, out, *extra):
    n = len(pd.read_csv(table, dtype=str, keep_default_na=False, encoding=extra[1] if extra else "utf-8")
            if str(table).endswith(".csv") else pd.read_parquet(table))
    probs = np.random.default_rng(0).dirichlet(np.ones(3), n)
    np.save(out.parent / "probs.npy", probs)
    rc, text = cli("audit", table, "--label", "category", "--pred-probs", out.parent / "probs.npy", "--out", out,
                   "--quiet", *extra)
    if rc != 0:
        raise RuntimeError(text)


def cell_changes(original: Path, exported: Path, encoding="utf-8", skip_rows=()) -> tuple[int, int, list]:
    """(cells compared, cells different, examples) over the original columns, label cells of ``skip_rows`` aside."""
    read = lambda p: list(csv.reader(io.StringIO(p.read_bytes().decode(encoding), newline="")))  # noqa: E731
    before, after = read(original), read(exported)
    head_a = after[0]
    compared, different, examples = 0, 0, []
    for j, name in enumerate(before[0]):
        if name not in head_a:
            different += len(before) - 1
            continue
        k = head_a.index(name)
        for i in range(1, len(before)):
            if name == "category" and i - 1 in skip_rows:
                continue
            compared += 1
            new = after[i][k] if i < len(after) and k < len(after[i]) else None
            if new != before[i][j]:
                different += 1
                if len(examples) < 8 and (before[i][j], new) not in examples:
                    examples.append((before[i][j], new))
    return compared, different, examples


def formula_cells(path: Path) -> int:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    return sum(1 for row in rows[1:] for cell in row if cell[:1] in ("=", "+", "-", "@"))


def export_reproducers(work: Path, results: dict) -> None:
    frame = tricky_frame()
    table = work / "t.csv"
    write_csv(frame, table)
    folder = work / "audit"
    audit(table, folder)
    with server(folder, reviewers=("@mallory",)) as (base, links, _):
        client = login(base, links["@mallory"])
        r = decide(client, 1, label="beta", reason='=HYPERLINK("http://evil.example","click")')
    reviewed = _reviewed_rows(work / "audit")
    rc, text = cli("export", folder, "--out", work / "export")
    exported = work / "export" / "t.reviewed.csv"
    compared, different, examples = cell_changes(table, exported, skip_rows=reviewed)
    results["csv_cells_changed"] = {"compared": compared, "changed": different, "examples": examples,
                                    "decision_status": r.status_code}
    print(f"CSV export: {different} of {compared} untouched cells changed; e.g. "
          + ", ".join(f"{a!r}->{b!r}" for a, b in examples[:6]))
    dangerous = {name: formula_cells(work / "export" / name) for name in ("changelog.csv", "t.reviewed.csv")}
    results["formula_cells"] = dangerous
    print(f"formula injection: cells starting with = + - @ written from app text: changelog.csv "
          f"{dangerous['changelog.csv']}, t.reviewed.csv {dangerous['t.reviewed.csv'] - _user_formula_cells(table)}")

    # Latin-1 table, read with --encoding latin-1
    latin = work / "latin"
    latin.mkdir()
    write_csv(frame, latin / "t.csv", encoding="latin-1")
    try:
        audit(latin / "t.csv", latin / "audit", "--encoding", "latin-1")
        rc, text = cli("export", latin / "audit", "--out", latin / "export")
        if rc == 0:
            c, d, ex = cell_changes(latin / "t.csv", latin / "export" / "t.reviewed.csv", encoding="latin-1")
            line = f"{d} of {c} untouched cells changed (read back as Latin-1)"
        else:
            d, line = None, f"export failed (exit {rc}): {text.strip().splitlines()[-1][:150]}"
    except (RuntimeError, UnicodeDecodeError) as err:
        d, line = None, f"failed: {str(err).strip().splitlines()[-1][:150]}"
    results["latin1"] = d
    print(f"Latin-1 CSV export: {line}")

    # Parquet: the schema of the columns nobody changed
    pq_dir = work / "pq"
    pq_dir.mkdir()
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = ROWS
    columns = {
        "id": (pa.int32(), np.arange(n, dtype=np.int32)),
        "code": (pa.string(), [f"{i:05d}" if i % 4 else None for i in range(n)]),
        "flag": (pa.bool_(), [i % 2 == 0 for i in range(n)]),
        "score": (pa.float32(), np.linspace(0, 1, n).astype(np.float32)),
        "when": (pa.timestamp("ms"), pd.date_range("2024-01-01", periods=n, freq="h").astype("datetime64[ms]")),
        "count": (pa.int64(), [None if i % 5 == 0 else i for i in range(n)]),
        "day": (pa.date32(), [pd.Timestamp("2024-01-01").date() + pd.Timedelta(days=i) for i in range(n)]),
        "price": (pa.decimal128(12, 2), [decimal.Decimal(f"{i}.50") for i in range(n)]),
        "small": (pa.uint8(), np.arange(n, dtype=np.uint8)),
        "category": (pa.string(), [CLASSES[i % 3] for i in range(n)]),
    }
    schema = pa.schema([(name, kind) for name, (kind, _) in columns.items()])
    pq.write_table(pa.table({name: values for name, (_, values) in columns.items()}, schema=schema),
                   pq_dir / "t.parquet")
    audit(pq_dir / "t.parquet", pq_dir / "audit")
    with server(pq_dir / "audit") as (base, links, _):
        decide(login(base, links["ana"]), 1, label="beta")
    cli("export", pq_dir / "audit", "--out", pq_dir / "export")
    got = pq.read_schema(pq_dir / "export" / "t.reviewed.parquet")
    kept = [f"{f.name}: {f.type} -> {got.field(f.name).type}" for f in schema if f.name != "category"
            and got.field(f.name).type != f.type]
    results["parquet_changed_types"] = kept
    print(f"Parquet export: {len(kept)} of {len(schema) - 1} untouched columns changed type {kept}")

    # move the audit folder: are the decisions still there?
    moved = work / "moved-audit"
    shutil.copytree(folder, moved)
    rc, text = cli("export", moved, "--out", work / "export-moved")
    found = re.search(r"([\d,]+) of ([\d,]+) rows reviewed", text)
    results["moved_folder_decisions"] = int(found.group(1).replace(",", "")) if found else None
    print(f"copied audit folder: {results['moved_folder_decisions']} decisions found (1 made before the copy)")


def _reviewed_rows(folder: Path) -> set:
    import sqlite3

    with sqlite3.connect(folder / "review.db") as db:
        return {r for (r,) in db.execute("SELECT DISTINCT items.row FROM items JOIN label_events ON "
                                         "label_events.item_id = items.id WHERE label_events.source = 'human'")}


def _user_formula_cells(table: Path) -> int:
    return formula_cells(table)


def killed_export(work: Path, rows: int, results: dict) -> None:
    big = work / "big"
    big.mkdir()
    frame = pd.DataFrame({"text": [f"customer question number {i} " + "x" * 60 for i in range(rows)],
                          "category": [CLASSES[i % 3] for i in range(rows)]})
    frame.to_csv(big / "t.csv", index=False)
    audit(big / "t.csv", big / "audit")
    cli("export", big / "audit", "--out", big / "warm")  # loads the project once, outside the killed run
    proc = subprocess.Popen([sys.executable, "-m", "labelwise", "export", str(big / "audit"), "--out",
                             str(big / "export")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_with = []
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        temps = [p for p in (big / "export").glob(".*")] if (big / "export").is_dir() else []
        if temps:
            time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            killed_with = temps
            break
        time.sleep(0.005)
    proc.wait()
    left = [(p.name, p.stat().st_size) for p in (big / "export").glob(".*")] if (big / "export").is_dir() else []
    cli("export", big / "audit", "--out", big / "export")  # the next run
    after = [(p.name, p.stat().st_size) for p in (big / "export").glob(".*")]
    results["killed_export"] = {"killed_during_temp": bool(killed_with), "left_after_kill": left,
                                "left_after_next_run": after}
    size = sum(s for _, s in after) / 1e6
    print(f"SIGKILLed export ({rows:,} rows): {'killed while writing' if killed_with else 'NOT caught mid-write'}; "
          f"{len(left)} temp file(s) after the kill, {len(after)} ({size:.1f} MB) still there after the next run")


def app_reproducers(work: Path, results: dict) -> None:
    import httpx

    frame = tricky_frame()
    for name in ("a", "b"):
        (work / name).mkdir()
        write_csv(frame, work / name / "t.csv")
        audit(work / name / "t.csv", work / name / "audit")
    shared = f"sqlite:///{work / 'shared.db'}"
    folder = work / "a" / "audit"

    # revocation on a running server
    with server(folder, reviewers=("ana",)) as (base, links, _):
        ana = login(base, links["ana"])
        first = ana.get("/").status_code
        port = free_port()
        revoker = subprocess.Popen([sys.executable, "-m", "labelwise", "review", str(folder), "--revoke", "ana",
                                    "--port", str(port), "-r", "someone"], stderr=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, text=True)
        for _ in range(200):
            line = revoker.stderr.readline()
            if "revoked" in line or (not line and revoker.poll() is not None):
                break
        revoker.terminate()
        revoker.wait(timeout=10)
        after = ana.get("/").status_code
        # logout
        page = ana.get("/").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        results["revoke"] = {"before": first, "after_revoke": after}
        print(f"--revoke ana in another process: ana's next request on the running server -> {after} "
              f"(was {first})")

        # security headers, on a page, an error and a redirect
        wanted = {"content-security-policy": ("frame-ancestors 'none'", "base-uri 'none'"),
                  "x-content-type-options": ("nosniff",), "referrer-policy": ("no-referrer",),
                  "cache-control": ("no-store",)}
        probes = {"401 page": httpx.get(base + "/"), "404": httpx.get(base + "/no/such/page"),
                  "303 redirect": httpx.get(base + links["ana"], follow_redirects=False)}
        missing = {what: [h for h, parts in wanted.items() if not all(p in r.headers.get(h, "") for p in parts)]
                   for what, r in probes.items()}
        results["headers_missing"] = missing
        print("security headers missing: " + "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in missing.items()))
        cookie = probes["303 redirect"].headers.get("set-cookie", "")
        results["secure_cookie_over_http"] = "secure" in cookie.lower()

        # malformed and out-of-range ids and parameters
        fresh = login(base, links["ana"]) if after != 200 else ana
        with server(folder, reviewers=("bo",)) as (base2, links2, _):
            bo = login(base2, links2["bo"])
            page = bo.get("/item/1").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            big = "99999999999999999999"
            probes = {url: probe(bo, "GET", url) for url in (
                f"/item/{big}", "/item/-1", "/item/abc", "/item/2147483648", "/?after_quality=nan&after_id=1",
                f"/?after_quality=0&after_id={big}")}
            for what, url, data in (
                    ("POST version=" + big, "/item/1/decide", {"version": big, "decision": "keep"}),
                    (f"POST /item/{big}/decide", f"/item/{big}/decide", {"version": "0", "decision": "keep"}),
                    ("POST reason of 1 MB", "/item/2/decide", {"version": "0", "decision": "keep",
                                                               "reason": "x" * 1_000_000}),
                    ("POST label of 100k chars", "/item/3/decide", {"version": "0", "decision": "relabel",
                                                                    "label": "y" * 100_000})):
                probes[what] = probe(bo, "POST", url, data={"csrf": csrf, **data})
            results["malformed"] = probes
            print("malformed input -> status: " + ", ".join(f"{k} {v}" for k, v in probes.items()))
            logout = probe(bo, "POST", "/logout", data={"csrf": csrf})
            results["logout"] = {"status": logout, "after": probe(bo, "GET", "/")}
            print(f"POST /logout -> {logout}; the same cookie afterwards -> {results['logout']['after']}")
        del fresh

    # sessions and links piling up: start the server 5 times with one reviewer
    import sqlite3

    counts = []
    for _ in range(5):
        with server(folder, reviewers=("ana",)) as (base, links, _):
            login(base, links["ana"]).get("/")
        with sqlite3.connect(folder / "review.db") as db:
            tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            counts.append({t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables
                           if "token" in t or "session" in t or "link" in t})
    results["rows_after_starts"] = counts
    print(f"login links and sessions stored after 1 and 5 starts (one reviewer, one login each): {counts[0]} -> "
          f"{counts[-1]}")
    _, helptext = cli("review", "--help")
    helptext = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", helptext))
    options = {o: o in helptext for o in ("--session-idle", "--session-max-age", "--link-max-age",
                                          "--single-use-links", "--secure-cookies")}
    results["options"] = options
    print(f"expiry and cookie options: {options}")

    # a reviewer of project B logs into project A's server (one database for both)
    with server(work / "b" / "audit", "--db", shared, reviewers=("bob",)) as (base, links, _):
        bob_link = links["bob"]
    with server(folder, "--db", shared, reviewers=("ana",)) as (base, links, _):
        r = httpx.get(base + bob_link, follow_redirects=False)
    results["cross_project_login"] = r.status_code
    print(f"reviewer of project B opens A's server with B's link -> {r.status_code} "
          f"({'logged in' if r.status_code == 303 else 'refused'})")

    # a busy port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        rc, text = cli("review", folder, "--port", busy.getsockname()[1], "-r", "ana", timeout=120)
    lines = [line for line in text.splitlines() if line.strip() and "http://" not in line
             and "items," not in line]
    results["busy_port"] = {"exit": rc, "lines": lines}
    print(f"busy port: exit {rc}, {len(lines)} line(s): {' | '.join(lines)[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the table whose export is killed")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    import labelwise

    print(f"labelwise from {Path(labelwise.__file__).parent}")
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="labelwise-repro-"))
    try:
        for name, reproduce in (("export-case", export_reproducers), ("app-case", app_reproducers),
                                ("kill-case", lambda w, r: killed_export(w, args.rows, r))):
            (work / name).mkdir()
            reproduce(work / name, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
