"""Benchmark: PatchCT (paper 31) -- does conditional transport between parts and labels align them, and at what
cost to classification? Same seeds, data and settings for every arm.

    python bench/patch_ct.py [--seeds 0,1,2,3,4] [--sizes 150,300,600] [--test-size 2000] [--no-text]
                             [--threads 1] [--json out.json]

1. Digit mosaics (the notes' experiment, labelwise.testing.mosaics): 16x16 images of 2x2 tiles, each tile a digit
   with probability 0.7; patches = the four 8x8 tiles (raw pixels, 64-d); labels = the digits present. Training and
   test mosaics draw their digits from disjoint pools of scikit-learn's handwritten digits (split_digits, 67/33).
   Low-data training sets of 150, 300 and 600 mosaics; 2,000 test mosaics. Arms (PatchCTClassifier, defaults
   unless named): BCE only (ct_weight=0) and BCE + CT (ct_weight=1), each with the default residual adaptive
   layer and with a plain MLP one (residual=False, like the paper's separate [CLS] readout); and the defaults with
   label embeddings from MiniLM ("a picture of the digit zero", ...) instead of learned label vectors.
   Metrics: macro mAP on the test mosaics; alignment = share of digit tiles whose patch-label map (the forward
   navigator weighted by the predicted scores, the explanation output) puts most mass on the tile's own digit;
   alignment among the image's true labels (the same map weighted by the ground truth; chance is 1 over the
   number of distinct digits, ~0.4 on average); fit seconds.
2. Text (Banking77, real utterances): a "ticket" is two utterances of two different intents (8 intents drawn per
   seed; training tickets from the train split, test tickets from the test split); labels = both intents; parts =
   MiniLM word states (TextEncoder.encode_tokens). Two ways to get the parts: each utterance encoded on its own
   and the two word sets joined ("separate": a ticket made of two messages), or the ticket encoded as one text
   ("joint": every word state has seen both utterances). Label embeddings: MiniLM vectors of the intent names.
   Arms: BCE and BCE + CT with either adaptive layer. Alignment (true) = share of words whose map, weighted by the
   two true labels, puts most mass on the intent of the utterance the word comes from (chance 0.5).

Prints one table per part (mean +- std over seeds) and the CT - BCE differences with the number of seeds where CT
was at least as good; writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def macro_map(Y: np.ndarray, S: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    keep = Y.sum(0) > 0
    return float(average_precision_score(Y[:, keep], S[:, keep], average="macro"))


def alignment(M: np.ndarray, truth: np.ndarray) -> float:
    """``M: (n, N, K)`` part-label map, ``truth: (n, N)`` the label of each part or -1 (not scored)."""
    scored = truth >= 0
    return float((M.argmax(2)[scored] == truth[scored]).mean())


def run_arm(params: dict, X_train, Y_train, X_test, Y_test, truth, seed: int, threads: int) -> dict:
    from labelwise.learn import PatchCTClassifier

    start = time.perf_counter()
    clf = PatchCTClassifier(random_state=seed, n_threads=threads, **params).fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    return {"mAP": macro_map(Y_test, clf.predict_proba(X_test)),
            "align": alignment(clf.patch_label_map(X_test), truth),
            "align_true": alignment(clf.patch_label_map(X_test, Y_test), truth),
            "fit_s": seconds, "epochs": clf.n_epochs_}


def mosaics(seeds: list[int], sizes: list[int], n_test: int, threads: int, label_emb) -> dict:
    from labelwise.testing.mosaics import digit_mosaics, split_digits

    arms = {"BCE, MLP adapter": {"ct_weight": 0.0, "residual": False},
            "BCE+CT, MLP adapter": {"ct_weight": 1.0, "residual": False},
            "BCE (default adapter)": {"ct_weight": 0.0},
            "BCE+CT (defaults)": {"ct_weight": 1.0}}
    if label_emb is not None:
        arms["BCE+CT, MiniLM labels"] = {"ct_weight": 1.0, "label_embeddings": label_emb}
    out: dict = {}
    for size in sizes:
        out[size] = {name: [] for name in arms}
        for seed in seeds:
            train_pool, test_pool = split_digits((0.67, 0.33), seed=seed)
            train = digit_mosaics(size, pool=train_pool, seed=100 + seed)
            test = digit_mosaics(n_test, pool=test_pool, seed=200 + seed)
            for name, params in arms.items():
                r = run_arm(params, train.patches, train.Y, test.patches, test.Y, test.patch_digits, seed, threads)
                out[size][name].append(r)
                print(f"  mosaics n={size} seed={seed} {name}: mAP {r['mAP']:.3f} align {r['align']:.3f}",
                      file=sys.stderr, flush=True)
    return out


def _tickets(intents: np.ndarray, n: int, n_labels: int, rng: np.random.Generator):
    """Pairs of utterances with different intents: (row pairs (n, 2), Y (n, K), intents (n, 2))."""
    pairs = np.zeros((n, 2), dtype=int)
    for i in range(n):
        a, b = rng.integers(len(intents), size=2)
        while intents[b] == intents[a]:
            b = rng.integers(len(intents))
        pairs[i] = a, b
    Y = np.zeros((n, n_labels), dtype=int)
    Y[np.arange(n), intents[pairs[:, 0]]] = 1
    Y[np.arange(n), intents[pairs[:, 1]]] = 1
    return pairs, Y, intents[pairs]


def _join(ts, pairs: np.ndarray, src: np.ndarray):
    """Each ticket's parts = the word states of its first utterance, then of its second; truth = their intents."""
    from labelwise.token_states import TokenStates

    lengths = ts.lengths
    width = int((lengths[pairs[:, 0]] + lengths[pairs[:, 1]]).max())
    states = np.zeros((len(pairs), width, ts.dim), np.float32)
    truth = np.full((len(pairs), width), -1)
    for i, (a, b) in enumerate(pairs):
        la, lb = lengths[a], lengths[b]
        states[i, :la], states[i, la:la + lb] = ts.states[a, :la], ts.states[b, :lb]
        truth[i, :la], truth[i, la:la + lb] = src[i, 0], src[i, 1]
    return TokenStates.from_arrays(states, truth >= 0), truth


