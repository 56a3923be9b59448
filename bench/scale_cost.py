"""What an audit of 100M texts costs on N nodes, from per-core rates measured here.

Each heavy stage of ``labelwise audit`` is timed on ONE core (one onnxruntime / BLAS thread), the way a Ray worker
runs it (``labelwise.scale.ray_executor``: one CPU and one thread per actor or task):

- embed: the packaged MiniLM (int8 ONNX) on Banking77 texts, and the hashing encoder;
- out_of_fold: the audit's default classifier for large tables (``labelwise.audit.out_of_fold.default_classifier``:
  logistic regression, C=1) on MiniLM-sized vectors, one fold's fit + predict per training row;
- knn: one shard of ``shard_rows`` 384-d vectors (an inverted-file index, as ``labelwise.sharded_neighbours``
  builds per shard) searched by a block of queries;
- confident counts: ``find_label_issues`` streaming float16 probabilities from an ``.npy`` file.

The projection assumes the stages scale with cores (the Ray executor runs one actor / task per CPU; embedding and
folds are embarrassingly parallel, each shard is an independent task) and models the search as every query
visiting every shard: ``n / shard_rows`` shards, each costing the measured per-(query, shard) time (an index over
S rows has about sqrt(S) cells of sqrt(S) rows, so that time grows as sqrt(S); it is measured, not assumed, at the
chosen S). Network, object-store transfers and stragglers are not modelled: read the figures as a lower bound on
the time and an upper bound on what the nodes can do.

Run: ``python bench/scale_cost.py`` (a few minutes; needs ../shared/datasets/banking77). Prints the per-core table
and the 100M-row projection; JSON to bench/results/scale_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker, as on a Ray CPU slot
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BANKING = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"


def _best(fn, repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other work on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def embed_rates(n_texts: int, repeats: int) -> dict:
    from labelwise.features import TextEncoder
    from labelwise.features.hashing import HashingTextEncoder

    texts = pd.read_csv(BANKING)["text"].astype(str).tolist()[:n_texts]
    minilm = TextEncoder(cache_dir=False, n_threads=1)
    minilm.encode(texts[:64])  # load the model outside the timing
    hashing = HashingTextEncoder(dim=256)
    return {
        "embed_minilm": len(texts) / _best(lambda: minilm.encode(texts), repeats),
        "embed_hashing": len(texts) / _best(lambda: hashing.encode(texts), repeats),
    }


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(16, n // 200), d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def out_of_fold_rate(n_rows: int, n_classes: int, repeats: int) -> float:
    """Training rows per second for one fold: fit on n_rows, predict n_rows / 4."""
    from labelwise.audit.out_of_fold import default_classifier

    rng = np.random.default_rng(0)
    y = rng.integers(0, n_classes, n_rows)
    centres = rng.normal(size=(n_classes, 384)).astype(np.float32)
    x = centres[y] + 2.0 * rng.normal(size=(n_rows, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    def one_fold():
        model = default_classifier("dense", n_rows=10**8, random_state=0).fit(x, y)  # the large-table model
        model.predict_proba(x[: n_rows // 4])

    return n_rows / _best(one_fold, repeats)


def knn_rate(shard_rows: int, n_queries: int, repeats: int) -> dict:
    """Seconds per (query, shard) for one indexed shard of ``shard_rows`` rows, index build included per shard."""
    from labelwise.neighbours import NeighbourIndex

    base = _clustered(shard_rows, 384, 1)
    queries = _clustered(n_queries, 384, 2)
    build = _best(lambda: NeighbourIndex(base, exact=False), 1)
    index = NeighbourIndex(base, exact=False)
    search = _best(lambda: index.search(10, query=queries), repeats)
    return {"shard_rows": shard_rows, "build_s": build, "search_s_per_query": search / n_queries}


def counts_rate(n_rows: int, n_classes: int, repeats: int) -> float:
    """Rows per second of streaming find_label_issues (audit default filter) on float16 probabilities on disk."""
    from labelwise.audit.label_errors import AUDIT_FILTER, find_label_issues

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probs.npy"
        probs = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n_rows, n_classes))
        labels = rng.integers(0, n_classes, n_rows)
        for lo in range(0, n_rows, 100_000):
            hi = min(lo + 100_000, n_rows)
            block = rng.dirichlet(np.full(n_classes, 0.05), hi - lo).astype(np.float32)
            block[np.arange(hi - lo), labels[lo:hi]] += 1.0
            probs[lo:hi] = block / block.sum(axis=1, keepdims=True)
        probs.flush()
        del probs
        return n_rows / _best(lambda: find_label_issues(labels, str(path), filter_by=AUDIT_FILTER), repeats)


def project(rates: dict, *, rows: float, nodes: list, cores: int, shard_rows: int) -> list[dict]:
    """Hours per stage for ``rows`` rows on each node count (``cores`` cores a node), from per-core rates."""
    out = []
    n_shards = max(1.0, rows / shard_rows)
    core_seconds = {
        "embed (MiniLM)": rows / rates["embed_minilm"],
        "out_of_fold (3 folds)": 3 * (rows * 2 / 3) / rates["out_of_fold"],
        "knn (sharded, 10 nearest)": rows * n_shards * rates["knn"]["search_s_per_query"]
        + n_shards * rates["knn"]["build_s"],
        "confident counts": rows / rates["counts"],
    }
    for n in nodes:
        row = {"nodes": n, "cores": n * cores}
        row.update({stage: s / (n * cores) / 3600 for stage, s in core_seconds.items()})
        row["bottleneck"] = max(core_seconds, key=core_seconds.get)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--shard-rows", type=int, default=262_144, help="the Ray/out-of-core default")
    parser.add_argument("--rows", type=float, default=100e6)
    parser.add_argument("--cores-per-node", type=int, default=16)
    args = parser.parse_args()

    rates = embed_rates(args.texts, args.repeats)
    rates["out_of_fold"] = out_of_fold_rate(20_000, 77, 1)
    rates["knn"] = knn_rate(args.shard_rows, 4096, args.repeats)
    rates["counts"] = counts_rate(1_000_000, 345, args.repeats)

    print("Per-core rates (one thread; fastest of the repeats):")
    print(f"  embed, MiniLM int8 ONNX    {rates['embed_minilm']:>12,.0f} rows/s")
    print(f"  embed, hashing             {rates['embed_hashing']:>12,.0f} rows/s")
    print(f"  out_of_fold, one fold      {rates['out_of_fold']:>12,.0f} training rows/s (20k x 384, 77 classes)")
    knn = rates["knn"]
    print(f"  knn, one shard of {knn['shard_rows']:,}   {1 / knn['search_s_per_query']:>10,.0f} queries/s; "
          f"index build {knn['build_s']:.1f} s")
    print(f"  confident counts (1M x 345 float16 on disk) {rates['counts']:>12,.0f} rows/s")

    table = project(rates, rows=args.rows, nodes=[1, 4, 16, 64], cores=args.cores_per_node,
                    shard_rows=args.shard_rows)
    stages = [k for k in table[0] if k not in ("nodes", "cores", "bottleneck")]
    print(f"\n{args.rows:,.0f} rows on N nodes of {args.cores_per_node} cores (hours per stage; lower bound):")
    print("| nodes | cores | " + " | ".join(stages) + " | bottleneck |")
    print("|---:|---:|" + "---:|" * len(stages) + "---|")
    for row in table:
        print(f"| {row['nodes']} | {row['cores']} | " + " | ".join(f"{row[s]:.2f}" for s in stages)
              + f" | {row['bottleneck']} |")
    out = ROOT / "bench" / "results" / "scale_cost.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rates": rates, "projection": table, "args": vars(args)}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
