"""Domain-context calibration (Fei et al. 2023) against contextual calibration and none, on Banking77.

    python bench/llm_calibration.py [--intents 10] [--per-class 20] [--shots 4] [--threads 2] [--server URL]

A subset of Banking77's intents (chosen at random with a fixed seed, not by hand), ``--per-class`` test queries
of each, labelled by the default local model (Gemma 3 270M base, llama.cpp) by label scoring: zero-shot and
``--shots``-shot with one fixed class-balanced demonstration set drawn from the training split. For each, macro-F1
of the raw probabilities, contextual calibration ("N/A", "", "[MASK]") and domain-context calibration (20 draws of
random Banking77 words). Answers are cached (``$LABELWISE_CACHE_DIR``), so a rerun is quick.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from labelwise.generate.annotate import _fixed_demos, build_prompt
from labelwise.llm import open_backend
from labelwise.llm.calibration import calibrate, content_free_prior, domain_context_prior
from labelwise.llm.scoring import label_probabilities

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "banking77"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="bench/results/llm_calibration.json")
    args = parser.parse_args()

    train, test = pd.read_csv(SHARED / "train.csv"), pd.read_csv(SHARED / "test.csv")
    rng = np.random.default_rng(args.seed)
    intents = sorted(rng.choice(sorted(train["category"].unique()), size=args.intents, replace=False))
    labels = [i.replace("_", " ") for i in intents]  # label words the model can read
    name = dict(zip(intents, labels))
    test = test[test["category"].isin(intents)].groupby("category", group_keys=False).apply(
        lambda g: g.sample(min(len(g), args.per_class), random_state=args.seed))
    pool = train[train["category"].isin(intents)]
    truth = [name[c] for c in test["category"]]
    backend = open_backend(server=args.server, threads=args.threads)
    rows = []
    for shots in (0, args.shots):
        demos = tuple(_fixed_demos(list(pool["text"]), [name[c] for c in pool["category"]], shots, args.seed))

        def make(x, demos=demos):
            return build_prompt(x, labels, demos)

        t0 = time.perf_counter()
        raw = label_probabilities(backend, [make(t) for t in test["text"]], labels)
        seconds = time.perf_counter() - t0
        priors = {"none": None, "contextual": content_free_prior(backend, make, labels),
                  "domain-context": domain_context_prior(backend, make, labels, list(train["text"]), n_draws=20,
                                                         random_state=args.seed)}
        for method, prior in priors.items():
            probs = raw if prior is None else calibrate(raw, prior)
            predicted = [labels[j] for j in probs.argmax(axis=1)]
            rows.append({"shots": shots, "calibration": method,
                         "macro_f1": f1_score(truth, predicted, average="macro", labels=labels, zero_division=0),
                         "accuracy": float(np.mean(np.array(predicted) == np.array(truth))),
                         "labelling_seconds": seconds, "rows": len(truth)})
    print(f"\nBanking77, {args.intents} intents x {args.per_class} test queries, model: {backend.model}")
    print(f"intents: {', '.join(intents)}")
    print(f"{'shots':>5}  {'calibration':<15}{'macro-F1':>9}{'accuracy':>9}")
    for r in rows:
        print(f"{r['shots']:>5}  {r['calibration']:<15}{r['macro_f1']:>9.3f}{r['accuracy']:>9.3f}")
    print(f"chance: {1 / args.intents:.3f}; model calls {backend.usage.calls}, cached {backend.usage.cached}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"intents": intents, "model": backend.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
