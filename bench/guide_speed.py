"""How long `labelwise guide` takes to choose and score its examples, and how good they are, by method.

    python bench/guide_speed.py [--skip-exact] [--json bench/results/guide_speed.json]

Issue 14: the default picker (greedy-AP, paper 16: Chang et al., "Thinking Like an Annotator", 2023) took 237 s on
an 18,000-row table where MMR took 7 s. Each method here does what the guide does with its defaults (5 examples per
class, evaluate on): choose the examples on all rows, then the held-out mAP of that method and of random examples
by 5-fold cross-validation (the figure the guide prints). Methods, in one run on the same embeddings:

- ``mmr``: centrality + max-marginal-relevance (lambda 0.5);
- ``greedy-ap``: labelwise's search (pool 60, each class ranked against its 2,000 hardest other rows, binned AP);
- ``greedy-ap exact``: the same search ranking every row with the exact AP (the search before issue 14).

Data, embedded with the packaged MiniLM (offline): Banking77 train (10,003 rows, 77 intents), and Banking77 train +
test with the NLU++ utterances of both domains (15,801 rows, 164 classes; an NLU++ row's class is its domain and
first intent in alphabetical order, since NLU++ is multi-label). The last line times ``labelling_guide`` itself (the
library call behind the command, embeddings cached) with its default method on the larger table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from labelwise.generate import instructions as ins

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
K, FOLDS = 5, 5
METHODS = {"mmr": ("mmr", {}), "greedy-ap": ("greedy-ap", {}),
           "greedy-ap exact": ("greedy-ap", {"max_negatives": None, "search_bins": None})}


def tables() -> dict:
    banking = pd.read_csv(SHARED / "banking77" / "train.csv")
    rows = []
    for domain in ("banking", "hotels"):
        for path in sorted((SHARED / "nlupp" / domain).glob("fold*.json")):
            rows += [{"text": r["text"], "category": f"{domain}:{sorted(r['intents'])[0]}"}
                     for r in json.loads(path.read_text()) if r.get("intents")]
    larger = pd.concat([banking, pd.read_csv(SHARED / "banking77" / "test.csv"), pd.DataFrame(rows)],
                       ignore_index=True)
    return {"banking77 train": banking, "banking77 + NLU++": larger}


class Lookup:
    """An encoder that returns vectors already computed, by text (so timing the workflow leaves embedding out)."""

    model_id = "all-MiniLM-L6-v2 (cached)"

    def __init__(self, texts, vectors):
        self.table = dict(zip(texts, vectors))

    def encode(self, texts):
        return np.stack([self.table[t] for t in texts])


def guide_work(x, y, method, options) -> dict:
    """What labelling_guide does with its defaults: choose on all rows, then held-out mAP of method and random."""
    t0 = time.perf_counter()
    ins.select_exemplars(x, y, K, method, **options)
    chosen = time.perf_counter() - t0
    ours = np.nanmean(ins.cross_validated_ap(x, y, method, K, FOLDS, **options), axis=1)
    rand = np.nanmean(ins.cross_validated_ap(x, y, "random", K, FOLDS), axis=1)
    return {"choose_seconds": chosen, "seconds": time.perf_counter() - t0, "map": float(ours.mean()),
            "map_std": float(ours.std()), "random_map": float(rand.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-exact", action="store_true", help="leave out the slow exact search")
    parser.add_argument("--json", default="bench/results/guide_speed.json")
    args = parser.parse_args()
    from labelwise.features import TextEncoder

    encoder, results = TextEncoder(), []
    for name, frame in tables().items():
        texts = frame["text"].astype(str).tolist()
        x = ins.normalise_rows(encoder.encode(texts))
        classes = sorted(frame["category"].unique())
        y = np.searchsorted(classes, frame["category"].to_numpy())
        for label, (method, options) in METHODS.items():
            if args.skip_exact and options:
                continue
            row = {"data": name, "rows": len(y), "classes": len(classes), "method": label, **guide_work(x, y, method,
                                                                                                         options)}
            results.append(row)
            print(f"{name:<18} {label:<16} choose {row['choose_seconds']:6.1f} s, with held-out mAP "
                  f"{row['seconds']:6.1f} s; mAP {row['map']:.3f} ± {row['map_std']:.3f} (random "
                  f"{row['random_map']:.3f})", flush=True)
        if name == "banking77 + NLU++":
            from labelwise.generate.guide import labelling_guide

            t0 = time.perf_counter()
            guide = labelling_guide(frame, label="category", text="text", encoder=Lookup(texts, x))
            seconds = time.perf_counter() - t0
            results.append({"data": name, "method": f"labelling_guide ({guide.method})", "seconds": seconds,
                            "map": guide.quality["method"]["mean"], "random_map": guide.quality["random"]["mean"]})
            print(f"labelling_guide on {name}, default method {guide.method}: {seconds:.1f} s", flush=True)

    print(f"\n| data | method | choose (s) | guide's work (s) | x mmr | held-out mAP, K={K} | random |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "choose_seconds" not in r:
            continue
        base = next(b for b in results if b["data"] == r["data"] and b["method"] == "mmr")
        print(f"| {r['data']} ({r['rows']:,} rows, {r['classes']} classes) | {r['method']} | "
              f"{r['choose_seconds']:.1f} | {r['seconds']:.1f} | {r['seconds'] / base['seconds']:.1f} | "
              f"{r['map']:.3f} ± {r['map_std']:.3f} | {r['random_map']:.3f} |")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"k": K, "folds": FOLDS, "rows": results}, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
