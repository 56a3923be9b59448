"""The label shift adapter (Park, Yang, Choo, Yun, "Label Shift Adapter for Test-Time Adaptation under Covariate
and Label Shifts", ICCV 2023, arXiv 2308.08810): a small hypernetwork from a target label prior to the parameters
of a small part of a frozen source model, the last layer's feature scaling, bias and (optionally) a low-rank weight
change.

No official code exists; this follows the reconstruction in the paper notes (papers-01-13.md, section 5.2):

    z' = (W + dW) (h(x) * feat_scale) + b + db,     (feat_scale, db, dW) = A(log prior_t)

trained offline on source rows with the generalised logit-adjusted loss ``CE(z' + log prior_s - log prior_t, y)``
over sampled long-tailed priors (random class order), so that at test time plain ``softmax(z')`` is the target
posterior. The last layer of A is zero-initialised: the adapter starts as the identity.

Shapes: ``features (n, D)`` are the inputs of the model's last linear layer ``head`` (weight ``(k, D)``), priors
``(k,)`` (or ``(B, k)``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.adapt.priors import check_prior, sample_long_tailed_prior
from labelwise.progress import ProgressCallback, report

__all__ = ["LabelShiftAdapter", "adapted_logits", "fit_label_shift_adapter", "head_inputs"]


class LabelShiftAdapter(nn.Module):
    """Prior -> last-layer parameters (Park et al., ICCV 2023).

    n_classes: k; feat_dim: D (the head's input width); hidden: width of the two hidden layers; rank: rank of the
    predicted weight change ``dW = U V^T`` (0: none, as in the notes' default).
    ``forward(prior (k,) or (B, k))`` -> dict with ``feat_scale`` (D,) / (B, D), ``bias`` (k,) / (B, k) and, when
    ``rank > 0``, ``dW`` (k, D) / (B, k, D). The input is the centred log prior (invariant to scaling the prior).
    """

    def __init__(self, n_classes: int, feat_dim: int, hidden: int = 64, rank: int = 0):
        super().__init__()
        if n_classes < 2 or feat_dim < 1 or hidden < 1 or rank < 0:
            raise ParameterError(f"LabelShiftAdapter needs n_classes >= 2, feat_dim >= 1, hidden >= 1, rank >= 0; "
                                 f"got {n_classes}, {feat_dim}, {hidden}, {rank}.")
        self.n_classes, self.feat_dim, self.rank = int(n_classes), int(feat_dim), int(rank)
        out = feat_dim + n_classes + rank * (n_classes + feat_dim)
        self.body = nn.Sequential(nn.Linear(n_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, out)
        nn.init.zeros_(self.out.weight)  # identity at the start: feat_scale 1, bias 0, dW 0
        nn.init.zeros_(self.out.bias)

    def forward(self, prior: torch.Tensor) -> dict:
        single = prior.dim() == 1
        prior = prior[None] if single else prior
        if prior.shape[-1] != self.n_classes:
            raise ShapeError(f"prior must have {self.n_classes} entries; got shape {tuple(prior.shape)}.")
        logp = torch.log(prior.clamp_min(1e-12))
        raw = self.out(self.body(logp - logp.mean(dim=-1, keepdim=True)))
        d, k, r = self.feat_dim, self.n_classes, self.rank
        params = {"feat_scale": 1.0 + raw[:, :d], "bias": raw[:, d:d + k]}
        if r:
            u = raw[:, d + k:d + k + r * k].reshape(-1, k, r)
            v = raw[:, d + k + r * k:].reshape(-1, d, r)
            params["dW"] = u @ v.transpose(1, 2)
        return {name: value[0] for name, value in params.items()} if single else params


def adapted_logits(features: torch.Tensor, head: nn.Linear, params: dict) -> torch.Tensor:
    """``(W + dW) (features * feat_scale) + b + bias``: (n, k) logits for features (n, D) and one prior's params."""
    weight = head.weight + params["dW"] if "dW" in params else head.weight
    bias = params["bias"] if head.bias is None else head.bias + params["bias"]
    return F.linear(features * params["feat_scale"], weight, bias)


def head_inputs(model: nn.Module, head: nn.Linear, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on x and return (the inputs of its last linear layer ``head`` (n, D), the model's logits (n, k)).

    The model's output must be the head's output (logits), as in ``nn.Sequential(..., nn.Linear(D, k))``.
    """
    seen: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    try:
        logits = model(x)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise ParameterError(f"the head layer ran {len(seen)} times in one forward pass; it must run exactly once "
                             "(name the model's last nn.Linear as head).")
    return seen[0], logits


def fit_label_shift_adapter(model: nn.Module, head: nn.Linear, X, y, source_prior, *, steps: int = 2000,
                            batch_size: int = 256, rho_max: float = 100.0, p_uniform: float = 0.2, hidden: int = 64,
                            rank: int = 0, lr: float = 1e-3, scale_penalty: float = 1.0,
                            random_state: Optional[int] = 0,
                            progress: Optional[ProgressCallback] = None) -> LabelShiftAdapter:
    """Train a :class:`LabelShiftAdapter` for the frozen ``model`` on labelled source rows (Park et al., 2023).

    model: a torch classifier whose output is its last linear layer ``head``'s (k logits); X: (n, ...) float
    source inputs; y: (n,) int in [0, k); source_prior: (k,) the prior the model was trained under. The model is
    run once in eval mode to get the head's inputs; each step samples a prior with
    :func:`~labelwise.learn.adapt.priors.sample_long_tailed_prior` (``rho ~ LogUniform[1, rho_max]``, random class
    order) and a batch of rows, and minimises ``CE(z' + log source_prior - log prior, y)`` (Adam, ``lr``) plus
    ``scale_penalty`` times the mean squared change of the feature scaling (and of dW): without it the adapter
    fits its rows through the D feature scales (sharpening, memorising) and learns little of the prior (measured on
    digits: feature scales of 4 +- 5 and biases unrelated to the prior).
    Held-out source rows (not the model's training rows) teach it more: on rows the model has memorised the loss is
    already near zero. Returns the adapter in eval mode.
    """
    k = head.out_features
    source = torch.as_tensor(check_prior(source_prior, k, "source_prior"), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if y.ndim != 1 or y.numel() == 0 or int(y.min()) < 0 or int(y.max()) >= k:
        raise ShapeError(f"y must be a non-empty (n,) array of class indices in 0..{k - 1}.")
    rng = np.random.default_rng(random_state)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        features, _ = head_inputs(model, head, torch.as_tensor(np.asarray(X), dtype=torch.float32))
    model.train(was_training)
    if features.shape[0] != y.shape[0]:
        raise ShapeError(f"X has {features.shape[0]} rows but y has {y.shape[0]}.")
    with torch.random.fork_rng(devices=[]):  # the adapter's initial weights, without touching torch's global seed
        torch.manual_seed(int(rng.integers(2**31)))
        adapter = LabelShiftAdapter(k, features.shape[1], hidden=hidden, rank=rank)
    optimiser = torch.optim.Adam(adapter.parameters(), lr=lr)
    head_params = list(head.parameters())
    trainable = [p.requires_grad for p in head_params]
    for p in head_params:
        p.requires_grad_(False)
    log_source = torch.log(source.clamp_min(1e-12))
    n = features.shape[0]
    for step in range(int(steps)):
        prior = torch.as_tensor(sample_long_tailed_prior(k, rng, rho_max=rho_max, p_uniform=p_uniform,
                                                         source_prior=source.numpy()), dtype=torch.float32)
        rows = torch.randint(0, n, (min(batch_size, n),), generator=gen)
        params = adapter(prior)
        logits = adapted_logits(features[rows], head, params)
        loss = F.cross_entropy(logits + log_source - torch.log(prior), y[rows])
        if scale_penalty:
            change = ((params["feat_scale"] - 1.0) ** 2).mean() + (params["dW"] ** 2).mean() if rank else \
                ((params["feat_scale"] - 1.0) ** 2).mean()
            loss = loss + scale_penalty * change
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 50 == 0 or step == steps - 1:
            report(progress, "adapter", step + 1, int(steps))
    for p, flag in zip(head_params, trainable):
        p.requires_grad_(flag)
    return adapter.eval()
