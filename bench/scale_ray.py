"""Benchmark: rows per second of each heavy stage, locally and on a 1-node and a 2-node Ray cluster.

    python bench/scale_ray.py [--repeats 3] [--texts 1000] [--knn-rows 12000] [--oof-rows 8000]
                              [--count-rows 1000000] [--json bench/results/scale_ray.json]

Reads ../shared/datasets/banking77/train.csv (shared data: the first ``--texts`` texts, for the embedding stage).

Stages and inputs (the same inputs in every mode; seeded):

- embed: the packaged MiniLM ONNX model (``TextEncoder(cache_dir=False)``: no cache, every text is embedded) on
  Banking77 texts; rows = texts;
- knn: self-search of ``--knn-rows`` x 384 random unit vectors, k = 10, shards of a quarter of the rows (four
  shards, each searched exactly); rows = stored rows;
- out_of_fold: 5 folds of ``LogisticRegression(max_iter=200)`` on ``--oof-rows`` x 64 features, 10 classes;
- confident_counts: ``--count-rows`` x 100 float32 probabilities in memory (both passes).

Modes: ``local`` (LocalExecutor, this process, numpy's and onnxruntime's default threads); ``local-1t`` (the same
with one BLAS/OpenMP thread, threadpoolctl, and one onnxruntime thread: what each Ray worker gets, since Ray sets
OMP_NUM_THREADS=1 for a 1-CPU task and the embedding actors use one onnxruntime thread); ``ray-1`` (a Ray head with
1 CPU) and ``ray-2`` (that head plus one more node with 1 CPU), both clusters started here with
:class:`labelwise.testing.ray_cluster.LocalRayCluster` (127.0.0.1, 1.5 GB object store per node). On this machine
every node shares the SAME two cores with the others and with this process, so the figures measure Ray's overhead
and how the work spreads over workers, not a speed-up from more machines. Each stage runs ``--repeats`` times in
each mode (the median time is reported) and its result is compared with the local one (embeddings within 1e-5,
the rest identical). Prints a table with rows/s and the ratios to both local modes; writes JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BANKING77 = HERE.parent.parent / "shared" / "datasets" / "banking77" / "train.csv"
STAGES = ("embed", "knn", "out_of_fold", "confident_counts")


def inputs(args) -> dict:
    rng = np.random.default_rng(0)
    with open(BANKING77, newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][: args.texts]
    vectors = rng.normal(size=(args.knn_rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    oof_labels = rng.integers(0, 10, args.oof_rows)
    features = rng.normal(size=(args.oof_rows, 64)) + 0.3 * np.eye(64)[oof_labels]
    probs = rng.random((args.count_rows, 100), dtype=np.float32) + 4.0 * np.eye(100, dtype=np.float32)[
        rng.integers(0, 100, args.count_rows)]
    probs /= probs.sum(axis=1, keepdims=True)
    return {"texts": texts, "vectors": vectors, "oof": (features, oof_labels),
            "counts": (rng.integers(0, 100, args.count_rows), probs)}


def run_stage(executor, stage: str, data: dict, threads=None):
    """(rows, result) of one run of ``stage``; threads: BLAS/OpenMP and onnxruntime threads (None: their defaults)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        return _run_stage(executor, stage, data, threads)


def _run_stage(executor, stage: str, data: dict, threads):
    from sklearn.linear_model import LogisticRegression

    from labelwise.features import TextEncoder

    if stage == "embed":
        return len(data["texts"]), executor.embed(TextEncoder(cache_dir=False, n_threads=threads), data["texts"])
    if stage == "knn":
        base = data["vectors"]
        return base.shape[0], executor.knn(base, 10, shard_rows=base.shape[0] // 4, exact=True)
    if stage == "out_of_fold":
        features, labels = data["oof"]
        return len(labels), executor.out_of_fold(features, labels, classifier=LogisticRegression(max_iter=200),
                                                 n_folds=5)
    labels, probs = data["counts"]
    counts = executor.confident_counts(labels, probs)
    return len(labels), (counts.thresholds, counts.confident_joint, counts.n_off_diagonal)


def same(stage: str, a, b) -> bool:
    if stage == "embed":
        return bool(np.allclose(a, b, atol=1e-5))
    if stage == "knn":
        return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
    if stage == "out_of_fold":
        return bool(np.array_equal(a, b))
    return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2])


def measure(executor, data: dict, repeats: int, reference: dict, results: dict, mode: str, threads=None) -> None:
    for stage in STAGES:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            rows, out = run_stage(executor, stage, data, threads)
            times.append(time.perf_counter() - start)
        reference.setdefault(stage, out)
        median = statistics.median(times)
        results[mode][stage] = {"rows": rows, "seconds": times, "median_s": median, "rows_per_s": rows / median,
                                "same_as_local": same(stage, out, reference[stage])}
        print(f"  {mode:8} {stage:17} {rows:>9} rows  median {median:7.2f} s  {rows / median:>11,.0f} rows/s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--knn-rows", type=int, default=12_000)
    parser.add_argument("--oof-rows", type=int, default=8_000)
    parser.add_argument("--count-rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "scale_ray.json")
    args = parser.parse_args()

    from labelwise.testing.ray_cluster import AUTH_MODE, LocalRayCluster

    os.environ["RAY_AUTH_MODE"] = AUTH_MODE  # this process talks to the benchmark's clusters as their nodes expect

    import ray

    from labelwise.scale.executor import LocalExecutor
    from labelwise.scale.ray_executor import RayExecutor

    data = inputs(args)
    results: dict = {"local": {}, "local-1t": {}, "ray-1": {}, "ray-2": {}}
    reference: dict = {}
    print("mode     stage             rows", flush=True)
    measure(LocalExecutor(), data, args.repeats, reference, results, "local")
    measure(LocalExecutor(), data, args.repeats, reference, results, "local-1t", threads=1)
    with LocalRayCluster(workers=0, object_store_bytes=1536 * 1024**2, memory_bytes=3 * 1024**3) as cluster:
        for mode in ("ray-1", "ray-2"):
            if mode == "ray-2":
                cluster.start_worker()
            ray.init(address=cluster.address, log_to_driver=False)
            try:
                with RayExecutor(cluster.address) as executor:
                    assert executor.cpus() == (1 if mode == "ray-1" else 2)
                    measure(executor, data, args.repeats, reference, results, mode)
            finally:
                ray.shutdown()

    print("\n| stage | rows | local rows/s | local, 1 thread | 1 node (x local, x 1 thread) | "
          "2 nodes (x local, x 1 thread) | same result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for stage in STAGES:
        local, single, one, two = (results[m][stage]["rows_per_s"] for m in results)
        agree = "yes" if all(results[m][stage]["same_as_local"] for m in results) else "NO"
        print(f"| {stage} | {results['local'][stage]['rows']:,} | {local:,.0f} | {single:,.0f} | "
              f"{one:,.0f} ({one / local:.2f}, {one / single:.2f}) | "
              f"{two:,.0f} ({two / local:.2f}, {two / single:.2f}) | {agree} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "repeats": args.repeats,
               "note": "both Ray nodes run on the same 2-core machine as the local run (overhead, not speed-up)",
               "results": results}
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(args.json)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
