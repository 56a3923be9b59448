"""A classifier split into a feature extractor and a head, and the plain training loop every unlearning method
shares (algorithm floor: arrays in, modules out; no I/O).

:class:`SplitMLP` is the model ``labelwise unlearn`` saves and reads; any ``torch.nn.Module`` whose extractor and head
are reachable as attributes (``model.encoder``, ``model.backbone.features``, ...) works with the library API.
"""

from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.learn.heads import mlp_body
from labelwise.progress import ProgressCallback, report

__all__ = ["SplitMLP", "as_tensor", "fit_classifier", "model_part", "predict_proba", "reinitialise"]


class SplitMLP(torch.nn.Module):
    """``(B, d_in) -> (B, n_classes)`` logits ``= head(encoder(x))``.

    encoder: Linear + ReLU per width in ``encoder_hidden`` (the representation is the last width); head: Linear +
    ReLU per width in ``head_hidden``, then a linear layer to the classes. ``config()`` gives the constructor's
    arguments, so a model can be rebuilt from a JSON config and its weights alone.
    """

    def __init__(self, d_in: int, n_classes: int, encoder_hidden: Sequence[int] = (256, 64),
                 head_hidden: Sequence[int] = (32,)):
        super().__init__()
        if not encoder_hidden:
            raise ParameterError("encoder_hidden needs at least one width (the representation's size).")
        self.d_in, self.n_classes = int(d_in), int(n_classes)
        self.encoder_hidden, self.head_hidden = tuple(int(h) for h in encoder_hidden), tuple(int(h) for h in head_hidden)
        self.encoder, d = mlp_body(self.d_in, self.encoder_hidden)
        body, d = mlp_body(d, self.head_hidden)
        self.head = torch.nn.Sequential(*body, torch.nn.Linear(d, self.n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def config(self) -> dict:
        return {"d_in": self.d_in, "n_classes": self.n_classes, "encoder_hidden": list(self.encoder_hidden),
                "head_hidden": list(self.head_hidden)}


def model_part(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """The submodule at the dotted attribute path ``name`` of ``model`` (``"encoder"``, ``"backbone.features"``)."""
    part: Any = model
    for attr in name.split("."):
        if not hasattr(part, attr):
            raise ParameterError(f"the model ({type(model).__name__}) has no submodule {name!r}: name its feature "
                                 f"extractor and head by attribute (its children: "
                                 f"{', '.join(n for n, _ in model.named_children()) or 'none'}).")
        part = getattr(part, attr)
    if not isinstance(part, torch.nn.Module):
        raise ParameterError(f"model.{name} is a {type(part).__name__}, not a torch.nn.Module.")
    return part


def as_tensor(X: Any, name: str = "X") -> torch.Tensor:
    """``X: (n, ...)`` (numpy array or tensor) as a float32 CPU tensor; at least one row, every value finite."""
    t = X.detach().to("cpu", torch.float32) if isinstance(X, torch.Tensor) else \
        torch.from_numpy(np.ascontiguousarray(np.asarray(X, dtype=np.float32)))
    if t.ndim < 2 or len(t) == 0:
        raise ShapeError(f"{name} must be (n, ...) with n >= 1 rows, got shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise ShapeError(f"{name} holds NaN or infinite values (first in row "
                         f"{int((~torch.isfinite(t.reshape(len(t), -1))).any(1).nonzero()[0, 0])}).")
    return t


def _labels(y: Any, n: int, name: str = "y") -> torch.Tensor:
    ya = np.asarray(y)
    if ya.shape != (n,) or not np.issubdtype(ya.dtype, np.integer):
        raise ShapeError(f"{name} must be (n,) int class indices with n = {n}, got shape {ya.shape}, dtype {ya.dtype}.")
    return torch.from_numpy(ya.astype(np.int64))


def predict_proba(model: torch.nn.Module, X: Any, batch_size: int = 1024, n_threads: int | None = None) -> np.ndarray:
    """``(n, k)`` softmax of ``model(X)`` in eval mode, no gradient."""
    x = as_tensor(X)
    model.eval()
    with _threads(n_threads), torch.no_grad():
        out = [torch.softmax(model(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def reinitialise(model: torch.nn.Module, random_state: Any = 0) -> torch.nn.Module:
    """A copy of ``model`` with fresh weights: ``reset_parameters()`` of every submodule that has one, seeded."""
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(_seed(random_state))
        for module in fresh.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return fresh


def fit_classifier(model: torch.nn.Module, X: Any, y: Any, *, epochs: int = 60, lr: float = 1e-3,
                   weight_decay: float = 0.0, batch_size: int = 64, sign: float = 1.0,
                   params: Optional[Sequence[torch.nn.Parameter]] = None, random_state: Any = 0,
                   n_threads: int | None = None, progress: Optional[ProgressCallback] = None,
                   stage: str = "training") -> torch.nn.Module:
    """Train ``model`` in place with Adam on the cross-entropy of ``model(X): (n, k)`` against ``y: (n,) int`` and
    return it. ``sign=-1`` ascends the loss instead (gradient ascent); ``params``: only these are updated (default
    all). Shuffled mini-batches drawn from ``random_state``; the global torch RNG is left as it was."""
    x = as_tensor(X)
    t = _labels(y, len(x))
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ParameterError(f"epochs must be >= 0, lr > 0 and batch_size >= 1; got {epochs}, {lr}, {batch_size}.")
    opt = torch.optim.Adam(list(model.parameters()) if params is None else list(params), lr=lr,
                           weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(_seed(random_state))
    with _threads(n_threads), torch.random.fork_rng():
        torch.manual_seed(_seed(random_state))
        model.train()
        for epoch in range(1, epochs + 1):
            perm = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), batch_size):
                b = perm[start:start + batch_size]
                loss = sign * F.cross_entropy(model(x[b]), t[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            report(progress, stage, epoch, epochs)
    model.eval()
    return model
