"""Benchmark: LaSO (paper 35) on digit mosaics, the notes' redesigned check, several seeds.

    python bench/laso.py [--seeds 0,1,2] [--episodes 10] [--epochs 30]

Setup per seed (labelwise.testing.mosaics; digit images split 60/40 into disjoint pools):
- backbone: SoftConPretrainer without labels (InfoNCE), tile MLP 64 -> 128 -> 64 with ReLU, max-pooled over the
  4 tiles (non-negative features, like pooled CNN features), trained on 3,000 all-digit mosaics of pool 1;
- LaSO trained on the features of 3,000 mosaics of pool 1 that hold only the seen digits 0-6, with a frozen linear
  probe of the seen labels inside its loss; digits 7-9 are unseen. Two LaSOs: labelwise's default (prior as
  residual, anchored at the prior, w_prior = 1) and the paper's block and loss (prior as residual only, no
  anchor, w_prior = 0);
- evaluation mosaics: 3,000 from pool 2 (first 1,500: oracle training and few-shot draws; last 1,500: queries).

(i) Set-op quality: an oracle probe (one logistic regression per label) trained on real features of the first
1,500 evaluation mosaics scores 2,000 synthesised vectors from pairs of the other 1,500 (pairs that share a label
for intersection, uniform pairs otherwise); macro mAP against the operated label set, on the seen and the unseen
labels, for each LaSO, the analytic prior alone (a + b, min(a, b), ReLU(a - b)) and "input a only".
(ii) Few-shot on the unseen digits: k mosaics per unseen digit (k = 1, 5) from the first 1,500; a probe over the 3
unseen labels on the real few-shot features, alone or plus 200 union vectors of random pairs of them (each LaSO,
or the analytic union); macro mAP over the 3 unseen labels on the last 1,500 mosaics; ``--episodes`` draws per seed.
Pass criterion of the notes: LaSO >= prior on seen ops, >= 0.9 x prior on unseen union / intersection, 1-shot
mAP with LaSO-union augmentation >= real only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SEEN = 7
OPS = ("union", "intersection", "subtraction")


def macro_map(Y: np.ndarray, S: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    keep = Y.sum(0) > 0
    return float(average_precision_score(Y[:, keep], S[:, keep], average="macro"))


def setup(seed: int, epochs: int) -> dict:
    """Backbone features, the two LaSOs and the evaluation split for one seed."""
    from labelwise.learn import LaSO, SoftConPretrainer
    from labelwise.testing.mosaics import digit_mosaics, load_digit_pool, split_digits

    _, digits = load_digit_pool()
    pools = split_digits((0.6, 0.4), seed=seed)
    backbone = SoftConPretrainer(pool="max", random_state=seed).fit(digit_mosaics(3000, pool=pools[0],
                                                                                  seed=seed).patches)
    train = digit_mosaics(3000, pool=pools[0][digits[pools[0]] < SEEN], seed=seed + 1)
    F_train, Y_seen = backbone.transform(train.patches), train.Y[:, :SEEN]
    import torch

    lasos = {}
    for name, anchor, w_prior in (("LaSO (labelwise)", True, 1.0), ("LaSO (paper block)", False, 0.0)):
        t = time.perf_counter()
        torch.manual_seed(seed)
        lasos[name] = LaSO(F_train.shape[1], anchor=anchor).fit(F_train, Y_seen, epochs=epochs, w_prior=w_prior,
                                                               random_state=seed)
        print(f"  seed {seed} {name} fit {time.perf_counter() - t:.1f} s", flush=True)
    ev = digit_mosaics(3000, pool=pools[1], seed=seed + 2)
    return {"lasos": lasos, "F": backbone.transform(ev.patches), "Y": ev.Y}


def set_op_quality(s: dict, seed: int) -> dict[tuple[str, str], tuple[float, float]]:
    """{(op, arm): (seen mAP, unseen mAP)}."""
    from labelwise.learn import LinearProbe, analytic_set_op, label_set_op
    from labelwise.learn.laso import _sample_pairs

    F_, Y = s["F"], s["Y"]
    oracle = LinearProbe().fit(F_[:1500], Y[:1500])
    Fq, Yq = F_[1500:], Y[1500:]
    rng = np.random.default_rng(seed)
    out = {}
    for op in OPS:
        ia, ib = _sample_pairs(Yq, 2000, "overlap" if op == "intersection" else "uniform", rng)
        target = label_set_op(Yq[ia], Yq[ib], op)
        arms = {name: laso.synthesize(Fq[ia], Fq[ib], op) for name, laso in s["lasos"].items()}
        arms["analytic prior"] = analytic_set_op(Fq[ia], Fq[ib], op)
        arms["input a only"] = Fq[ia]
        for name, feats in arms.items():
            P = oracle.predict_proba(feats)
            out[(op, name)] = (macro_map(target[:, :SEEN], P[:, :SEEN]), macro_map(target[:, SEEN:], P[:, SEEN:]))
    return out


def few_shot(s: dict, seed: int, shots: int, episodes: int) -> dict[str, list[float]]:
    """{arm: [unseen mAP per episode]}."""
    from labelwise.learn import LaSOAugmenter, LinearProbe

    F_, Y = s["F"], s["Y"]
    arms: dict = {"real only": None, **{f"+ {n} union": laso for n, laso in s["lasos"].items()},
                  "+ analytic union": "prior"}
    out: dict[str, list[float]] = {name: [] for name in arms}
    for ep in range(episodes):
        rng = np.random.default_rng(1000 * seed + ep)
        rows = np.unique(np.concatenate([rng.choice(np.flatnonzero(Y[:1500, d]), shots, replace=False)
                                         for d in range(SEEN, 10)]))
        Xs, Ys = F_[rows], Y[rows][:, SEEN:]
        for name, laso in arms.items():
            if laso is None:
                Xg, Yg = Xs, Ys
            else:
                Xg, Yg = LaSOAugmenter(laso, n_pairs=200, random_state=ep).fit_resample(Xs, Ys)
            P = LinearProbe().fit(Xg, Yg).predict_proba(F_[1500:])
            out[name].append(macro_map(Y[1500:, SEEN:], P))
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(x) for x in args.seeds.split(",")]
    t_all = time.perf_counter()
    quality, shots = [], {1: [], 5: []}
    for seed in seeds:
        s = setup(seed, args.epochs)
        quality.append(set_op_quality(s, seed))
        for k in shots:
            shots[k].append(few_shot(s, seed, k, args.episodes))
    arms = list(dict.fromkeys(name for (_, name) in quality[0]))
    print(f"\n(i) set-op quality: oracle-probe macro mAP of the operated label set, seen / unseen labels "
          f"(mean over seeds {seeds})")
    print(f"{'op':14s} " + " ".join(f"{a:>22s}" for a in arms))
    for op in OPS:
        cells = []
        for a in arms:
            v = np.array([q[(op, a)] for q in quality])
            cells.append(f"{v[:, 0].mean():.3f} / {v[:, 1].mean():.3f}")
        print(f"{op:14s} " + " ".join(f"{c:>22s}" for c in cells))
    for name in arms[:2]:
        for op in OPS:
            d = np.array([np.subtract(q[(op, name)], q[(op, "analytic prior")]) for q in quality])
            r = np.array([q[(op, name)][1] / q[(op, "analytic prior")][1] for q in quality])
            print(f"  {name} - prior, {op}: seen {d[:, 0].mean():+.3f} (min {d[:, 0].min():+.3f}), unseen "
                  f"{d[:, 1].mean():+.3f}; unseen ratio {r.mean():.3f} (min {r.min():.3f})")
    print(f"\n(ii) few-shot on the unseen digits 7-9: macro mAP, mean +- std over {len(seeds)} seeds x "
          f"{args.episodes} episodes")
    names = list(shots[1][0])
    print(f"{'arm':30s} {'1-shot':>16s} {'5-shot':>16s}")
    for name in names:
        cells = []
        for k in shots:
            v = np.concatenate([r[name] for r in shots[k]])
            cells.append(f"{v.mean():.3f} +- {v.std():.3f}")
        print(f"{name:30s} " + " ".join(f"{c:>16s}" for c in cells))
    for name in names[1:]:
        for k in shots:
            d = np.array([np.mean(r[name]) - np.mean(r["real only"]) for r in shots[k]])
            print(f"  {name} - real only, {k}-shot: {d.mean():+.3f} (per seed {', '.join(f'{x:+.3f}' for x in d)})")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
