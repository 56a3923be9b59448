"""Benchmark: labelwise's numpy kNN (exact and IVF) against FAISS, hnswlib and usearch on equal terms.

    python bench/knn_backends.py [--n 100000] [--dim 384] [--repeats 1] [--methods all] [--baseline-rev REV]

Data: n clustered unit vectors shaped like sentence embeddings (seeded; see ``clustered``): n/100 topics of uneven
size (Dirichlet weights), a decaying spectrum (variance of dimension j ~ 1/(j+1)) and a shared direction, so
random pairs have a positive mean cosine as MiniLM's do. The task is the audit's: every row queries the table for
its 10 nearest other rows (self-query, k = 10). Truth is exact search; recall@10 = |found & truth| / 10.

Fairness: every library runs in a fresh subprocess limited to 2 threads (OMP/OpenBLAS/MKL_NUM_THREADS=2,
``faiss.omp_set_num_threads(2)``, hnswlib ``num_threads=2``, usearch ``threads=2``), on the same float32 unit
vectors, with inner-product metric, the same number of repeats (interleaved, so machine load hits all alike;
the median is reported). The IVF pair has equal cells (labelwise's ``n_cells(n)``), equal probes, the same
training rows (the same seeded sample of 64 rows per cell), the same k-means iterations and spherical centroids.
The HNSW libraries run their documented defaults (hnswlib: M=16, ef_construction=200; usearch: connectivity 16,
expansion_add 128) with the search breadth ``ef`` swept. Peers that cannot exclude the query row search k + 1 and
drop it. Peak memory: the child's resident high-water mark (VmHWM, reset after loading the data and again before
each search) minus its resident size after loading the data: what building, and building plus that one search,
added, C allocations included.

Prints one row per setting, then the fastest setting of each method reaching each recall level and the ratios;
writes JSON (``--json``, default bench/results/knn_backends.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
K = 10
THREADS = 2
PROBES = (1, 2, 4, 8, 16, 32)
EFS = (16, 32, 64, 128, 256)
RECALL_LEVELS = (0.90, 0.95, 0.99)
METHODS = ("numpy-exact", "faiss-flat", "numpy-ivf", "faiss-ivf", "hnswlib", "usearch")


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """(n, dim) float32 unit rows: uneven topics, decaying spectrum, a shared direction (see the module doc)."""
    rng = np.random.default_rng(seed)
    spectrum = (1.0 / np.sqrt(1.0 + np.arange(dim))).astype(np.float32)
    topics = max(1, n // 100)
    centres = rng.standard_normal((topics, dim)).astype(np.float32) * spectrum
    shared = rng.standard_normal(dim).astype(np.float32) * spectrum
    topic = rng.choice(topics, size=n, p=rng.dirichlet(np.ones(topics)))
    x = np.empty((n, dim), np.float32)
    for start in range(0, n, 10_000):
        t = topic[start : start + 10_000]
        noise = rng.standard_normal((t.size, dim)).astype(np.float32) * spectrum
        x[start : start + t.size] = 0.6 * shared + centres[t] + 0.8 * noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


# ---- one library in one fresh process ------------------------------------------------------------------------------


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS


def _drop_self(idx: np.ndarray) -> np.ndarray:
    """(n, K + 1) neighbours of each row from a search that may return the row itself -> (n, K) without it."""
    own = idx == np.arange(idx.shape[0])[:, None]
    keep = ~own
    keep[~own.any(axis=1), K] = False  # the row was not found: drop the last instead
    return idx[keep].reshape(idx.shape[0], K)


def child(method: str, data: Path, out: Path) -> None:
    """Build ``method``'s index on the saved vectors, run each search setting, write times, memory, neighbours."""
    x = np.load(data)
    n, dim = x.shape
    results = []
    if method.startswith("numpy") or method == "baseline-exact":
        sys.path.insert(0, str(HERE.parent / "src"))
        if method == "baseline-exact":
            sys.path.insert(0, str(out.parent))
            import baseline_neighbours as old  # written by the parent from git history
        from labelwise.neighbours import TRAIN_PER_CELL, NeighbourIndex, n_cells
    else:
        import faiss  # noqa: F401  (faiss, hnswlib and usearch are imported before the baseline is taken)
        import hnswlib  # noqa: F401
        import usearch.index  # noqa: F401
        sys.path.insert(0, str(HERE.parent / "src"))
        from labelwise.neighbours import KMEANS_ITERATIONS, TRAIN_PER_CELL, n_cells
    base_kib = _memory_kib("VmRSS")
    _reset_peak()

    t0 = time.perf_counter()
    if method == "numpy-exact":
        index = NeighbourIndex(x, exact=True)
        settings, search = [None], lambda _: index.search(K)[0]
    elif method == "baseline-exact":
        settings, search = [None], lambda _: old.knn(x, K, exact=True)[0]
    elif method == "numpy-ivf":
        index = NeighbourIndex(x, exact=False, random_state=0)
        settings, search = PROBES, lambda p: index.search(K, n_probe=p)[0]
    elif method == "faiss-flat":
        faiss.omp_set_num_threads(THREADS)
        index = faiss.IndexFlatIP(dim)
        index.add(x)
        settings, search = [None], lambda _: _drop_self(index.search(x, K + 1)[1])
    elif method == "faiss-ivf":
        faiss.omp_set_num_threads(THREADS)
        cells = n_cells(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = KMEANS_ITERATIONS
        index.cp.spherical = True
        train = np.random.default_rng(0).choice(n, size=min(n, TRAIN_PER_CELL * cells), replace=False)
        index.train(x[train])  # the same rows labelwise's k-means samples (same seed, same call)
        index.add(x)

        def search(p):
            index.nprobe = p
            return _drop_self(index.search(x, K + 1)[1])

        settings = PROBES
    elif method == "hnswlib":
        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=0)
        index.set_num_threads(THREADS)
        index.add_items(x, np.arange(n), num_threads=THREADS)

        def search(ef):
            index.set_ef(max(ef, K + 1))
            return _drop_self(index.knn_query(x, k=K + 1, num_threads=THREADS)[0].astype(np.int64))

        settings = EFS
    elif method == "usearch":
        index = usearch.index.Index(ndim=dim, metric="ip", dtype="f32", connectivity=16, expansion_add=128)
        index.add(np.arange(n), x, threads=THREADS)

        def search(ef):
            index.expansion_search = ef
            return _drop_self(index.search(x, K + 1, threads=THREADS).keys.astype(np.int64))

        settings = EFS
    else:
        raise SystemExit(f"unknown method {method!r}")
    build = time.perf_counter() - t0
    build_peak = _memory_kib("VmHWM") - base_kib
    for setting in settings:
        _reset_peak()
        t0 = time.perf_counter()
        idx = search(setting)
        seconds = time.perf_counter() - t0
        peak = max(build_peak, _memory_kib("VmHWM") - base_kib)
        np.save(out.with_name(f"{out.stem}-{setting}.npy"), idx)
        del idx
        results.append(dict(setting=setting, query_s=seconds, peak_mib=peak / 1024))
    out.write_text(json.dumps(dict(build_s=build, results=results)))


