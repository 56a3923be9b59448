"""Benchmark: SoftCon (paper 27) on digit mosaics, the notes' experiment, several seeds.

    python bench/soft_contrastive.py [--seeds 0,1,2] [--epochs 20]

Data (labelwise.testing.mosaics): 2x2 mosaics of scikit-learn's 8x8 digits, each tile a digit with probability
0.7, labelled with the digits present (10 labels). The 1,797 digit images are split 67/33 per seed
(split_digits); 4,000 pre-training scenes come from the first pool, 2,000 evaluation scenes from the second, so no
handwritten digit is shared. Encoder: the same 2-layer ReLU MLP on every tile (64 -> 128 -> 64), sum-pooled;
projector 64 -> 64 -> 32; 20 epochs, batch 128, Adam 1e-3, temperature 0.2; views: shuffled tiles, Gaussian noise,
feature dropout. Evaluation: linear probe (one logistic regression per label, C = 1) on the frozen 64-d features
with 10 % of the evaluation scenes labelled (the notes' protocol, like BigEarthNet-10 %) and with 2 %; macro mAP
on the rest.

Arms (same seeds, data, encoder, views and epochs): random init (no training); InfoNCE (no labels); hard
multi-label SupCon (positive = shares any label, metric="overlap"); SoftCon softmax (row-normalised cosine
targets, the default); SoftCon BCE (learnable bias); and a supervised reference: the same encoder plus a linear
head trained with multi-label BCE on the same labels and views (SoftCon's point is that its labels are free, not
that it beats supervision).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def macro_map(Y: np.ndarray, S: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    keep = Y.sum(0) > 0
    return float(average_precision_score(Y[:, keep], S[:, keep], average="macro"))


class SupervisedEncoder:
    """The pre-trainer's encoder and views with a linear multi-label BCE head instead of the contrastive loss."""

    def __init__(self, seed: int, epochs: int):
        self.seed, self.epochs = seed, epochs

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "SupervisedEncoder":
        import torch
        import torch.nn.functional as F

        from labelwise.learn.soft_contrastive import SoftConPretrainer, _PatchEncoder

        views = SoftConPretrainer()  # its default view augmentation, reused as is
        views.feature_scale_ = float(X.reshape(-1, X.shape[-1]).std(0).mean())
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.encoder = _PatchEncoder(X.shape[2], 128, 64, "sum")
        head = torch.nn.Linear(64, Y.shape[1])
        opt = torch.optim.Adam(list(self.encoder.parameters()) + list(head.parameters()), lr=1e-3)
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.float32))
        for _ in range(self.epochs):
            perm = torch.randperm(len(X), generator=gen)
            for start in range(0, len(X), 128):
                b = perm[start:start + 128]
                loss = F.binary_cross_entropy_with_logits(head(self.encoder(views._views(Xt[b], gen))), Yt[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.encoder(torch.from_numpy(X)).numpy()


def run(seed: int, epochs: int) -> dict[str, tuple[float, float, float]]:
    """{arm: (mAP at 10 % labels, mAP at 2 %, fit seconds)} for one seed."""
    from labelwise.learn import LinearProbe, SoftConPretrainer
    from labelwise.testing.mosaics import digit_mosaics, split_digits

    pools = split_digits((0.67, 0.33), seed=seed)
    pre = digit_mosaics(4000, pool=pools[0], seed=seed)
    ev = digit_mosaics(2000, pool=pools[1], seed=seed + 1000)
    arms = {
        "random init (no training)": lambda: SoftConPretrainer(epochs=0, random_state=seed).fit(pre.patches),
        "InfoNCE (no labels)": lambda: SoftConPretrainer(epochs=epochs, random_state=seed).fit(pre.patches),
        "hard SupCon (any shared label)": lambda: SoftConPretrainer(
            metric="overlap", epochs=epochs, random_state=seed).fit(pre.patches, pre.Y),
        "SoftCon softmax (default)": lambda: SoftConPretrainer(epochs=epochs, random_state=seed).fit(
            pre.patches, pre.Y),
        "SoftCon BCE": lambda: SoftConPretrainer(form="bce", epochs=epochs, random_state=seed).fit(
            pre.patches, pre.Y),
        "supervised BCE (reference)": lambda: SupervisedEncoder(seed, epochs).fit(pre.patches, pre.Y),
    }
    out = {}
    for name, make in arms.items():
        t = time.perf_counter()
        model = make()
        secs = time.perf_counter() - t
        F_ = model.transform(ev.patches)
        scores = []
        for n_lab in (200, 40):
            P = LinearProbe().fit(F_[:n_lab], ev.Y[:n_lab]).predict_proba(F_[n_lab:])
            scores.append(100 * macro_map(ev.Y[n_lab:], P))
        out[name] = (scores[0], scores[1], secs)
        print(f"  seed {seed} {name:32s} {scores[0]:6.1f} {scores[1]:6.1f} {secs:6.1f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    t_all = time.perf_counter()
    runs = [run(s, args.epochs) for s in seeds]
    print(f"\nSoftCon on digit mosaics: linear-probe macro mAP (mean +- std over seeds {seeds})")
    print(f"{'pre-training objective':34s} {'10% labels':>14s} {'2% labels':>14s} {'fit s':>7s}")
    for name in runs[0]:
        a = np.array([r[name] for r in runs])
        print(f"{name:34s} {a[:, 0].mean():7.1f} +- {a[:, 0].std():4.1f} {a[:, 1].mean():7.1f} +- "
              f"{a[:, 1].std():4.1f} {a[:, 2].mean():7.1f}")
    info = np.array([r["InfoNCE (no labels)"][:2] for r in runs])
    for name in ("hard SupCon (any shared label)", "SoftCon softmax (default)", "SoftCon BCE"):
        d = np.array([r[name][:2] for r in runs]) - info
        print(f"{name} - InfoNCE: {d[:, 0].mean():+.1f} (10%), {d[:, 1].mean():+.1f} (2%); "
              f"min over seeds {d[:, 0].min():+.1f} / {d[:, 1].min():+.1f}")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
