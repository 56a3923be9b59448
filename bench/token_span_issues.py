"""Benchmark: span issue types (``labelwise.audit.token_classification.spans.span_issue_types``) against planted
corruption, on synthetic BIO sentences and on NLU++ slots.

    python bench/token_span_issues.py [--seeds 0,1,2] [--rate 0.15] [--peaks 12,4,2]

Data: (a) 2,000 synthetic sentences of 8..20 tokens with 1..3 spans of 3 types (``random_bio``); (b) the 1,263
NLU++ utterances with slots (17 slot types), whitespace-tokenised, a token in a slot when their characters overlap.
Per seed, each true span is corrupted with probability ``--rate`` (type swapped, one edge shifted by a token, or
dropped: ``labelwise.testing.span_noise.corrupt_spans``); pred_probs are simulated from the TRUE tags (Dirichlet,
``peak`` on the true tag plus 3 spread over all classes: mean true-tag probability peak / (peak + 3)), so a lower
peak is a weaker model. Prints precision and recall of each planted issue type (mean over seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from labelwise.audit.token_classification.spans import span_issue_types
from labelwise.testing.span_noise import (bio_class_names, corrupt_spans, nlupp_slot_bio, random_bio,
                                          score_span_issues, simulate_pred_probs)

NLUPP = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nlupp"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rate", type=float, default=0.15)
    parser.add_argument("--peaks", default="12,4,2")
    args = parser.parse_args()
    from labelwise.data.nlupp import load_nlupp

    _, nlupp_tags, nlupp_types = nlupp_slot_bio(load_nlupp(NLUPP))
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"rate {args.rate}, seeds {seeds}; precision / recall per planted issue type")
    print(f"{'data':<12}{'peak':>5}  {'wrong_type':>14}{'wrong_boundary':>16}{'missed_span':>14}")
    for data in ("synthetic", "nlupp"):
        for peak in (float(p) for p in args.peaks.split(",")):
            table = []
            for seed in seeds:
                rng = np.random.default_rng(seed)
                if data == "synthetic":
                    tags, types = random_bio(rng, 2000, 3), ["PER", "LOC", "ORG"]
                else:
                    tags, types = nlupp_tags, nlupp_types
                names = bio_class_names(types)
                given, planted = corrupt_spans(rng, tags, len(types), rate=args.rate)
                pred_probs = simulate_pred_probs(rng, tags, len(names), peak=peak)
                scores = score_span_issues(span_issue_types(given, pred_probs, names), planted)
                table.append([scores[k][:2] for k in ("wrong_type", "wrong_boundary", "missed_span")])
            mean = np.mean(table, axis=0)
            cells = "".join(f"{f'{p:.2f} / {r:.2f}':>{w}}" for (p, r), w in zip(mean, (14, 16, 14)))
            print(f"{data:<12}{peak:>5.0f}  {cells}")


if __name__ == "__main__":
    main()
