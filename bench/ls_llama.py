"""LS-LLaMA's claim at CPU scale: a label head on an LLM's hidden states vs prompting the same LLM for the label.

    python bench/ls_llama.py [--intents 10] [--train-per-class 20] [--test-per-class 10] [--nlupp-intents 10]
                             [--nlupp-train 200] [--nlupp-test 100] [--model PATH.gguf] [--threads 1]

Paper: Li et al., "Label Supervised LLaMA Finetuning" (arXiv 2310.01208). One model for every LLM row (default:
the packaged Gemma 3 270M base, Q4_K_M, llama.cpp, ``--threads`` threads), the same test rows for every method:

- **Banking77**: ``--intents`` intents drawn at random (fixed seed, not by hand), ``--train-per-class`` training
  and ``--test-per-class`` test queries of each (from train.csv and test.csv). Single-label: accuracy, macro-F1.
- **NLU++ banking** (multi-label): the ``--nlupp-intents`` most frequent intents, rows that carry at least one of
  them, ``--nlupp-train`` / ``--nlupp-test`` rows drawn at random. Exact-set accuracy, macro-F1 (over intents).

Methods: zero-shot prompting (label scoring by log-likelihood with domain-context calibration, the repo's best
zero-shot recipe; multi-label: label sets written under a grammar, ``llm.constrained.generate_labels``); few-shot
prompting (one fixed demonstration per intent, class-balanced, from the training rows; calibrated the same way);
the LS head (linear, softmax or per-label sigmoid, C chosen by 3-fold CV) on the LLM's last-token and mean-pooled
final-layer states, an MLP head on the last-token states, the mean-pooled states with the causal mask removed
(LS-unLLaMA without its fine-tuning); and the same linear head on MiniLM sentence embeddings (the repo's default
features, the honest peer). Seconds per row: prompting, the LLM's time per test row; heads, embedding one row
(measured on the first, uncached pass; the other pooling of the same pass is free) plus the head's predict time,
with the head's fit time printed apart. Caches are fresh temporary folders, so every time is a real computation.
Writes ``bench/results/ls_llama.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from labelwise.data.nlupp import intent_matrix, load_nlupp
from labelwise.features import TextEncoder
from labelwise.generate.annotate import _fixed_demos, annotate, build_prompt
from labelwise.learn import LabelHead
from labelwise.llm import LlamaCppEmbedder, ResponseCache
from labelwise.llm.constrained import generate_labels
from labelwise.llm.llamacpp import LlamaCppBackend

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def banking77(args) -> dict:
    train = pd.read_csv(SHARED / "banking77" / "train.csv")
    test = pd.read_csv(SHARED / "banking77" / "test.csv")
    rng = np.random.default_rng(args.seed)
    intents = sorted(rng.choice(sorted(train.category.unique()), args.intents, replace=False))
    pick = lambda frame, k: (frame[frame.category.isin(intents)].groupby("category", group_keys=False)  # noqa: E731
                             .apply(lambda g: g.sample(k, random_state=args.seed)).reset_index(drop=True))
    train, test = pick(train, args.train_per_class), pick(test, args.test_per_class)
    words = {c: c.replace("_", " ") for c in intents}
    return {"name": "Banking77", "multi_label": False, "labels": [words[c] for c in intents],
            "train_texts": train.text.tolist(), "train_y": np.array([words[c] for c in train.category]),
            "test_texts": test.text.tolist(), "test_y": np.array([words[c] for c in test.category])}


def nlupp(args) -> dict:
    table = load_nlupp(SHARED / "nlupp", domains=("banking",))
    counts = pd.Series([i for row in table.intents for i in row]).value_counts()
    intents = sorted(counts.index[: args.nlupp_intents])
    Y = intent_matrix(table.intents, intents)
    keep = np.flatnonzero(Y.sum(axis=1) > 0)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(keep)
    tr, te = order[: args.nlupp_train], order[args.nlupp_train: args.nlupp_train + args.nlupp_test]
    texts = table.text.tolist()
    words = [i.replace("_", " ") for i in intents]
    return {"name": "NLU++ banking", "multi_label": True, "labels": words,
            "train_texts": [texts[i] for i in tr], "train_y": Y[tr].astype(int),
            "test_texts": [texts[i] for i in te], "test_y": Y[te].astype(int)}


def scores(task: dict, predicted) -> dict:
    truth = task["test_y"]
    if task["multi_label"]:
        return {"accuracy": float((predicted == truth).all(axis=1).mean()),
                "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0))}
    return {"accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0))}


def prompting(task: dict, backend, shots: int) -> tuple[np.ndarray, float]:
    """Predictions of zero- (shots=0) or few-shot prompting and the seconds per test row."""
    labels, texts = task["labels"], task["test_texts"]
    started = time.perf_counter()
    if not task["multi_label"]:
        pool = pd.DataFrame({"text": task["train_texts"], "label": task["train_y"]})
        result = annotate(texts, labels=labels, backend=backend, shots=shots, pool=pool if shots else None,
                          pool_text="text", pool_label="label", demos="fixed", calibration="domain", random_state=0)
        predicted = np.array(result.predicted)
    else:
        demos = ()
        if shots:  # one demonstration per intent: a training row that carries it, its whole label set shown
            rng = np.random.default_rng(0)
            chosen = []
            for j in range(len(labels)):
                rows = [i for i in np.flatnonzero(task["train_y"][:, j]) if i not in chosen]
                chosen.append(int(rng.choice(rows)))
            demos = [(task["train_texts"][i], ", ".join(labels[j] for j in np.flatnonzero(task["train_y"][i])))
                     for i in chosen]
        predicted = np.zeros((len(texts), len(labels)), dtype=int)
        for i, text in enumerate(texts):
            found = generate_labels(backend, build_prompt(text, labels, demos), labels, multi=True) or []
            predicted[i, [labels.index(f) for f in found]] = 1
    return predicted, (time.perf_counter() - started) / len(texts)


def embed_timed(encoder, texts) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return vectors, (time.perf_counter() - started) / max(len(texts), 1)


def run_task(task: dict, args, cache_root: Path) -> list[dict]:
    rows: list[dict] = []

    def record(method: str, predicted, seconds: float, **extra) -> None:
        row = {"task": task["name"], "method": method, **scores(task, predicted), "s_per_row": seconds, **extra}
        rows.append(row)
        print(f"{row['task']:14s} {method:34s} acc {row['accuracy']:.3f}  macro-F1 {row['macro_f1']:.3f}  "
              f"{seconds:.3f} s/row" + "".join(f"  {k} {v:.1f}" for k, v in extra.items()), flush=True)

    backend = LlamaCppBackend(args.model, n_threads=args.threads, n_ctx=4096, n_batch=64,
                              cache=ResponseCache(cache_root / f"{task['name']}.sqlite"))
    if not args.skip_prompting:
        for shots, name in ((0, "zero-shot prompting"), (len(task["labels"]), f"{len(task['labels'])}-shot prompting")):
            predicted, seconds = prompting(task, backend, shots)
            record(name, predicted, seconds)
    del backend

    def heads(features: dict, label: str, seconds: float, head: str = "linear") -> None:
        model = LabelHead(head=head, C="auto" if head == "linear" else 1.0, random_state=0)
        started = time.perf_counter()
        model.fit(features["train"], task["train_y"])
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        predicted = model.predict(features["test"])
        predict_s = (time.perf_counter() - started) / len(task["test_texts"])
        record(label, predicted, seconds + predict_s, fit_s=fit_s)

    encoders = [("LS head, last token", dict(pooling="last"), True),
                ("LS head, mean", dict(pooling="mean"), False),
                ("LS head, mean, no causal mask", dict(pooling="mean", causal=False), True)]
    last_pass_seconds = 0.0
    for label, options, first_pass in encoders:
        encoder = LlamaCppEmbedder(args.model, n_threads=args.threads, cache_dir=cache_root / "embeddings", **options)
        train, _ = embed_timed(encoder, task["train_texts"])
        test, seconds = embed_timed(encoder, task["test_texts"])
        if first_pass:
            last_pass_seconds = seconds
        features = {"train": train, "test": test}
        heads(features, label, last_pass_seconds)
        if options == dict(pooling="last"):
            heads(features, "LS head (MLP), last token", last_pass_seconds, head="mlp")
    minilm = TextEncoder(cache_dir=cache_root / "minilm", n_threads=args.threads)
    train, _ = embed_timed(minilm, task["train_texts"])
    test, seconds = embed_timed(minilm, task["test_texts"])
    heads({"train": train, "test": test}, "MiniLM + same linear head", seconds)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=20)
    parser.add_argument("--test-per-class", type=int, default=10)
    parser.add_argument("--nlupp-intents", type=int, default=10)
    parser.add_argument("--nlupp-train", type=int, default=200)
    parser.add_argument("--nlupp-test", type=int, default=100)
    parser.add_argument("--tasks", default="banking77,nlupp")
    parser.add_argument("--model", default=None, help="a GGUF file (default: the packaged Gemma 3 270M)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-prompting", action="store_true")
    parser.add_argument("--json", default="bench/results/ls_llama.json")
    args = parser.parse_args()
    makers = {"banking77": banking77, "nlupp": nlupp}
    rows, sizes = [], {}
    with tempfile.TemporaryDirectory(prefix="ls_llama_") as tmp:
        for name in args.tasks.split(","):
            task = makers[name](args)
            sizes[task["name"]] = {"labels": len(task["labels"]), "train": len(task["train_texts"]),
                                   "test": len(task["test_texts"])}
            print(f"{task['name']}: {sizes[task['name']]}", flush=True)
            rows += run_task(task, args, Path(tmp))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "sizes": sizes, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