# ---- the parent: data, truth, repeats, table ------------------------------------------------------------------------


def run_child(method: str, data: Path, work: Path, rep: int) -> dict:
    out = work / f"{method}-{rep}.json"
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS),
               MKL_NUM_THREADS=str(THREADS))
    cmd = [sys.executable, __file__, "--child", method, "--data", str(data), "--out", str(out)]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(out.read_text())


def setting_name(method: str, setting) -> str:
    if setting is None:
        return "exact"
    return f"n_probe={setting}" if "ivf" in method else f"ef={setting}"


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2) & (found >= 0)
    return float(hits.sum() / truth.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--methods", default="all", help="comma-separated subset of " + ", ".join(METHODS))
    parser.add_argument("--baseline-rev", help="also time the exact path of labelwise at this git revision")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "knn_backends.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.out)
        return

    methods = list(METHODS) if args.methods == "all" else args.methods.split(",")
    with tempfile.TemporaryDirectory(prefix="knn-bench-") as tmp:
        work = Path(tmp)
        data = work / "vectors.npy"
        np.save(data, clustered(args.n, args.dim))
        if args.baseline_rev:
            source = subprocess.run(["git", "show", f"{args.baseline_rev}:src/labelwise/audit/neighbours.py"],
                                    cwd=HERE.parent, check=True, capture_output=True, text=True).stdout
            (work / "baseline_neighbours.py").write_text(source)
            methods.insert(0, "baseline-exact")
        if "numpy-exact" not in methods:
            methods.insert(0, "numpy-exact")  # the truth
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        for rep in range(args.repeats):  # interleaved: load on the machine hits every library alike
            for method in methods:
                print(f"[repeat {rep + 1}/{args.repeats}] {method} ...", file=sys.stderr, flush=True)
                runs[method].append(run_child(method, data, work, rep))
        truth = np.load(work / "numpy-exact-0-None.npy")
        rows = []
        for method in methods:
            first = runs[method][0]
            build = float(np.median([r["build_s"] for r in runs[method]]))
            for i, res in enumerate(first["results"]):
                query = float(np.median([r["results"][i]["query_s"] for r in runs[method]]))
                peak = float(np.median([r["results"][i]["peak_mib"] for r in runs[method]]))
                found = np.load(work / f"{method}-0-{res['setting']}.npy")
                rows.append(dict(method=method, setting=setting_name(method, res["setting"]), build_s=build,
                                 query_s=query, total_s=build + query, recall_at_10=recall(found, truth),
                                 peak_mib=peak))
    report(rows, args)


def report(rows: list[dict], args) -> None:
    print(f"\n{args.n:,} x {args.dim} clustered unit vectors, self-query k={K}, {THREADS} threads, "
          f"median of {args.repeats} run(s)\n")
    print(f"{'method':<15} {'setting':<11} {'build s':>8} {'query s':>8} {'total s':>8} {'recall@10':>9} "
          f"{'peak MiB':>9}")
    for r in rows:
        print(f"{r['method']:<15} {r['setting']:<11} {r['build_s']:8.2f} {r['query_s']:8.2f} {r['total_s']:8.2f} "
              f"{r['recall_at_10']:9.4f} {r['peak_mib']:9.0f}")
    by = {}
    for r in rows:
        by.setdefault(r["method"], []).append(r)

    def ratio(a: str, b: str, key: str) -> str:
        return f"{by[a][0][key] / by[b][0][key]:.2f}x" if a in by and b in by and by[b][0][key] > 0 else "-"

    print("\nexact: numpy / faiss-flat  time", ratio("numpy-exact", "faiss-flat", "total_s"),
          " peak memory", ratio("numpy-exact", "faiss-flat", "peak_mib"))
    if "baseline-exact" in by:
        print(f"exact: before ({args.baseline_rev}) / now  time", ratio("baseline-exact", "numpy-exact", "total_s"),
              " peak memory", ratio("baseline-exact", "numpy-exact", "peak_mib"))
    best = {}
    print("\nfastest setting reaching each recall@10 (build + query seconds):")
    for level in RECALL_LEVELS:
        cells = []
        for method, rs in by.items():
            ok = [r for r in rs if r["recall_at_10"] >= level and r["setting"] != "exact"]
            if ok:
                pick = min(ok, key=lambda r: r["total_s"])
                best[(method, level)] = pick
                cells.append(f"{method} {pick['setting']} {pick['total_s']:.1f}s")
        print(f"  >= {level:.2f}: " + "; ".join(cells))
        ivf = best.get(("numpy-ivf", level))
        if ivf:
            for peer in ("faiss-ivf", "hnswlib", "usearch"):
                other = best.get((peer, level))
                if other:
                    print(f"    {peer} / numpy-ivf: total {other['total_s'] / ivf['total_s']:.2f}x, query only "
                          f"{other['query_s'] / ivf['query_s']:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(n=args.n, dim=args.dim, k=K, threads=THREADS, repeats=args.repeats,
                                   baseline_rev=args.baseline_rev, rows=rows), indent=2))
    tmp.replace(args.json)


if __name__ == "__main__":
    main()
