"""TnT-LLM end to end on Banking77 with the true intents hidden: induce a taxonomy, label a sample with the LLM,
distil into a classifier, label the corpus; then compare with the 77 true intents.

    python bench/taxonomy_banking77.py [--model PATH.gguf] [--chat] [--texts 120] [--llm-rows 250] [--threads 2]

The corpus is Banking77's test split (3,080 customer messages). Phase 1 reads ``--texts`` of them (seeded sample,
minibatches of 40, at most 25 categories); phase 2 lets the LLM label ``--llm-rows`` rows (20 % held out to
measure classifier/LLM agreement) and a logistic regression on MiniLM embeddings labels all 3,080. Figures:
adjusted mutual information (AMI) with the true intents, the share of true intents matched by some generated
label (mutual best Jaccard match), purity, LLM calls per row, seconds per row. Peers in the same run: k-means on
the same embeddings with as many clusters as the taxonomy has labels (TnT-LLM's clustering baseline) and with the
true number, 77 (a reference that knows what the method is not told). Answers are cached ($LABELWISE_CACHE_DIR).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from labelwise.features import TextEncoder
from labelwise.generate.clusters import cluster_texts
from labelwise.generate.distill import DistilledClassifier, label_with_taxonomy
from labelwise.generate.evaluate import taxonomy_alignment
from labelwise.generate.taxonomy import induce_taxonomy
from labelwise.llm import open_backend

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "banking77"
USE_CASE = "the intent of a bank customer's message"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a GGUF file (default: the packaged Gemma 3 270M)")
    parser.add_argument("--chat", action="store_true", help="chat prompts (instruction-tuned models)")
    parser.add_argument("--texts", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--max-labels", type=int, default=25)
    parser.add_argument("--llm-rows", type=int, default=250)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--phase1-only", action="store_true", help="stop after the taxonomy (phase 1)")
    args = parser.parse_args()

    corpus = pd.read_csv(SHARED / "test.csv")
    texts, truth = corpus["text"].astype(str).tolist(), corpus["category"].astype(str).to_numpy()
    backend = open_backend(args.model, threads=args.threads, n_ctx=8192)
    encoder = TextEncoder()
    report: dict = {"model": backend.model, "corpus_rows": len(texts), "true_intents": int(len(set(truth))),
                    "settings": vars(args)}

    started = time.perf_counter()
    taxonomy = induce_taxonomy(texts, backend, use_case=USE_CASE, max_labels=args.max_labels,
                               sample_size=args.texts, batch_size=args.batch_size, chat=args.chat, attempts=2,
                               encoder=encoder, random_state=args.seed)
    report["phase1"] = {"seconds": time.perf_counter() - started, "labels": taxonomy.names,
                        "descriptions": taxonomy.definitions(), "llm_calls": taxonomy.settings["llm_calls"],
                        "fallback": taxonomy.settings["fallback"], "repairs": taxonomy.settings["repairs"],
                        "fallback_reason": taxonomy.settings["fallback_reason"],
                        "seconds_per_call": taxonomy.settings["seconds_per_call"]}
    print(f"phase 1: {len(taxonomy)} labels in {report['phase1']['seconds']:.0f} s, "
          f"{taxonomy.settings['llm_calls']} model calls (fallback: {taxonomy.settings['fallback']}): "
          f"{', '.join(taxonomy.names)}", flush=True)
    if taxonomy.settings["fallback_reason"]:
        print(f"  {taxonomy.settings['fallback_reason']}")
    if args.phase1_only:
        return

    started = time.perf_counter()
    labelled = label_with_taxonomy(texts, taxonomy, backend=backend, sample=args.llm_rows, holdout=0.2,
                                   encoder=encoder, random_state=args.seed)
    report["phase2"] = {"seconds": time.perf_counter() - started, **labelled.metrics,
                        "llm_answers_from_cache": backend.usage.cached}  # timings mean little when cached
    llm_rows = np.array([i for i, v in enumerate(labelled.llm_label) if v is not None])
    llm_labels = [labelled.llm_label[i] for i in llm_rows]
    classifier = np.asarray(labelled.label, dtype=object)

    vectors = encoder.encode(texts)
    k = len(labelled.classes)
    same_k, _ = cluster_texts(vectors, k, random_state=args.seed)
    true_k, _ = cluster_texts(vectors, len(set(truth)), random_state=args.seed)
    # the classifier on the LLM's rows without having seen them: 5-fold out-of-fold predictions
    out_of_fold = np.empty(len(llm_rows), dtype=object)
    for train, test in KFold(5, shuffle=True, random_state=args.seed).split(llm_rows):
        model = DistilledClassifier(encoder, C=labelled.metrics["classifier_C"], random_state=args.seed)
        model.fit([texts[i] for i in llm_rows[train]], [llm_labels[i] for i in train])
        out_of_fold[test] = model.predict([texts[i] for i in llm_rows[test]])
    rows = {
        "LLM labels (its sample)": taxonomy_alignment(truth[llm_rows], llm_labels),
        "distilled, out-of-fold (same sample)": taxonomy_alignment(truth[llm_rows], out_of_fold),
        "distilled classifier (all rows)": taxonomy_alignment(truth, classifier),
        f"k-means, k={k} (all rows)": taxonomy_alignment(truth, same_k),
        f"k-means, k={len(set(truth))} = true count (all rows)": taxonomy_alignment(truth, true_k),
    }
    report["alignment"] = rows
    print(f"\n{backend.model}: {len(texts):,} Banking77 test messages, 77 true intents hidden")
    print(f"{'labels':<44} {'rows':>6} {'labels':>6} {'AMI':>6} {'matched':>8} {'purity':>7}")
    for name, r in rows.items():
        print(f"{name:<44} {r['rows']:>6} {r['predicted_labels']:>6} {r['ami']:>6.3f} "
              f"{r['matched_share']:>8.3f} {r['purity']:>7.3f}")
    held = labelled.metrics.get("heldout_agreement", {})
    print(f"\nclassifier vs LLM on {held.get('rows', 0)} held-out LLM-labelled rows: accuracy "
          f"{held.get('accuracy', float('nan')):.3f}, kappa {held.get('cohen_kappa', float('nan')):.3f}")
    m = labelled.metrics
    print(f"LLM: {m['llm_calls']} calls for {m['llm_labelled_rows']} rows ({backend.usage.cached} answers in all "
          f"from the cache), {m['llm_seconds_per_row']:.2f} s/row; "
          f"classifier {m['classifier_seconds_per_row'] * 1000:.2f} ms/row ({m.get('speedup_per_row', 0):,.0f}x); "
          f"LLM calls per corpus row {m['llm_calls_per_row']:.3f}")
    print(f"ratio AMI distilled / k-means same k: "
          f"{rows['distilled classifier (all rows)']['ami'] / max(rows[f'k-means, k={k} (all rows)']['ami'], 1e-9):.2f}")
    out = Path(args.json or f"bench/results/taxonomy_banking77_{Path(args.model).stem if args.model else 'gemma'}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
