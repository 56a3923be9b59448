"""Check: SoftConClassifier and LaSOClassifier at their defaults on real multi-label text (not used to set them).

    python bench/softcon_laso_nlupp.py [--low-runs 3] [--large-runs 1]

NLU++ BANKING intents (48 labels; ../shared/datasets/nlupp), MiniLM sentence embeddings (384-d, labelwise's
TextEncoder, cached); the paper's "low" setting (train on 1 fold of ~100 utterances, test on the other 19: most
intents have 0-5 training examples, LaSO's few-shot regime) and "large" (18 folds -> 2). Methods: the plain linear
probe on the embeddings (the reference both build on), SoftConClassifier with probe_input "both" (default) and
"learned" (the paper's probe on the learned features only), LaSOClassifier (LaSO fitted on the table, 200 union
rows from pairs drawn towards rare labels) and LaSOClassifier(laso="prior") (analytic union rows). Macro mAP over
the intents with a test positive, micro-F1 at 0.5, fit seconds; mean over runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from learn import macro_map, micro_macro_f1, nlupp_banking  # bench/learn.py


def main(argv: list[str] | None = None) -> int:
    import torch

    from labelwise.data.nlupp import nlupp_splits
    from labelwise.learn import LaSOClassifier, LinearProbe, SoftConClassifier

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--low-runs", type=int, default=3)
    ap.add_argument("--large-runs", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    table, X, Y = nlupp_banking()
    methods = {
        "linear probe (reference)": lambda s: LinearProbe(),
        "SoftConClassifier (both)": lambda s: SoftConClassifier(random_state=s, n_threads=1),
        "SoftConClassifier (learned)": lambda s: SoftConClassifier(probe_input="learned", random_state=s,
                                                                   n_threads=1),
        "LaSOClassifier": lambda s: LaSOClassifier(random_state=s, n_threads=1),
        "LaSOClassifier (prior)": lambda s: LaSOClassifier(laso="prior", random_state=s, n_threads=1),
    }
    t_all = time.perf_counter()
    for setting, n_runs in (("low", args.low_runs), ("large", args.large_runs)):
        runs = nlupp_splits(table, "banking", setting)[:n_runs]
        rows = {name: [] for name in methods}
        for r, (tr, te) in enumerate(runs):
            for name, make in methods.items():
                t = time.perf_counter()
                model = make(r).fit(X[tr], Y[tr])
                secs = time.perf_counter() - t
                P = model.predict_proba(X[te])
                rows[name].append((100 * macro_map(Y[te], P), 100 * micro_macro_f1(Y[te], (P >= 0.5).astype(int))[0],
                                   secs))
                print(f"  {setting} run {r} {name:30s} mAP {rows[name][-1][0]:5.1f} micro-F1 {rows[name][-1][1]:5.1f}"
                      f" {secs:6.1f} s", flush=True)
        print(f"\nNLU++ BANKING, {setting} setting ({len(runs)} runs, {len(tr)} training rows in the last): mean")
        print(f"{'method':32s} {'mAP':>6s} {'micro-F1':>9s} {'fit s':>7s}")
        for name, vals in rows.items():
            v = np.array(vals).mean(0)
            print(f"{name:32s} {v[0]:6.1f} {v[1]:9.1f} {v[2]:7.1f}")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
