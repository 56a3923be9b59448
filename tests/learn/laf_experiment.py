"""The LAF experiment of the paper notes (papers-14-26.md, section 19.4), shared by tests/learn/test_unlearn.py and
bench/laf_unlearning.py so that the test runs a smaller version of exactly what the benchmark prints.

Data: scikit-learn's digits (1,797 8 x 8 images, pixels / 16), a 70/30 split stratified by class and drawn by the
seed. Model: :class:`SplitMLP` 64 -> 256 -> 64 (encoder) -> 32 -> 10 (head), Adam 1e-3 for 60 epochs (batch 64).
Task ``"class"``: forget every training row of class 0. Task ``"random"``: forget a random 10 % of the training rows.
Every method starts from the same original model and runs with the same seed; the membership-inference attacker
is fitted on the remaining rows against the test rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from labelwise.learn.unlearn import (LabelAgnosticForgetting, SplitMLP, finetune, fit_classifier, gradient_ascent,
                                     pseudo_label_finetune, random_labels, retrain, unlearning_report)

METHODS = ("original", "retrain", "finetune", "gradient_ascent", "random_labels", "pseudo_finetune", "laf", "laf+r")


@dataclass(frozen=True)
class Config:
    epochs: int = 60  # the original model's and the retrained one's
    baseline_epochs: int = 5  # fine-tuning, gradient ascent, random labels, pseudo-label fine-tuning
    ga_lr: float = 1e-4
    laf_epochs: int = 20
    vae_epochs: int = 60
    lr_ue: float = 5e-4
    lr_ra: float = 1e-3
    temperature: float | None = None  # None: 20 for class forgetting, 5 for random rows (the repo's choice)
    r_fraction: float = 0.1  # LAF+R: share of the remaining rows whose labels the head is refitted on
    n_classes_limit: int | None = None  # keep only digits < this (a smaller test)


def digits_split(seed: int, n_classes_limit: int | None = None):
    X, y = load_digits(return_X_y=True)
    if n_classes_limit is not None:
        keep = y < n_classes_limit
        X, y = X[keep], y[keep]
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)


def forget_mask(task: str, y_train: np.ndarray, seed: int) -> np.ndarray:
    if task == "class":
        return y_train == 0
    rng = np.random.default_rng(seed + 1000)
    mask = np.zeros(len(y_train), bool)
    mask[rng.choice(len(y_train), int(round(0.1 * len(y_train))), replace=False)] = True
    return mask


def run(task: str, seed: int, config: Config = Config(), methods=METHODS) -> dict:
    """``{method: UnlearningReport as a dict}`` for one task and seed."""
    Xtr, Xte, ytr, yte = digits_split(seed, config.n_classes_limit)
    k = int(ytr.max()) + 1
    f = forget_mask(task, ytr, seed)
    Xf, yf, Xr, yr = Xtr[f], ytr[f], Xtr[~f], ytr[~f]
    import torch

    torch.manual_seed(seed)
    original = fit_classifier(SplitMLP(64, k), Xtr, ytr, epochs=config.epochs, random_state=seed)
    T = config.temperature if config.temperature is not None else (20.0 if task == "class" else 5.0)
    laf = LabelAgnosticForgetting(epochs=config.laf_epochs, vae_epochs=config.vae_epochs, lr_ue=config.lr_ue,
                                  lr_ra=config.lr_ra, temperature=T, random_state=seed)
    rng = np.random.default_rng(seed)
    few = rng.choice(len(Xr), max(1, int(round(config.r_fraction * len(Xr)))), replace=False)
    be = config.baseline_epochs
    arms: dict[str, Callable] = {
        "original": lambda: original,
        "retrain": lambda: retrain(original, Xr, yr, epochs=config.epochs, random_state=seed),
        "finetune": lambda: finetune(original, Xr, yr, epochs=be, random_state=seed),
        "gradient_ascent": lambda: gradient_ascent(original, Xf, yf, epochs=be, lr=config.ga_lr, random_state=seed),
        "random_labels": lambda: random_labels(original, Xf, yf, Xr, yr, k, epochs=be, random_state=seed),
        "pseudo_finetune": lambda: pseudo_label_finetune(original, Xr, epochs=be, random_state=seed),
        "laf": lambda: laf.fit_transform(original, Xf, Xr),
        "laf+r": lambda: laf.refit_head(laf_model if laf_model is not None else laf.fit_transform(original, Xf, Xr),
                                         Xr[few], yr[few]),
    }
    out, laf_model, laf_seconds = {}, None, 0.0
    for name in methods:
        start = time.perf_counter()
        model = arms[name]()
        seconds = 0.0 if name == "original" else time.perf_counter() - start
        if name == "laf":
            laf_model, laf_seconds = model, seconds
        elif name == "laf+r":
            seconds += laf_seconds  # LAF+R is LAF, then the head (LAF's model reused when it ran first)
        out[name] = unlearning_report(model, Xr, yr, Xf, yf, Xte, yte, forgotten_classes=[0] if task == "class"
                                      else None, seconds=seconds, random_state=seed).as_dict()
    return out
