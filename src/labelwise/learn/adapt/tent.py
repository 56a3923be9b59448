"""TENT: test-time entropy minimisation (Wang, Shelhamer, Liu, Olshausen, Darrell, "Tent: Fully Test-Time
Adaptation by Entropy Minimization", ICLR 2021), the base test-time adaptation the label-shift adapter plugs into.

On each test batch: normalisation layers use the batch's own statistics, and only their affine parameters (scale
and shift) take one optimiser step down the mean prediction entropy. Everything else stays frozen.
"""

from __future__ import annotations

import torch
from torch import nn

from labelwise.errors import ParameterError

__all__ = ["entropy", "configure_tent", "tent_parameters"]

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """(n,) Shannon entropy (nats) of ``softmax(logits)`` for logits (n, k)."""
    logp = torch.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1)


def tent_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The affine parameters (weight, bias) of every normalisation layer of ``model``: what TENT adapts."""
    params = [p for m in model.modules() if isinstance(m, NORM_LAYERS) for p in (m.weight, m.bias) if p is not None]
    if not params:
        raise ParameterError("TENT adapts the affine parameters of normalisation layers (BatchNorm, LayerNorm, "
                             "GroupNorm) and this model has none; use the closed-form adjustment or the adapter "
                             "alone.")
    return params


def configure_tent(model: nn.Module) -> list[nn.Parameter]:
    """Set ``model`` up for TENT in place and return the parameters to optimise.

    Every parameter is frozen except the normalisation affines; the model is put in training mode; BatchNorm layers
    forget their running statistics and normalise with each batch's own (as in TENT's reference code).
    """
    params = tent_parameters(model)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
    for p in params:
        p.requires_grad_(True)
    return params
