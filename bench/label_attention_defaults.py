"""How the learning-rate and threshold defaults of KeNetClassifier and LabelAttentionModel were chosen: on the
synthetic EHR only (labelwise.testing.ehr, seeds 100-101, never the benchmark seeds or a shared dataset).

    python bench/label_attention_defaults.py [--threads 1] [--seeds 100,101]

KeNet: 200 training notes (a few hundred rows is KeNet's target case), label embeddings = the condition
descriptions; LDAM: 600 training patients with vitals, label embeddings = the names. Each learning rate with both
threshold modes ("tuned": per label; "global": one for all); test macro-AUROC and micro-F1 on 300 other patients.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", default="100,101")
    args = ap.parse_args(argv)
    import torch
    from sklearn.metrics import f1_score, roc_auc_score

    from labelwise.features import TextEncoder
    from labelwise.learn import KeNetClassifier, LabelAttentionModel
    from labelwise.learn.estimators import _val_split
    from labelwise.learn.heads import choose_thresholds
    from labelwise.testing.ehr import synthetic_ehr

    torch.set_num_threads(args.threads)
    enc = TextEncoder()
    print(f"{'learner':8s} {'lr':>7s} {'threshold':>9s} {'seed':>4s} {'AUROC':>6s} {'micro-F1':>8s} {'epochs':>6s}")
    for seed in [int(s) for s in args.seeds.split(",")]:
        data = synthetic_ehr(900, seed=seed)
        tokens = enc.encode_tokens(data.texts)
        te = np.arange(600, 900)
        for learner, tr in (("kenet", np.arange(200)), ("ldam", np.arange(600))):
            for lr in (1e-3, 3e-3, 1e-2):
                if learner == "kenet":
                    model = KeNetClassifier(label_embeddings=enc.encode(list(data.label_descriptions)), lr=lr,
                                            threshold="tuned", random_state=seed, n_threads=args.threads)
                    model.fit(tokens[tr], data.Y[tr])
                    scores = model.predict_proba(tokens[te])
                else:
                    model = LabelAttentionModel(label_embeddings=enc.encode(list(data.label_names)), lr=lr,
                                                threshold="tuned", random_state=seed, n_threads=args.threads)
                    model.fit(tokens[tr], data.Y[tr], series=data.series[tr])
                    scores = model.predict_proba(tokens[te], data.series[te])
                auroc = roc_auc_score(data.Y[te], scores, average="macro")
                # the fit's own validation rows (the split is a function of the seed), for both threshold modes
                va = tr[_val_split(len(tr), model.validation_fraction, np.random.default_rng(seed))[1]]
                pv = (model.predict_proba(tokens[va]) if learner == "kenet"
                      else model.predict_proba(tokens[va], data.series[va]))
                for mode in ("tuned", "global"):
                    thresholds = choose_thresholds(mode, pv, data.Y[va], data.Y.shape[1])
                    f1 = f1_score(data.Y[te], scores >= thresholds, average="micro", zero_division=0)
                    print(f"{learner:8s} {lr:7.0e} {mode:>9s} {seed:4d} {auroc:6.3f} {f1:8.3f} {model.n_epochs_:6d}")
                    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
