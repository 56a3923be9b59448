"""Benchmark: every multi-label learner on NLU++, with the same MiniLM features, splits and seeds.

    python bench/multilabel.py [--runs 3] [--settings banking-low,banking-large,hotels-low,hotels-large,cross]
                               [--methods bce,logreg,...] [--json out.json]

One harness for all (``labelwise.multilabel_compare.compare_multilabel``, the function behind
``labelwise learn compare``): the six learners of issue 16 (mlcd, softcon, laso, kenet, ldam, patchct; a method not
merged yet is listed with its note), PU-MLC, BCE, one-vs-rest logistic regression and the PTEC-style head, each with
its own decision rule (see the module's docstring: every threshold is chosen on training data only).

Data: NLU++ (``../shared/datasets/nlupp``; Casanueva et al., Findings of NAACL 2022), the paper's protocol
(``labelwise.data.nlupp``):

- ``<domain>-low``: train on 1 fold (~100 banking / ~50 hotels utterances), test on the other 19; runs use folds
  0, 1, ..., runs-1.
- ``<domain>-large``: train on 18 folds, test on the fold pair (2i, 2i+1); runs use pairs 0, ..., runs-1.
- ``cross``: train on all of banking, test on all of hotels, scored on the 25 generic intents only; one split,
  ``runs`` seeds.

Each domain is scored on its own intents plus the generic ones (banking 48, hotels 40). Label texts for the methods
that embed them: the ontology's question-style descriptions ("is the intent to affirm something?"). Text features:
``TextEncoder`` (all-MiniLM-L6-v2 int8 ONNX, offline): sentence vectors (cached on disk) and word-level token
states, computed once for the whole run and shared by every setting and method. Model seed 0 in the fold settings
(the runs differ by their folds), seeds 0..runs-1 in ``cross``. torch runs on 1 thread.

Prints one table per setting: mean ± std over the runs of micro-F1, macro-F1 (labels with a test positive), macro mAP
(same labels) and the mean fit time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SETTINGS = ("banking-low", "banking-large", "hotels-low", "hotels-large", "cross")


class SharedEncoder:
    """A :class:`TextEncoder` whose sentence vectors and token states for ``texts`` are computed once; later calls
    for any of those texts read them back (token states are not cached on disk, and NLU++ is embedded in every
    setting). Other texts (the label descriptions) go to the encoder."""

    def __init__(self, texts: list[str]):
        from labelwise.features import TextEncoder

        self.inner = TextEncoder()
        self.row = {t: i for i, t in enumerate(texts)}
        self.texts = texts
        self.vectors = self.inner.encode(texts)
        self.tokens = None

    def _rows(self, texts) -> np.ndarray | None:
        rows = [self.row.get(t) for t in texts]
        return None if any(r is None for r in rows) else np.array(rows, dtype=np.int64)

    def encode(self, texts, progress=None) -> np.ndarray:
        rows = self._rows(texts)
        return self.inner.encode(list(texts)) if rows is None else self.vectors[rows]

    def encode_tokens(self, texts, *, words: bool = True, progress=None):
        rows = self._rows(texts)
        if rows is None:
            return self.inner.encode_tokens(list(texts))
        if self.tokens is None:
            t0 = time.perf_counter()
            self.tokens = self.inner.encode_tokens(self.texts)
            print(f"(token states for {len(self.texts)} texts: {time.perf_counter() - t0:.0f} s)", flush=True)
        return self.tokens[rows]


def settings(names: list[str], runs: int):
    """Yield (setting, texts, Y, label_names, label_texts, splits, seeds) for each chosen setting."""
    from labelwise.data.nlupp import (
        intent_matrix,
        load_nlupp,
        load_nlupp_ontology,
        nlupp_cross_domain,
        nlupp_intent_names,
        nlupp_splits,
    )

    root = SHARED / "nlupp"
    onto = load_nlupp_ontology(root)
    table = load_nlupp(root)

    def described(names_: list[str]) -> list[str]:
        return [onto["intents"][n].get("description") or n.replace("_", " ") for n in names_]

    for name in names:
        if name == "cross":
            intents = nlupp_intent_names(onto, generic_only=True)
            tr, te = nlupp_cross_domain(table, "banking", "hotels")
            yield (name, table["text"].tolist(), intent_matrix(table["intents"], intents), intents,
                   described(intents), [(tr, te)], list(range(runs)))
            continue
        domain, regime = name.split("-")
        part = table[table["domain"] == domain].reset_index(drop=True)
        intents = nlupp_intent_names(onto, domain)
        pairs = nlupp_splits(part, domain, regime)[:runs]
        yield (name, part["text"].tolist(), intent_matrix(part["intents"], intents), intents, described(intents),
               pairs, [0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="folds (pairs) per fold setting, seeds in 'cross' (default 3)")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--methods", default=None, help="comma-separated names (default: every registered method)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if not (SHARED / "nlupp").exists():
        print(f"NLU++ not found at {SHARED / 'nlupp'}", file=sys.stderr)
        return 2
    import torch

    from labelwise.data.nlupp import load_nlupp
    from labelwise.multilabel_compare import METHODS, compare_multilabel

    torch.set_num_threads(1)
    chosen = args.settings.split(",")
    unknown = sorted(set(chosen) - set(SETTINGS))
    if unknown:
        print(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}", file=sys.stderr)
        return 2
    methods = args.methods.split(",") if args.methods else None
    t_all = time.perf_counter()
    encoder = SharedEncoder(load_nlupp(SHARED / "nlupp")["text"].tolist())
    results = {"runs": args.runs}
    for name, texts, Y, intents, label_texts, splits, seeds in settings(chosen, args.runs):
        t0 = time.perf_counter()
        n_train = int(np.mean([len(tr) for tr, _ in splits]))
        n_test = int(np.mean([len(te) for _, te in splits]))
        print(f"\n{name}: {len(intents)} intents, train {n_train}, test {n_test}, {len(splits) * len(seeds)} runs")
        print(f"{'method':9s} {'micro-F1':>14s} {'macro-F1':>14s} {'mAP':>14s} {'fit s':>7s}", flush=True)
        results[name] = []
        for method in methods or list(METHODS):  # one at a time, so that each row prints when it is done
            row = compare_multilabel(texts, Y, intents, label_texts=label_texts, methods=[method], splits=splits,
                                     seeds=seeds, encoder=encoder, n_threads=1).to_dict("records")[0]
            results[name].append(row)
            if not row["runs"]:
                print(f"{method:9s} {row['note']}", flush=True)
                continue
            cells = [f"{100 * row[m]:6.2f} ± {100 * row[m + '_std']:5.2f}" for m in ("micro_f1", "macro_f1", "mAP")]
            print(f"{method:9s} " + " ".join(f"{c:>14s}" for c in cells) + f" {row['fit_seconds']:7.1f}"
                  + (f"  ({row['note']})" if row["note"] else ""), flush=True)
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
