"""Benchmark: a text audit of a million rows end to end from a Parquet folder, out of core, with its peak memory.

    python bench/scale_audit.py [--rows 1000000] [--memory-limit 2GB] [--files 10] [--minilm-rows 5000]

Data: Banking77's 13,083 texts (train and test) recombined into ``--rows`` texts, deterministically (seed 0): each
row takes a Banking77 sentence, drops one of its words at random, and appends one or two words of another sentence of
the same class, so that the texts differ while their classes stay learnable; 5% of the labels are moved to another
class at random (the known truth). Written as ``--files`` Parquet files into a folder under /tmp, removed at the end.

Run: ``labelwise audit DIR --label category --text text --encoder hashing --memory-limit LIMIT`` in a child process
(the CLI's ``main``, with a progress callback that records when each stage first and last reported, for the per-stage
wall times). Printed: wall time per stage, rows/s end to end, the child's peak resident memory (its ``VmHWM``; not
``ru_maxrss``, which Linux carries over from the parent across fork and exec), and precision/recall of the flagged
rows against the moved labels. The MiniLM encoder (the default, whose
rows/s set the cost of a real audit) is timed on ``--minilm-rows`` of the same texts in another child, beside the
hashing encoder on the same rows, so the audit's time with MiniLM can be extrapolated.

Writes JSON to ``--json`` (default bench/results/scale_audit.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BANKING77 = REPO.parent / "shared" / "datasets" / "banking77"

_CHILD = """
import json, sys, time
import labelwise.cli.audit_out_of_core as ooc
from contextlib import contextmanager
from labelwise.cli.main import main

stages = {}

@contextmanager
def recorded(enabled=True):
    def progress(stage, done, total):
        now = time.perf_counter()
        first, _, _ = stages.get(stage, (now, now, 0))
        stages[stage] = (first, now, done)
    yield progress

ooc.progress_bars = recorded
start = time.perf_counter()
code = main(sys.argv[2:])
stages["total"] = (start, time.perf_counter(), 0)
# VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into ru_maxrss across fork and exec
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
json.dump({"code": code, "stages": stages, "peak_rss_bytes": int(hwm) * 1024}, open(sys.argv[1], "w"))
sys.exit(code)
"""

_ENCODERS = """
import sys, time, json
import pandas as pd
from labelwise.audit.feature_space import text_encoder
texts = pd.read_parquet(sys.argv[1])["text"].tolist()
out = {}
for name in ("hashing", "minilm"):
    encoder = text_encoder(name)
    if name == "minilm":
        encoder.set_params(cache_dir=False)  # time the model, not the embedding cache an earlier run filled
    encoder.encode(texts[:64])  # load the model, warm up
    start = time.perf_counter()
    encoder.encode(texts)
    out[name] = len(texts) / (time.perf_counter() - start)
