"""The notes' FedLabel experiment (papers/specs section 3.4), shared by the claim test and bench/fedlabel.py.

scikit-learn's digits (1,797 8 x 8 images, pixels scaled to 0-1): 360 held out (a balanced test set drawn per
class), the rest split over ``n_clients`` with Dirichlet(``alpha``) label skew. On each client ``label_share`` of
the rows are labelled, drawn with a *different* class skew than the client's data (weights from a second
Dirichlet(``alpha``) draw over the classes): the labelled/unlabelled class mismatch of the paper. Augmentations on
the 8 x 8 grid: weak = a random shift of up to 1 pixel; strong = up to 2 pixels, Gaussian noise sigma 0.1 and a
2 x 2 random erase. Every arm trains the same 64-128-10 MLP with the same rounds, epochs, seeds and data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from labelwise.learn.federated import FedLabelClassifier, dirichlet_partition

# arm -> FedLabelClassifier settings (the notes' (a)-(f); (f) trains on every label of every client)
ARMS = {
    "fedavg_labels_only": {"pseudo_labels": "none"},
    "global_pseudo_labels": {"pseudo_labels": "global"},
    "local_pseudo_labels": {"pseudo_labels": "local"},
    "fedlabel": {"pseudo_labels": "fedlabel", "lambda_c": 1.0},
    "fedlabel_no_consistency": {"pseudo_labels": "fedlabel", "lambda_c": 0.0},
    "fedavg_all_labels": {"pseudo_labels": "none", "all_labels": True},
}


@dataclass
class Config:
    n_clients: int = 10
    alpha: float = 0.3
    label_share: float = 0.1
    rounds: int = 40
    local_epochs: int = 2
    lr: float = 0.05
    threshold: float = 0.95


def _shift(x: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    images = x.reshape(-1, 8, 8)
    n, grid = len(images), torch.arange(8)
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows, cols = (dy[:, None] + grid)[:, :, None], (dx[:, None] + grid)[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols].reshape(n, 64)


def weak_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return _shift(x, generator, 1)


def strong_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    out = (_shift(x, generator, 2) + 0.1 * torch.randn(x.shape, generator=generator)).reshape(-1, 8, 8)
    n, grid = len(out), torch.arange(8)
    ys = torch.randint(0, 7, (n, 1, 1), generator=generator)
    xs = torch.randint(0, 7, (n, 1, 1), generator=generator)
    erase = ((grid[None, :, None] - ys) % 8 < 2) & ((grid[None, None, :] - xs) % 8 < 2)
    return out.masked_fill(erase, 0.0).reshape(n, 64)


def make_clients(cfg: Config, seed: int):
    """(clients, (X_test, y_test)): clients as dicts X_l, y_l, X_u, plus "y_u" (the hidden truth) for arm (f)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.choice(np.flatnonzero(y == c), 36, replace=False) for c in range(10)])
    train = np.setdiff1d(np.arange(len(y)), test)
    clients = []
    for part in dirichlet_partition(y[train], cfg.n_clients, cfg.alpha, random_state=seed):
        rows = train[part]
        n_l = max(1, int(round(cfg.label_share * len(rows))))
        skew = rng.dirichlet(np.full(10, cfg.alpha))[y[rows]] + 1e-9  # another class mix for the labelled rows
        labelled = rng.choice(len(rows), n_l, replace=False, p=skew / skew.sum())
        unlabelled = np.setdiff1d(np.arange(len(rows)), labelled)
        clients.append({"X_l": X[rows[labelled]], "y_l": y[rows[labelled]], "X_u": X[rows[unlabelled]],
                        "y_u": y[rows[unlabelled]]})
    return clients, (X[test], y[test])


def run_arm(arm: str, cfg: Config, seed: int, *, history: bool = False):
    """The global model's accuracy on the balanced test set after ``cfg.rounds`` rounds of ``arm``; with
    ``history`` also the per-round records (accuracy, mask_rate, local_share)."""
    clients, (X_test, y_test) = make_clients(cfg, seed)
    settings = dict(ARMS[arm])
    if settings.pop("all_labels", False):
        clients = [{"X_l": np.concatenate([c["X_l"], c["X_u"]]), "y_l": np.concatenate([c["y_l"], c["y_u"]]),
                    "X_u": c["X_u"][:0]} for c in clients]
    model = FedLabelClassifier(rounds=cfg.rounds, local_epochs=cfg.local_epochs, lr=cfg.lr, threshold=cfg.threshold,
                               weak_augment=weak_augment, strong_augment=strong_augment, classes=np.arange(10),
                               random_state=seed, **settings)
    model.fit([{k: c[k] for k in ("X_l", "y_l", "X_u")} for c in clients],
              eval_set=(X_test, y_test) if history else None)
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    return (accuracy, model.history_) if history else accuracy
