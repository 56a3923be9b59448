"""Benchmark: the label shift adapter (paper 5, Park et al., ICCV 2023) against the closed-form fix, TENT and their
compositions, the notes' experiment (papers-01-13.md, section 5.4), at full size.

    python bench/label_shift_adapter.py [--seeds 0,1,2] [--orders 5] [--adapter-steps 2000] [--prior-update em]
                                        [--adapter-heldout 0.3] [--json FILE]

Per seed (tests/learn/label_shift_adapter_experiment.py, which the claim test runs at a smaller size): digits, a
source long-tailed at ratio 10, the MLP 64-128-BN-ReLU-10 and its adapter trained on it (with --adapter-heldout,
the adapter on that share of the source and the model on the rest); streams of 1,024 rows of
the held-out 30 % under a covariate shift (contrast x0.6, Gaussian noise 0.15) and a label shift of ratio 1, 10 or
50 over a random class order, batches of 32. Every arm sees the same streams and the same prior estimator. Prints,
per target ratio and arm, accuracy, balanced accuracy and the prior estimate's mean L1 error, as mean +- std over
seeds (each seed's figure is the mean over its orders).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--orders", type=int, default=5, help="class orders (streams) per target ratio and seed")
    ap.add_argument("--adapter-steps", type=int, default=2000)
    ap.add_argument("--prior-update", default="em", choices=("em", "online"))
    ap.add_argument("--adapter-heldout", type=float, default=0.0, help="share of the source held out from the model "
                    "to train the adapter on (default 0: the model's own rows, as the notes)")
    ap.add_argument("--json", default=None, help="also write every stream's figures here")
    args = ap.parse_args()

    import torch

    from tests.learn.label_shift_adapter_experiment import ARMS, Config, run_seed, summarise

    torch.set_num_threads(1)
    cfg = Config(orders=args.orders, adapter_steps=args.adapter_steps, prior_update=args.prior_update,
                 adapter_heldout=args.adapter_heldout)
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    rows = [row for seed in seeds for row in run_seed(seed, cfg)]
    summary = summarise(rows)
    rows_of_adapter = f"a held-out {cfg.adapter_heldout} of the source" if cfg.adapter_heldout else "the model rows"
    print(f"label shift adapter, digits, {len(seeds)} seeds x {cfg.orders} orders, stream {cfg.stream_rows} rows, "
          f"batch {cfg.batch_size}, adapter {cfg.adapter_steps} steps on {rows_of_adapter}, "
          f"prior update {cfg.prior_update}")
    print(f"{'rho_t':>5}  {'arm':<18} {'accuracy':>15} {'balanced acc':>15} {'prior L1':>15}")
    for rho in cfg.rho_targets:
        for arm in ARMS:
            m = summary[(rho, arm)]
            cells = "".join(f" {m[k][0]:>7.3f} +- {m[k][1]:.3f}" for k in ("accuracy", "balanced_accuracy",
                                                                          "prior_l1"))
            print(f"{rho:>5.0f}  {arm:<18}{cells}")
        print()
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
