"""The MLCD experiments of the paper notes (papers-14-26.md, section 25.4), shared by tests/learn/test_mlcd.py and
bench/mlcd.py so that the test runs a smaller version of exactly what the benchmark prints.

Data: two-object digit canvases (:func:`labelwise.testing.mosaics.digit_pairs`, 8x16 pixels, one digit or two
different digits side by side); train and test canvases are built from disjoint pools of handwritten digits
(:func:`split_digits`). Every arm of an experiment trains the same network (:class:`CosineClassifier`, MLP
128 -> hidden -> normalised features against normalised prototypes) with the same loop, seeds and data; only the
loss differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, f1_score

from labelwise.learn.mlcd import (
    CosineClassifier,
    coupled_pairwise_loss,
    decoupled_multilabel_loss,
    multi_positive_softmax_loss,
)
from labelwise.testing.mosaics import digit_pairs, split_digits

LOSSES = ("decoupled", "coupled", "softmax", "bce")


@dataclass(frozen=True)
class PairData:
    """X: ``(n, 128) float32`` flattened canvases; Y: ``(n, 10) int`` digits present."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray


def pair_data(n_train: int, n_test: int, *, single_fraction: float = 0.3, seed: int = 0) -> PairData:
    """Train canvases from one pool of handwritten digits, test canvases from the other (2/3 - 1/3 split)."""
    train_pool, test_pool = split_digits((0.67, 0.33), seed=seed)
    tr = digit_pairs(n_train, single_fraction=single_fraction, pool=train_pool, seed=seed)
    te = digit_pairs(n_test, single_fraction=single_fraction, pool=test_pool, seed=seed + 1000)
    return PairData(tr.images.reshape(n_train, -1), tr.Y, te.images.reshape(n_test, -1), te.Y)


def _loss(name: str, cos: torch.Tensor, targets: torch.Tensor, scale: float, gen: torch.Generator,
          neg_sample_ratio: float) -> torch.Tensor:
    if name == "decoupled":
        return decoupled_multilabel_loss(cos, targets, scale=scale, neg_sample_ratio=neg_sample_ratio, generator=gen)
    if name == "coupled":
        return coupled_pairwise_loss(cos, targets, scale=scale)
    if name == "softmax":
        return multi_positive_softmax_loss(cos, targets, scale=scale)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(scale * cos, (targets == 1).float())
    raise ValueError(f"unknown loss {name!r}; one of {LOSSES}")


def train_cosine(X: np.ndarray, T: np.ndarray, loss: str, *, hidden: tuple[int, ...] = (256, 64),
                 scale: float = 16.0, epochs: int = 25, lr: float = 1e-3, batch_size: int = 64, seed: int = 0,
                 neg_sample_ratio: float = 1.0) -> CosineClassifier:
    """Adam on ``loss`` over ``(X (n, d), T (n, K) 0/1)``; the same initial weights and batch order for every loss
    at a given seed."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = CosineClassifier(X.shape[1], T.shape[1], hidden, scale=scale)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    Xt, Tt = torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.from_numpy(np.asarray(T))
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), batch_size):
            b = perm[start:start + batch_size]
            loss_value = _loss(loss, model.cosine(Xt[b]), Tt[b], scale, gen, neg_sample_ratio)
            opt.zero_grad()
            loss_value.backward()
            opt.step()
    model.eval()
    return model


def cosines(model: CosineClassifier, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.cosine(torch.from_numpy(np.asarray(X, dtype=np.float32))).numpy()


def features(model: CosineClassifier, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.features(torch.from_numpy(np.asarray(X, dtype=np.float32))).numpy()


def scores(Y: np.ndarray, cos: np.ndarray) -> dict[str, float]:
    """mAP (macro average precision of the cosines), and macro-F1 and exact-set accuracy at the untuned
    threshold ``cos > 0``."""
    pred = (cos > 0).astype(int)
    return {
        "mAP": float(average_precision_score(Y, cos, average="macro")),
        "F1@0": float(f1_score(Y, pred, average="macro", zero_division=0)),
        "exact@0": float((pred == Y).all(axis=1).mean()),
    }


def loss_arms(data: PairData, losses=LOSSES, seeds=(0, 1), **train_kw) -> dict[str, list[dict[str, float]]]:
    """Experiment A: each loss in ``losses`` trained at each seed; ``{loss: [scores per seed]}``."""
    return {name: [scores(data.Y_test, cosines(train_cosine(data.X_train, data.Y_train, name, seed=s, **train_kw),
                                               data.X_test))
                   for s in seeds]
            for name in losses}


def mean_of(runs: list[dict[str, float]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def probe_map(F_train: np.ndarray, Y_train: np.ndarray, F_test: np.ndarray, Y_test: np.ndarray) -> float:
    """Experiment C's linear probe: one logistic regression per digit on the given features; test macro mAP."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    probe = OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=2000)).fit(F_train, Y_train)
    return float(average_precision_score(Y_test, probe.decision_function(F_test), average="macro"))


@dataclass(frozen=True)
class ProbeData:
    """Experiment C: ``U (n_u, 128)`` unlabelled canvases and the probe's labelled train / test canvases (test from
    the other digit pool)."""

    U: np.ndarray
    X_probe: np.ndarray
    Y_probe: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray


def probe_data(n_unlabelled: int, n_probe: int, n_test: int, *, seed: int = 0) -> ProbeData:
    train_pool, test_pool = split_digits((0.67, 0.33), seed=seed)
    U = digit_pairs(n_unlabelled, pool=train_pool, seed=seed).images.reshape(n_unlabelled, -1)
    L = digit_pairs(n_probe, pool=train_pool, seed=seed + 500)
    T = digit_pairs(n_test, pool=test_pool, seed=seed + 1000)
    return ProbeData(U, L.images.reshape(n_probe, -1), L.Y, T.images.reshape(n_test, -1), T.Y)
