"""The LLM judge ("Are LLMs Better than Reported?") against confident learning, and both combined, on Banking77
with 10% of the labels flipped at random.

    python bench/llm_judge.py [--rows 300] [--intents 10] [--threads 2] [--server URL]

A random subset of intents and ``--rows`` of their training queries; 10% of the labels flipped to another intent of
the subset (the known truth). Confident learning's label quality comes from labelwise's audit (MiniLM embeddings,
out-of-fold logistic regression); the judge asks the default local model three yes/no prompts per row. Reported:
AUROC for finding the flipped rows, for each score and for their rank mean.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import labelwise
from labelwise.audit.llm_judge import combine_with_confident_learning, judge_labels
from labelwise.data.corruption import flip_labels
from labelwise.llm import open_backend

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "banking77"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--intents", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="bench/results/llm_judge.json")
    args = parser.parse_args()

    train = pd.read_csv(SHARED / "train.csv")
    rng = np.random.default_rng(args.seed)
    intents = sorted(rng.choice(sorted(train["category"].unique()), size=args.intents, replace=False))
    data = train[train["category"].isin(intents)].sample(args.rows, random_state=args.seed).reset_index(drop=True)
    data["category"] = data["category"].str.replace("_", " ")
    classes = sorted(data["category"].unique())
    codes = np.array([classes.index(c) for c in data["category"]])
    noisy_codes, flipped = flip_labels(codes, 0.10, len(classes), random_state=args.seed)
    noisy = [classes[c] for c in noisy_codes]
    data["noisy"] = noisy
    t0 = time.perf_counter()
    audit = labelwise.audit_dataset(data, label="noisy", text="text")
    cl_seconds = time.perf_counter() - t0
    backend = open_backend(server=args.server, threads=args.threads)
    t0 = time.perf_counter()
    yes = judge_labels(list(data["text"]), list(data["noisy"]), backends=[backend], classes=sorted(set(noisy)))
    judge_seconds = time.perf_counter() - t0
    quality = audit.label_quality
    combined = combine_with_confident_learning(quality, yes)
    result = {"rows": args.rows, "flipped": int(flipped.sum()), "model": backend.model, "intents": intents,
              "auroc_confident_learning": roc_auc_score(flipped, -quality),
              "auroc_llm_judge": roc_auc_score(flipped, -yes),
              "auroc_combined": roc_auc_score(flipped, -combined),
              "confident_learning_seconds": cl_seconds, "judge_seconds": judge_seconds}
    print(json.dumps(result, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