def _joint(encoder, texts: list[str], words: tuple, pairs: np.ndarray, src: np.ndarray):
    """Each ticket encoded as one text; a word's truth is the intent of the utterance it comes from (``words``: each
    utterance's words alone). Tickets whose words do not start with the first utterance's words are not scored."""
    ts = encoder.encode_tokens([f"{texts[a]} {texts[b]}" for a, b in pairs])
    truth = np.full(ts.mask.shape, -1)
    for i, (a, b) in enumerate(pairs):
        la = len(words[a])
        if ts.tokens[i][:la] == words[a]:
            truth[i, :la], truth[i, la:ts.lengths[i]] = src[i, 0], src[i, 1]
    return ts, truth


def text_tickets(seeds: list[int], threads: int, n_intents: int = 8, n_train: int = 400, n_test: int = 300) -> dict:
    import pandas as pd

    from labelwise.features import TextEncoder

    train_df = pd.read_csv(SHARED / "banking77" / "train.csv")
    test_df = pd.read_csv(SHARED / "banking77" / "test.csv")
    encoder = TextEncoder()
    out: dict = {"separate": {}, "joint": {}}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(sorted(train_df["category"].unique()), n_intents, replace=False).tolist())
        label_emb = encoder.encode([c.replace("_", " ") for c in chosen])
        data = {}
        for split, df, n in (("train", train_df, n_train), ("test", test_df, n_test)):
            df = df[df["category"].isin(chosen)].reset_index(drop=True)
            texts = df["text"].tolist()
            intents = np.array([chosen.index(c) for c in df["category"]])
            ts = encoder.encode_tokens(texts)
            pairs, Y, src = _tickets(intents, n, n_intents, rng)
            data[split] = {"separate": _join(ts, pairs, src), "joint": _joint(encoder, texts, ts.tokens, pairs, src),
                           "Y": Y}
        arms = {"BCE, MLP adapter": {"ct_weight": 0.0, "residual": False, "label_embeddings": label_emb},
                "BCE+CT, MLP adapter": {"ct_weight": 1.0, "residual": False, "label_embeddings": label_emb},
                "BCE (default adapter)": {"ct_weight": 0.0, "label_embeddings": label_emb},
                "BCE+CT (defaults)": {"ct_weight": 1.0, "label_embeddings": label_emb}}
        for how in ("separate", "joint"):
            X_train, _ = data["train"][how]
            X_test, truth = data["test"][how]
            for name, params in arms.items():
                r = run_arm(params, X_train, data["train"]["Y"], X_test, data["test"]["Y"], truth, seed, threads)
                r["scored_share"] = float((truth >= 0).sum() / X_test.mask.sum())
                out[how].setdefault(name, []).append(r)
                print(f"  text {how} seed={seed} {name}: mAP {r['mAP']:.3f} align_true {r['align_true']:.3f}",
                      file=sys.stderr, flush=True)
    return out


def _fmt(values: list[float]) -> str:
    return f"{np.mean(values):.3f} +- {np.std(values):.3f}"


def print_table(title: str, table: dict, baseline: dict[str, str]) -> None:
    """table: arm -> list of per-seed results; baseline: arm -> the BCE arm it is compared with."""
    print(f"\n{title}")
    print(f"{'arm':<28} {'mAP':>15} {'align (pred)':>15} {'align (true)':>15} {'fit s':>7}")
    for name, rows in table.items():
        print(f"{name:<28} {_fmt([r['mAP'] for r in rows]):>15} {_fmt([r['align'] for r in rows]):>15} "
              f"{_fmt([r['align_true'] for r in rows]):>15} {np.mean([r['fit_s'] for r in rows]):7.1f}")
    for name, base in baseline.items():
        if name not in table or base not in table:
            continue
        for metric in ("mAP", "align"):
            diff = [r[metric] - b[metric] for r, b in zip(table[name], table[base])]
            wins = sum(d >= 0 for d in diff)
            print(f"  {name} - {base}: {metric} {np.mean(diff):+.3f} (CT >= BCE on {wins}/{len(diff)} seeds)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--sizes", default="150,300,600")
    ap.add_argument("--test-size", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-text", action="store_true", help="skip the Banking77 part (and the MiniLM label arm)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    label_emb = None
    if not args.no_text:
        from labelwise.features import TextEncoder

        label_emb = TextEncoder().encode([f"a picture of the digit {name}" for name in DIGIT_NAMES])
    results: dict = {"mosaics": mosaics(seeds, sizes, args.test_size, args.threads, label_emb)}
    for size, table in results["mosaics"].items():
        print_table(f"Digit mosaics, {size} training mosaics, {args.test_size} test, seeds {args.seeds}", table,
                    {"BCE+CT, MLP adapter": "BCE, MLP adapter", "BCE+CT (defaults)": "BCE (default adapter)",
                     "BCE+CT, MiniLM labels": "BCE (default adapter)"})
    if not args.no_text:
        results["text"] = text_tickets(seeds[:3], args.threads)
        for how, table in results["text"].items():
            print_table(f"Banking77 two-intent tickets, word states encoded {how}, seeds {seeds[:3]}", table,
                        {"BCE+CT, MLP adapter": "BCE, MLP adapter", "BCE+CT (defaults)": "BCE (default adapter)"})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
