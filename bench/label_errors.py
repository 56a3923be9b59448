"""Benchmark: labelwise confident learning vs cleanlab 2.9 on large synthetic probabilities.

    python bench/label_errors.py [--n 1000000] [--k 100] [--filters prune_by_noise_rate,...] [--json out.json]

Draws n rows over k classes (seeded): true classes uniform, logits = 4 * onehot(true) + N(0, 1), softmax in
float32, then 10% of the given labels flipped uniformly to another class. Times labelwise's and cleanlab's
``find_label_issues`` (cleanlab with n_jobs=1 and with its default n_jobs) on the same arrays in one process,
checks both flag the same rows, and measures each one's peak extra memory with tracemalloc (numpy reports its
buffers to tracemalloc). Prints a table with ratios and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
import warnings

import numpy as np


def make_data(n: int, k: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, size=n)
    logits = rng.standard_normal((n, k), dtype=np.float32)
    logits[np.arange(n), true] += 4.0
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits, out=logits)
    probs /= probs.sum(axis=1, keepdims=True)
    given = true.copy()
    flip = rng.random(n) < noise
    given[flip] = (true[flip] + rng.integers(1, k, size=flip.sum())) % k
    return given, probs, flip


def timed(fn, repeat: int) -> tuple[float, object]:
    """The median wall time of ``repeat`` runs (every implementation gets the same repeats) and the last output."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--filters", default="prune_by_noise_rate,prune_by_class,both,confident_learning")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true", help="skip the (slower) tracemalloc runs")
    parser.add_argument("--json", default="bench/results/label_errors.json")
    args = parser.parse_args()

    from cleanlab.filter import find_label_issues as cleanlab_find

    from labelwise.audit.label_errors import find_label_issues

    warnings.filterwarnings("ignore")
    labels, probs, flipped = make_data(args.n, args.k)
    print(f"n={args.n:,} k={args.k} float32 pred_probs ({probs.nbytes / 2**20:.0f} MiB), {flipped.mean():.1%} flipped")
    rows = []
    for filter_by in args.filters.split(","):
        lw = lambda: find_label_issues(labels, probs, filter_by=filter_by)  # noqa: E731
        cl1 = lambda: cleanlab_find(labels, probs, filter_by=filter_by, n_jobs=1)  # noqa: E731
        cln = lambda: cleanlab_find(labels, probs, filter_by=filter_by)  # noqa: E731
        t_lw, m_lw = timed(lw, args.repeat)
        t_cl1, m_cl = timed(cl1, args.repeat)
        t_cln, _ = timed(cln, args.repeat)
        union = int((m_lw | m_cl).sum())
        jaccard_distance = 1 - int((m_lw & m_cl).sum()) / union if union else 0.0
        row = dict(
            filter_by=filter_by, labelwise_s=t_lw, cleanlab_n_jobs_1_s=t_cl1, cleanlab_default_s=t_cln,
            speedup_vs_n_jobs_1=t_cl1 / t_lw, speedup_vs_default=t_cln / t_lw,
            flagged_labelwise=int(m_lw.sum()), flagged_cleanlab=int(m_cl.sum()), jaccard_distance=jaccard_distance,
            recall_of_flips=float((m_lw & flipped).sum() / flipped.sum()),
            precision=float((m_lw & flipped).sum() / max(m_lw.sum(), 1)),
        )
        if not args.no_memory:
            row["labelwise_peak_mib"] = peak_mb(lw)
            row["cleanlab_n_jobs_1_peak_mib"] = peak_mb(cl1)
        rows.append(row)
        mem = (
            f" | peak MiB lw {row['labelwise_peak_mib']:7.0f} cl {row['cleanlab_n_jobs_1_peak_mib']:7.0f}"
            if not args.no_memory else ""
        )
        print(
            f"{filter_by:20s} labelwise {t_lw:6.2f}s | cleanlab n_jobs=1 {t_cl1:6.2f}s ({t_cl1 / t_lw:5.1f}x)"
            f" | cleanlab default {t_cln:6.2f}s ({t_cln / t_lw:5.1f}x) | flagged {row['flagged_labelwise']:,}"
            f" vs {row['flagged_cleanlab']:,}, Jaccard distance {jaccard_distance:.4f}{mem}",
            flush=True,
        )
    import os

    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(dict(n=args.n, k=args.k, results=rows), fh, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