print(json.dumps(out))
"""


def make_table(rows: int, noise: float = 0.05, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(frame with text, category; moved (rows,) bool): Banking77 sentences perturbed as the module docstring says."""
    base = pd.concat([pd.read_csv(BANKING77 / f) for f in ("train.csv", "test.csv")], ignore_index=True)
    rng = np.random.default_rng(seed)
    words = [t.split() for t in base["text"]]
    category = base["category"].to_numpy()
    classes, codes = np.unique(category, return_inverse=True)
    by_class = [np.flatnonzero(codes == c) for c in range(len(classes))]
    pick = rng.integers(0, len(base), rows)
    drop = rng.integers(0, 1 << 30, rows)
    extra = rng.integers(0, 1 << 30, (rows, 2))
    texts = []
    for i, j in enumerate(pick):
        w = words[j]
        kept = w[:drop[i] % len(w)] + w[drop[i] % len(w) + 1:] if len(w) > 1 else w
        donor = words[by_class[codes[j]][extra[i, 0] % len(by_class[codes[j]])]]
        texts.append(" ".join(kept + donor[extra[i, 1] % len(donor):][:1 + extra[i, 1] % 2]))
    given = codes[pick].copy()
    moved = rng.random(rows) < noise
    given[moved] = (given[moved] + rng.integers(1, len(classes), moved.sum())) % len(classes)
    return pd.DataFrame({"text": texts, "category": classes[given]}), moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--minilm-rows", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "scale_audit.json")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")

    work = Path(tempfile.mkdtemp(prefix="labelwise-scale-audit-", dir="/tmp"))
    try:
        start = time.perf_counter()
        frame, moved = make_table(args.rows)
        folder = work / "table"
        folder.mkdir()
        for i, part in enumerate(np.array_split(np.arange(len(frame)), args.files)):
            frame.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
        sample = work / "sample.parquet"
        frame.iloc[:args.minilm_rows].to_parquet(sample, index=False)
        del frame
        print(f"built {args.rows:,} rows in {args.files} Parquet files ({time.perf_counter() - start:.0f} s, "
              f"{sum(f.stat().st_size for f in folder.iterdir()) / 2**20:.0f} MB)", flush=True)

        timings = work / "stages.json"
        command = ["audit", str(folder), "--label", "category", "--text", "text", "--encoder", "hashing",
                   "--memory-limit", args.memory_limit, "--out", str(work / "audit"), "--quiet"]
        subprocess.run([sys.executable, "-c", _CHILD, str(timings), *command], env=env, check=True)
        recorded = json.loads(timings.read_text())
        stages, peak = recorded["stages"], recorded["peak_rss_bytes"]
        flagged = pd.read_parquet(work / "audit" / "issues.parquet", columns=["is_label_issue"])[
            "is_label_issue"].to_numpy(bool)
        summary = json.loads((work / "audit" / "summary.json").read_text())

        run = subprocess.run([sys.executable, "-c", _ENCODERS, str(sample)], env=env, check=True,
                             capture_output=True, text=True)
        encoders = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    total = stages["total"][1] - stages["total"][0]
    # stages run one after another: each lasts from the previous stage's last report to its own last report (a stage
    # may report first only when its first shard or batch is done)
    ends = {k: v[1] for k, v in stages.items() if k != "total"}
    previous = {k: max([stages["total"][0]] + [e for e in ends.values() if e < ends[k]]) for k in ends}
    figures = {
        "rows": args.rows,
        "files": args.files,
        "memory_limit": args.memory_limit,
        "command": "labelwise " + " ".join(c if not c.startswith("/tmp") else "DIR" for c in command),
        "seconds_total": round(total, 1),
        "rows_per_second": round(args.rows / total, 1),
        "seconds_per_stage": {s: round(ends[s] - previous[s], 1) for s in sorted(ends, key=ends.get)},
        "peak_rss_mb": round(peak / 2**20),
        "precision": round(float(moved[flagged].mean()), 4),
        "recall": round(float(flagged[moved].mean()), 4),
        "flagged": int(flagged.sum()),
        "moved": int(moved.sum()),
        "settings": {k: summary["settings"].get(k) for k in ("classifier", "n_folds", "batch_rows", "shard_rows",
                                                             "query_rows", "chunk_rows")},
        "encoder_rows_per_second": {k: round(v, 1) for k, v in encoders.items()},
        "minilm_rows": args.minilm_rows,
    }
    embed_share = figures["seconds_per_stage"].get("embedding", 0.0)
    figures["extrapolated_seconds_with_minilm"] = round(
        total - embed_share + args.rows / figures["encoder_rows_per_second"]["minilm"], 0)
    print(f"\n{args.rows:,} rows from a Parquet folder, out of core, --memory-limit {args.memory_limit}")
    for stage, seconds in figures["seconds_per_stage"].items():
        print(f"  {stage:<18} {seconds:>8.1f} s")
    print(f"  {'total':<18} {total:>8.1f} s   ({figures['rows_per_second']:,.0f} rows/s)")
    print(f"peak RSS of the audit process: {figures['peak_rss_mb']:,} MB")
    print(f"flags vs the {figures['moved']:,} moved labels: precision {figures['precision']:.3f}, recall "
          f"{figures['recall']:.3f} ({figures['flagged']:,} flagged)")
    print(f"encoders on {args.minilm_rows:,} rows: hashing {encoders['hashing']:,.0f} rows/s, minilm "
          f"{encoders['minilm']:,.0f} rows/s -> the audit with minilm: about "
          f"{figures['extrapolated_seconds_with_minilm'] / 3600:.1f} h")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
