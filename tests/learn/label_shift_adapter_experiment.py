"""The label-shift adapter experiment of the paper notes (papers-01-13.md, section 5.4), shared by
tests/learn/test_label_shift_adapter_claim.py (small budget) and bench/label_shift_adapter.py (full size), so the
test runs a smaller version of exactly what the benchmark prints.

Per seed: scikit-learn's digits (8 x 8, 10 classes, pixels / 16), a stratified 70 / 30 split. The source is the 70 %
subsampled to a long-tailed prior of ratio ``rho_source`` (10) over a random class order; the MLP 64-128-BN-ReLU-10
is trained on it (Adam), then the label shift adapter on the same rows (the notes' choice; its prior input is the
centred log prior). Target streams: the 30 % with a covariate shift (pixels x0.6, Gaussian noise sigma 0.15,
clipped to [0, 1]), drawn with replacement to ``stream_rows`` rows under a long-tailed prior of ratio
``rho_target`` over a random class order, in batches of 32, ``orders`` orders per ratio.

Arms (every one sees the same streams, and the same prior estimator: EM per batch with momentum 0.9 on the model's
own probabilities): ``none``, ``tent``, ``closed_form`` (EM prior + logit adjustment), ``tent+closed_form``,
``adapter``, ``tent+adapter``, and two diagnostics, ``closed_form@true`` and ``adapter@true``: each correction fed
the true target prior (what a perfect estimate would give; no TENT). Metrics per stream: accuracy, balanced
accuracy, and the prior estimate's mean L1 error over the batches (``none`` and ``tent`` keep an estimate they do
not use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from torch import nn

from labelwise.learn.adapt import LabelShiftTTA, fit_label_shift_adapter, long_tailed_prior
from labelwise.learn.adapt.hypernetwork import adapted_logits, head_inputs
from labelwise.learn.adapt.priors import logit_adjust

ARMS = ("none", "tent", "closed_form", "tent+closed_form", "adapter", "tent+adapter", "closed_form@true",
        "adapter@true")


@dataclass
class Config:
    rho_source: float = 10.0
    rho_targets: Sequence[float] = (1.0, 10.0, 50.0)
    orders: int = 5
    stream_rows: int = 1024
    batch_size: int = 32
    model_epochs: int = 60
    adapter_steps: int = 2000
    tent_lr: float = 1e-3
    prior_update: str = "em"
    adapter_heldout: float = 0.0  # share of the source held out from the model to train the adapter on (0: none)
    momentum: float = 0.9
    noise: float = 0.15
    contrast: float = 0.6


def mlp(n_features: int = 64, hidden: int = 128, n_classes: int = 10) -> nn.Sequential:
    """The notes' small model: Linear-BN-ReLU-Linear (the BatchNorm gives TENT something to adapt)."""
    return nn.Sequential(nn.Linear(n_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


def train_mlp(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = mlp()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    x, t = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for rows in torch.randperm(len(x), generator=gen).split(64):
            if len(rows) < 2:
                continue
            loss = nn.functional.cross_entropy(model(x[rows]), t[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def shift_inputs(X: np.ndarray, rng: np.random.Generator, cfg: Config) -> np.ndarray:
    """The covariate shift: pixels x cfg.contrast, Gaussian noise of sd cfg.noise, clipped to [0, 1]."""
    return np.clip(cfg.contrast * X + rng.normal(0.0, cfg.noise, X.shape), 0.0, 1.0)


def subsample_to_prior(y: np.ndarray, prior: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of y (without replacement) whose class counts follow ``prior``, keeping as many rows as possible."""
    counts = np.bincount(y, minlength=len(prior))
    scale = np.min(counts / prior)
    keep = np.floor(prior * scale).astype(int).clip(min=1)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), keep[c], replace=False) for c in range(len(prior))])


def run_seed(seed: int, cfg: Config) -> list[dict]:
    """One seed: split, source model, adapter, then every arm on every stream. One dict per (rho, order, arm)."""
    rng = np.random.default_rng(seed)
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    k = 10
    source_prior_target = long_tailed_prior(k, cfg.rho_source, rng.permutation(k))
    keep = subsample_to_prior(y_tr, source_prior_target, rng)
    X_s, y_s = X_tr[keep], y_tr[keep]
    source_prior = np.bincount(y_s, minlength=k) / len(y_s)
    X_a, y_a = X_s, y_s  # the adapter's rows
    if cfg.adapter_heldout:
        X_s, X_a, y_s, y_a = train_test_split(X_s, y_s, test_size=cfg.adapter_heldout, stratify=y_s,
                                              random_state=seed)
    model = train_mlp(X_s, y_s, cfg.model_epochs, seed)
    adapter = fit_label_shift_adapter(model, model[-1], X_a, y_a, source_prior, steps=cfg.adapter_steps,
                                      random_state=seed)
    X_shift = shift_inputs(X_te, rng, cfg)
    rows = []
    for rho in cfg.rho_targets:
        for order in range(cfg.orders):
            target = long_tailed_prior(k, rho, rng.permutation(k))
            stream_y = rng.choice(k, size=cfg.stream_rows, p=target)
            picks = np.array([rng.choice(np.flatnonzero(y_te == c)) for c in stream_y])
            xs, ys = X_shift[picks], y_te[picks]
            for arm in ARMS:
                rows.append({"seed": seed, "rho_target": rho, "order": order, "arm": arm,
                             **run_arm(arm, model, adapter, source_prior, target, xs, ys, cfg, seed)})
    return rows


def run_arm(arm: str, model, adapter, source_prior, target, xs, ys, cfg: Config, seed: int) -> dict:
    if arm.endswith("@true"):
        with torch.no_grad():
            features, logits = head_inputs(model, model[-1], torch.as_tensor(xs, dtype=torch.float32))
            if arm == "adapter@true":
                logits = adapted_logits(features, model[-1], adapter(torch.as_tensor(target, dtype=torch.float32)))
        pred = logit_adjust(logits.numpy(), target, source_prior).argmax(axis=1) if arm == "closed_form@true" \
            else logits.numpy().argmax(axis=1)
        prior_error = 0.0
    else:
        tta = LabelShiftTTA(model, source_prior, method=arm, adapter=adapter, tent_lr=cfg.tent_lr,
                            prior_update=cfg.prior_update, momentum=cfg.momentum)
        preds = [tta.update(xs[i:i + cfg.batch_size]).argmax(axis=1) for i in range(0, len(xs), cfg.batch_size)]
        pred = np.concatenate(preds)
        prior_error = float(np.abs(tta.priors_ - target).sum(axis=1).mean())
    return {"accuracy": float(np.mean(pred == ys)), "balanced_accuracy": float(balanced_accuracy_score(ys, pred)),
            "prior_l1": prior_error}


def summarise(rows: list[dict]) -> dict:
    """{(rho_target, arm): {metric: (mean, std over seeds of the per-seed mean over orders)}}."""
    out = {}
    for rho in sorted({r["rho_target"] for r in rows}):
        for arm in ARMS:
            mine = [r for r in rows if r["rho_target"] == rho and r["arm"] == arm]
            if not mine:
                continue
            seeds = sorted({r["seed"] for r in mine})
            out[(rho, arm)] = {
                metric: (float(np.mean(per := [np.mean([r[metric] for r in mine if r["seed"] == s]) for s in seeds])),
                         float(np.std(per)))
                for metric in ("accuracy", "balanced_accuracy", "prior_l1")
            }
    return out
