"""Benchmark: HyperPAVE (paper 30) -- zero-shot attribute values on the notes' synthetic catalogue.

    python bench/hyperpave.py [--seeds 0,1,2] [--products 2000] [--encoders hashing,minilm] [--epochs 100]
                              [--lr 0.001] [--threads 1] [--json out.json]

Catalogue (labelwise.testing.catalog.make_catalog, the notes' sizes): 6 categories x 4 attributes x 6-10 values,
2,000 products drawing 2-4 attribute values (AVs), templated texts that mention each value with probability 0.6,
also_view / also_buy lists of 5 that share an AV with probability 0.7. Per seed a new catalogue and a zero-shot split
(5 validation + 5 test AVs held out; every product holding one has no known labels).

Arms, all on the same frozen text features (the encoder: a 256-bucket hashing bag of words, or MiniLM):
(a) text: cosine(product text, "attr is value"); (b) graph: HypergraphLinkTagger without hyperedges (SAGE over the
product-AV edges only); (c) hyper: with the behaviour hyperedges (also_view, also_buy; the paper's "user" mode);
(d) all: (c) + the inventory hyperedges P-A and C-P-A built from the training edges (the paper's "all" mode);
(e) leaky: (d) with the inventory hyperedges built from every edge, the held-out AVs' included (the official code's
leak). Metrics (labelwise.testing.catalog.zero_shot_metrics) on the test queries: mAP and Hit@5 over every AV but
the product's seen ones, macro-F1 over the unseen test AVs at a threshold tuned on the validation AVs.

Prints mean +- std over seeds per encoder and arm, and the number of seeds where (c) beat (a) on mAP.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ARMS = ["text", "graph", "hyper", "all", "leaky"]


def run_seed(seed: int, n_products: int, encoder, epochs: int, threads: int, arms=ARMS, lr: float = 1e-3) -> dict:
    from labelwise.learn.hypergraph import HypergraphLinkTagger
    from labelwise.testing.catalog import make_catalog, zero_shot_metrics, zero_shot_split

    catalog = make_catalog(n_products, random_state=seed)
    split = zero_shot_split(catalog.edges, random_state=seed)
    items = np.asarray(encoder.encode(catalog.texts), dtype=np.float32)
    labels = np.asarray(encoder.encode([f"{a} is {v}" for a, v in catalog.av]), dtype=np.float32)
    groups = {name: [[p] + list(lst) for p, lst in enumerate(lists)]
              for name, lists in (("also_view", catalog.also_view), ("also_buy", catalog.also_buy))}
    settings = {"graph": ({}, None), "hyper": ({}, groups), "all": ({"inventory": True}, groups),
                "leaky": ({"inventory": True, "inventory_edges": catalog.edges}, groups)}
    out = {}
    for arm in arms:
        start = time.perf_counter()
        if arm == "text":
            scores = items @ labels.T
        else:
            params, g = settings[arm]
            model = HypergraphLinkTagger(epochs=epochs, lr=lr, random_state=seed, n_threads=threads, **params)
            scores = model.fit(items, labels, split.train_edges, g, categories=catalog.category).decision_function()
        out[arm] = {**zero_shot_metrics(scores, catalog, split), "seconds": time.perf_counter() - start}
    return out


def encoder_named(name: str):
    if name == "hashing":
        from labelwise.features.hashing import HashingTextEncoder

        return HashingTextEncoder(256)
    from labelwise.features.text import TextEncoder

    return TextEncoder()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--encoders", default="hashing,minilm")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (the tagger's default 1e-3)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {}
    for name in args.encoders.split(","):
        encoder = encoder_named(name)
        runs = []
        for seed in seeds:
            runs.append(run_seed(seed, args.products, encoder, args.epochs, args.threads, lr=args.lr))
            print(f"[{name} seed {seed}] " + ", ".join(f"{a} mAP {r['map']:.3f}" for a, r in runs[-1].items()),
                  file=sys.stderr, flush=True)
        results[name] = runs
        print(f"\nencoder {name}: {args.products} products, {len(seeds)} seeds, {args.epochs} epochs, lr {args.lr}")
        print(f"{'arm':8} {'mAP':>15} {'Hit@5':>15} {'macro-F1':>15} {'seconds':>9}")
        for arm in ARMS:
            cells = []
            for metric in ("map", "hit5", "macro_f1"):
                values = np.array([r[arm][metric] for r in runs])
                cells.append(f"{values.mean():.3f} +- {values.std():.3f}")
            seconds = np.mean([r[arm]["seconds"] for r in runs])
            print(f"{arm:8} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15} {seconds:9.1f}")
        wins = sum(r["hyper"]["map"] > r["text"]["map"] for r in runs)
        print(f"(c) hyper > (a) text on mAP in {wins}/{len(runs)} seeds; "
              f"(e) leaky - (d) all: {np.mean([r['leaky']['map'] - r['all']['map'] for r in runs]):+.3f} mAP")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
