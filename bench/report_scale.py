"""Benchmark: the whole audit + Dataset Nutrition Label for a 100,000-row table whose embeddings are given.

    python bench/report_scale.py [--n 100000] [--dim 384] [--classes 20]

Synthetic but structured data (seeded): class centres in embedding space, rows scattered around them, 5% of
labels flipped, 1% of rows planted as near-duplicates. Times each stage, then the total, and prints the report's
size. The issue's target: under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_table(n: int, dim: int, k: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)).astype(np.float32)
    true = rng.integers(0, k, n)
    vectors = centres[true] + 1.2 * rng.standard_normal((n, dim)).astype(np.float32)
    dup = rng.choice(n, n // 50, replace=False)
    vectors[dup[: n // 100]] = vectors[dup[n // 100:]] + 0.01 * rng.standard_normal((n // 100, dim)).astype(np.float32)
    given = true.copy()
    flip = rng.random(n) < 0.05
    given[flip] = (true[flip] + rng.integers(1, k, flip.sum())) % k
    frame = pd.DataFrame({"id": np.arange(n), "label": [f"class_{c:02d}" for c in given]})
    frame["embedding"] = list(vectors)
    return frame, flip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--out", default="bench/results/report_scale")
    args = parser.parse_args()

    import labelwise
    from labelwise.report import write_report

    frame, flip = make_table(args.n, args.dim, args.classes)
    stages = {}

    def stage(name: str, done: int, total: int) -> None:
        stages.setdefault(name, [time.perf_counter(), None])
        if done >= total:
            stages[name][1] = time.perf_counter()

    t0 = time.perf_counter()
    result = labelwise.audit_dataset(frame, label="label", embeddings="embedding", progress=stage)
    t1 = time.perf_counter()
    html, js = write_report(result, args.out)
    t2 = time.perf_counter()
    hits = (result.is_issue & flip).sum()
    print(f"n={args.n:,} dim={args.dim} classes={args.classes}")
    for name, (start, stop) in stages.items():
        if stop is not None:
            print(f"  {name:18s} {stop - start:6.1f} s")
    print(f"audit (all checks)   {t1 - t0:6.1f} s")
    print(f"write report         {t2 - t1:6.1f} s")
    print(f"total                {t2 - t0:6.1f} s   (target < 30 s)")
    print(f"report.html {html.stat().st_size / 1024:.0f} KiB, report.json {js.stat().st_size / 1024:.0f} KiB")
    print(f"flagged {result.n_issues:,}; precision {hits / max(result.n_issues, 1):.2f}, recall {hits / flip.sum():.2f}; "
          f"duplicate rows {result.checks.duplicates.summary.duplicate_rows:,}; "
          f"outliers {result.checks.outliers.summary.n_outliers}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "timing.json").write_text(json.dumps({"n": args.n, "audit_s": t1 - t0, "report_s": t2 - t1}))


if __name__ == "__main__":
    main()
