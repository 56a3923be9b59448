"""One review round end to end, as a user runs it: audit 200 Banking77 rows (4 classes, 20 labels flipped at random),
let a simulated reviewer give every flagged row its true label, and `labelwise audit --reviewed` the folder; prints
the re-audit's change report (the example in docs/audit.md).

    python bench/review_round.py [--rows-per-class 50] [--flips 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from labelwise.audit.result import AuditResult
from labelwise.cli.main import main
from labelwise.review.project import open_audit_project

KEEP = ["card_arrival", "pin_blocked", "exchange_rate", "top_up_failed"]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "banking77" / "train.csv"


def run(rows_per_class: int, flips: int, seed: int) -> None:
    train = pd.read_csv(DATA)
    table = train[train["category"].isin(KEEP)].groupby("category").head(rows_per_class).reset_index(drop=True)
    truth = table["category"].copy()
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(table), flips, replace=False):
        table.loc[i, "category"] = rng.choice([c for c in KEEP if c != truth[i]])
    with tempfile.TemporaryDirectory() as tmp:
        data, first = Path(tmp) / "small.csv", Path(tmp) / "audit"
        table.to_csv(data, index=False)
        assert main(["audit", str(data), "--label", "category", "--text", "text", "--encoder", "hashing",
                     "--seed", str(seed), "--out", str(first), "--quiet", "--show", "0"]) == 0
        before = AuditResult.load(first)
        store, pid, _ = open_audit_project(first, audit=before)
        for view in store.queue(pid, limit=len(table)):
            if before.is_issue[view.row]:
                right = truth[view.row] == view.current_labels[0]
                store.decide(view.id, decision="keep" if right else "relabel", labels=[truth[view.row]],
                             author="simulated", expected_version=0)
        store.dispose()
        print(f"--- labelwise audit --reviewed ({len(table)} rows, {flips} flipped, seed {seed})")
        assert main(["audit", "--reviewed", str(first), "--quiet", "--show", "0"]) == 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-class", type=int, default=50)
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run(args.rows_per_class, args.flips, args.seed)
