"""Benchmark: HeLlO (paper 10), a low-rank label projector against stored soft labels, the notes' experiment.

    python bench/hello_light_labels.py [--seeds 0,1,2] [--parts digits,banking77] [--epochs 300] [--json FILE]

Per part, per IPC and seed (tests/learn/hello_experiment.py, which the claim test runs at a smaller size), a
student MLP (256 hidden) is trained for ``--epochs`` on the same augmented views (mixup + 10 % noise in feature
space) of a distilled set of IPC rows per class, with (a) hard labels, (b) the teacher's soft label stored for
every view (FKD style, the heavy baseline), (c) the zero-storage head alone, (d) HeLlO's projector at several
ranks, (e) (d) after the image-level correction, and an ablation with a zero head. Student accuracy on the test
rows and label storage (float16 bytes; the ratio to (b)).

- **digits** (scikit-learn's bundled 8x8 digits, 70/30 split): pixels / 16 as the features; distilled rows are
  per-class k-means centres (the notes); teacher = MLP 64-256-10; head = class prototypes of the distilled rows.
- **banking77** (../shared/datasets/banking77, 77 intents, 10,003 train / 3,080 test): MiniLM sentence
  embeddings (the packaged int8 all-MiniLM-L6-v2) as the frozen public encoder; distilled rows = the real
  training utterance nearest each per-class k-means centre; teacher = MLP 384-512-77 on all training rows; head =
  MiniLM embeddings of the intent names in four prompt templates (the CLIP zero-shot head's counterpart).

Torch on one thread. Prints one JSON line per run and the mean (std) over seeds per arm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

PARTS = {
    # part: (IPCs, ranks, refined ranks, ranks without the head, projector epochs)
    "digits": ((1, 5), (0, 2, 4, 8), (4, 8), (4,), 20),
    "banking77": ((1, 3), (0, 4, 16, 32), (4, 16), (16,), 10),
}


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0,
                                          stratify=y)
    return Xtr, ytr, Xte, yte, None, (256,)


def banking77():
    import pandas as pd

    from labelwise.features.text import TextEncoder
    from labelwise.generate.transfer import class_prompts_for, prompt_prototypes

    train = pd.read_csv(SHARED / "banking77" / "train.csv")
    test = pd.read_csv(SHARED / "banking77" / "test.csv")
    labels = sorted(train["category"].unique())
    index = {c: i for i, c in enumerate(labels)}
    encoder = TextEncoder(n_threads=1)
    Xtr, Xte = encoder.encode(train["text"].tolist()), encoder.encode(test["text"].tolist())
    head = prompt_prototypes(class_prompts_for(labels), encoder)
    return Xtr, train["category"].map(index).to_numpy(), Xte, test["category"].map(index).to_numpy(), head, (512,)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--parts", default="digits,banking77")
    ap.add_argument("--epochs", type=int, default=300, help="student epochs = stored views per synthetic row")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    from labelwise.learn.estimators import NoisyLabelClassifier
    from tests.learn.hello_experiment import run_arms

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for part in args.parts.split(","):
        ipcs, ranks, refine_ranks, noinit_ranks, projector_epochs = PARTS[part]
        Xtr, ytr, Xte, yte, head, hidden = digits() if part == "digits" else banking77()
        for seed in seeds:
            t0 = time.perf_counter()
            teacher = NoisyLabelClassifier(hidden=hidden, epochs=60, random_state=seed).fit(Xtr, ytr)
            teacher_acc = float((teacher.predict(Xte) == yte).mean())
            head_acc = None if head is None else float(((Xte @ head.T).argmax(1) == yte).mean())
            teacher_s = round(time.perf_counter() - t0, 1)
            for ipc in ipcs:
                row = run_arms(Xtr, ytr, Xte, yte, teacher.model_, head=head, ipc=ipc, ranks=ranks,
                               refine_ranks=refine_ranks, noinit_ranks=noinit_ranks, epochs=args.epochs,
                               projector_epochs=projector_epochs, real_rows=part == "banking77", seed=seed)
                row.update(part=part, teacher_acc=teacher_acc, zero_shot_acc=head_acc, teacher_s=teacher_s)
                rows.append(row)
                print(json.dumps(row), flush=True)
    summarise(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"seeds": seeds, "epochs": args.epochs, "rows": rows}, indent=1))


def summarise(rows: list[dict]) -> None:
    """Mean (std) over seeds per part, IPC and arm: accuracy, gap to heavy, bytes, share of heavy's bytes."""
    keys = sorted({(r["part"], r["ipc"]) for r in rows})
    for part, ipc in keys:
        group = [r for r in rows if r["part"] == part and r["ipc"] == ipc]
        arms = [k[:-4] for k in group[0] if k.endswith("_acc") and k not in ("teacher_acc", "zero_shot_acc")]
        heavy_bytes = group[0]["heavy_bytes"]
        print(f"\n{part}, IPC {ipc} ({group[0]['n_syn']} rows), {group[0]['epochs']} epochs, seeds "
              f"{[r['seed'] for r in group]}: teacher {np.mean([r['teacher_acc'] for r in group]):.3f}"
              + (f", zero-shot head {group[0]['zero_shot_acc']:.3f}" if group[0]["zero_shot_acc"] else ""))
        print(f"{'arm':<22}{'accuracy':>16}{'vs heavy':>10}{'label bytes':>14}{'% of heavy':>12}{'agree':>8}")
        heavy = np.array([r["heavy_acc"] for r in group])
        for arm in arms:
            acc = np.array([r[f"{arm}_acc"] for r in group])
            agree = [r.get(f"{arm.removesuffix('_refined')}_agree") for r in group]
            agree_txt = f"{np.mean(agree):.3f}" if agree[0] is not None else ""
            nbytes = int(np.mean([r[f"{arm}_bytes"] for r in group]))
            print(f"{arm:<22}{acc.mean():>9.3f} ({acc.std():.3f}){(acc - heavy).mean():>+10.3f}{nbytes:>14,}"
                  f"{100 * nbytes / heavy_bytes:>11.3f}%{agree_txt:>8}")


if __name__ == "__main__":
    main()
