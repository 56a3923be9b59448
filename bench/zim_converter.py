"""Benchmark: ZIM's label converter (paper 1), the notes' verification experiment (section 1.4) at CPU scale.

    python bench/zim_converter.py [--size 32] [--n-train 3000] [--n-test 300] [--steps 1500] [--batch-size 16]
                                  [--base 8] [--lr 3e-3] [--morph-max 1] [--threads 1] [--seed 0] [--json out.json]

Data (labelwise.assign.procedural_mattes, no download): ``n_train`` procedural ``size`` x ``size`` composites, 75 %
fine objects (a body with hair-like strands, genuinely fractional alpha) and 25 % coarse ones (crisp polygons and
digits, alpha = the segment). The fine ones are the matting pairs; the coarse ones play "ordinary segmentation
data", used only by STL. Three test sets of ``n_test`` each, drawn with other seeds:
  fine     whole fine objects, segment S = seg_from_alpha(alpha) (random threshold + random open/close by a disk
           of radius up to ``morph_max``: the notes' 5 px at 512 px scaled to the image, 1 at 32 px);
  partial  fine objects cut by a random box, the same box on S and alpha (SGA with p = 1: SA-1B-like parts);
  coarse   crisp objects with S = alpha; the error is against S (the "don't touch" error: a coarse object's
           segment should come back unchanged).
Methods (same data): (a) identity alpha = S; (b) feathering (sigma 1.5); (c) guided filter (radius 4, eps 1e-3);
(d) converter without SGA or STL; (e) + SGA (p 0.5); (f) + SGA + STL (a quarter of each batch from the coarse pairs,
target = input). The converters: TinyUNet(4, 1, base, depth 3), ``steps`` Adam steps of ``batch_size``, lr 3e-3
with cosine decay (1e-3, the notes' value, had learned a third as much after 300 steps), L1 + Sobel-gradient loss, one seed.
Metrics (ZIM's eval code scales): MSE x1e3 and Grad x1e3 per set; SAD, MAD and Conn in the JSON.
The notes expect (d-f) at least 2x below (a-c) on fine objects, (e) below (d) on partial objects, (f) below (e) on
the coarse set without losing on fine objects.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from labelwise.assign.matte_baselines import feather_matte, guided_filter_matte
from labelwise.assign.matte_converter import MatteLabelConverter, seg_from_alpha, spatial_generalization_augment
from labelwise.assign.matting_metrics import matting_metrics
from labelwise.assign.procedural_mattes import synthetic_mattes

SETS = ("fine", "partial", "coarse")


def test_sets(n: int, size: int, seed: int, morph_max: int) -> dict:
    """{set: (images, segments, targets)}; each set with its own seeds."""
    rng = np.random.default_rng(seed + 1000)
    fine = synthetic_mattes(n, size, fine_fraction=1.0, seed=seed + 1001)
    segs = np.stack([seg_from_alpha(a, rng, morph_max=morph_max) for a in fine.alphas])
    part = synthetic_mattes(n, size, fine_fraction=1.0, seed=seed + 1002)
    cut = [spatial_generalization_augment(seg_from_alpha(a, rng, morph_max=morph_max), a, rng, p=1.0)
           for a in part.alphas]
    coarse = synthetic_mattes(n, size, fine_fraction=0.0, seed=seed + 1003)
    return {"fine": (fine.images, segs, fine.alphas),
            "partial": (part.images, np.stack([c[0] for c in cut]), np.stack([c[1] for c in cut])),
            "coarse": (coarse.images, coarse.alphas.copy(), coarse.alphas)}


def scores(predict, sets: dict) -> dict:
    out = {}
    for name, (images, segs, targets) in sets.items():
        t = time.perf_counter()
        pred = predict(images, segs)
        out[name] = matting_metrics(pred, targets)
        out[name]["seconds"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--base", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--morph-max", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    train = synthetic_mattes(args.n_train, args.size, fine_fraction=0.75, seed=args.seed)
    fine = train.kinds == "fine"
    sets = test_sets(args.n_test, args.size, args.seed, args.morph_max)
    print(f"data: {fine.sum()} matting pairs + {(~fine).sum()} coarse pairs, {args.size}x{args.size}, "
          f"{len(SETS)} x {args.n_test} test images ({time.perf_counter() - t0:.0f} s)", flush=True)

    results = {
        "(a) identity": scores(lambda im, s: s, sets),
        "(b) feathering": scores(lambda im, s: np.stack([feather_matte(x) for x in s]), sets),
        "(c) guided filter": scores(lambda im, s: np.stack([guided_filter_matte(i, x) for i, x in zip(im, s)]), sets),
    }
    arms = {"(d) converter": dict(sga_prob=0.0, stl=False), "(e) + SGA": dict(sga_prob=0.5, stl=False),
            "(f) + SGA + STL": dict(sga_prob=0.5, stl=True)}
    fit_seconds = {}
    for name, arm in arms.items():
        est = MatteLabelConverter(base=args.base, depth=3, steps=args.steps, batch_size=args.batch_size,
                                  patch_size=args.size, lr=args.lr, sga_prob=arm["sga_prob"], stl_ratio=0.25,
                                  morph_max=args.morph_max,
                                  random_state=args.seed)
        t = time.perf_counter()
        coarse = (train.images[~fine], train.alphas[~fine]) if arm["stl"] else (None, None)
        est.fit(train.images[fine], train.alphas[fine], *coarse)
        fit_seconds[name] = time.perf_counter() - t
        results[name] = scores(lambda im, s: est.convert(im, s), sets)
        print(f"{name}: fitted in {fit_seconds[name]:.0f} s, final loss {np.mean(est.loss_curve_[-50:]):.4f}",
              flush=True)

    print(f"\nZIM converter, {args.size}x{args.size}, {args.steps} steps x batch {args.batch_size}, base {args.base}, "
          f"seed {args.seed}; MSE and Grad x1e3 (coarse: against the input segment)")
    head = f"{'method':<20}" + "".join(f"{s + ' ' + m:>15}" for s in SETS for m in ("MSE", "Grad"))
    print(head)
    for name, res in results.items():
        print(f"{name:<20}" + "".join(f"{res[s][m]:>15.2f}" for s in SETS for m in ("mse", "grad")))
    best_classic = min(results[k]["fine"]["mse"] for k in ("(a) identity", "(b) feathering", "(c) guided filter"))
    print(f"\nfine MSE, best classical / each converter: " + ", ".join(
        f"{k} {best_classic / results[k]['fine']['mse']:.2f}x" for k in arms))
    print(f"SGA on partial objects: MSE (d) {results['(d) converter']['partial']['mse']:.2f} -> "
          f"(e) {results['(e) + SGA']['partial']['mse']:.2f}")
    print(f"STL on coarse objects: MSE vs S (e) {results['(e) + SGA']['coarse']['mse']:.2f} -> "
          f"(f) {results['(f) + SGA + STL']['coarse']['mse']:.2f}; fine MSE (e) "
          f"{results['(e) + SGA']['fine']['mse']:.2f} -> (f) {results['(f) + SGA + STL']['fine']['mse']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "fit_seconds": fit_seconds}, f, indent=1)


if __name__ == "__main__":
    main()
