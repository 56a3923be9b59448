"""Test-time adaptation of a torch classifier to a stream whose label mix (and inputs) shifted: no adaptation,
TENT, the closed-form prior correction, the label shift adapter (Park et al., ICCV 2023), and their compositions,
behind one streaming object, :class:`LabelShiftTTA`.

Per batch ``update(X)``:

1. the model's logits ``z`` (n, k) and its last layer's inputs ``h`` (n, D) (with TENT: batch statistics in the
   normalisation layers);
2. the target prior estimate folds in ``softmax(z)`` (:class:`~labelwise.learn.adapt.priors.StreamingPriorEstimator`:
   EM per batch with momentum; the same estimator for every method, so they differ only in how they adapt);
3. the adapted logits: ``z`` (none, tent), ``z + log prior - log source_prior`` (closed_form), or the adapter's
   ``z'`` from ``h`` and the prior (adapter);
4. with TENT, one optimiser step on the normalisation affines down the mean entropy of the adapted logits (the
   predictions returned are those of the forward pass before the step, as in TENT's reference code).
"""

from __future__ import annotations

import copy
from typing import Optional

import numpy as np
import torch
from torch import nn

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.adapt.hypernetwork import LabelShiftAdapter, adapted_logits, head_inputs
from labelwise.learn.adapt.priors import StreamingPriorEstimator, log_prior_ratio
from labelwise.learn.adapt.tent import configure_tent, entropy

__all__ = ["LabelShiftTTA", "TTA_METHODS"]

TTA_METHODS = ("none", "tent", "closed_form", "tent+closed_form", "adapter", "tent+adapter")


class LabelShiftTTA:
    """A torch classifier adapted batch by batch to a shifted stream.

    model: torch module, output (n, k) logits from its last linear layer ``head`` (default: the last ``nn.Linear``
    among its modules); it is copied, never changed. source_prior: (k,) the training label frequencies.
    method: one of :data:`TTA_METHODS`. adapter: a fitted :class:`LabelShiftAdapter` (methods with "adapter").
    momentum, prior_update: of the prior estimate (:class:`StreamingPriorEstimator`). tent_lr: Adam's step size
    on the normalisation affines. collapse_entropy: with TENT, restore the model's start state when a batch's mean
    entropy falls below this (nats; TENT collapses on small batches under strong label shift); None: never.

    ``update(X (n, ...))`` -> (n, k) adapted probabilities of that batch; ``predict_proba(X)`` without adapting;
    ``priors_``: (n_batches, k) the prior estimate after each batch; ``resets_``: collapse resets so far.
    """

    def __init__(self, model: nn.Module, source_prior, *, method: str = "closed_form",
                 adapter: Optional[LabelShiftAdapter] = None, head: Optional[nn.Linear] = None,
                 momentum: float = 0.9, prior_update: str = "em", tent_lr: float = 1e-3,
                 collapse_entropy: Optional[float] = None):
        if method not in TTA_METHODS:
            raise ParameterError(f"method must be one of {', '.join(TTA_METHODS)}; got {method!r}.")
        if "adapter" in method and adapter is None:
            raise ParameterError(f"method {method!r} needs a fitted adapter (fit_label_shift_adapter).")
        self.method = method
        self.model = copy.deepcopy(model)
        self.head = _find_head(self.model, model, head)
        self.adapter = adapter
        self.source_prior = np.asarray(source_prior, dtype=np.float64)
        self.estimator = StreamingPriorEstimator(self.source_prior, momentum=momentum, update=prior_update)
        if self.estimator.source_prior.shape[0] != self.head.out_features:
            raise ShapeError(f"source_prior has {self.source_prior.shape[0]} classes but the head has "
                             f"{self.head.out_features} outputs.")
        self.collapse_entropy = collapse_entropy
        self.resets_ = 0
        if method.startswith("tent"):
            self.optimiser = torch.optim.Adam(configure_tent(self.model), lr=tent_lr)
            self._start = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimiser.state_dict()))
        else:
            self.model.eval()
            for p in self.model.parameters():
                p.requires_grad_(False)

    @property
    def priors_(self) -> np.ndarray:
        """(n_batches, k) the prior estimate after each batch so far."""
        history = self.estimator.history_
        return np.array(history) if history else np.empty((0, self.estimator.source_prior.shape[0]))

    @property
    def prior_(self) -> np.ndarray:
        """(k,) the current prior estimate."""
        return self.estimator.prior_

    def _adapted(self, features: torch.Tensor, logits: torch.Tensor, prior: np.ndarray) -> torch.Tensor:
        if self.method.endswith("closed_form"):
            ratio = log_prior_ratio(prior, self.estimator.source_prior)  # -inf for a class the source never shows
            return logits + torch.as_tensor(ratio, dtype=torch.float32)
        if self.method.endswith("adapter"):
            with torch.no_grad():
                params = self.adapter(torch.as_tensor(prior, dtype=torch.float32))
            return adapted_logits(features, self.head, params)
        return logits

    def update(self, X) -> np.ndarray:
        """Adapt to one batch X (n, ...) and return its adapted probabilities (n, k)."""
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        tent = self.method.startswith("tent")
        with torch.set_grad_enabled(tent):
            features, logits = head_inputs(self.model, self.head, x)
            prior = self.estimator.update(torch.softmax(logits.detach(), dim=1).numpy())
            adapted = self._adapted(features, logits, prior)
            if tent:
                batch_entropy = entropy(adapted).mean()
                self.optimiser.zero_grad()
                batch_entropy.backward()
                self.optimiser.step()
                if self.collapse_entropy is not None and float(batch_entropy) < self.collapse_entropy:
                    self.model.load_state_dict(self._start[0])
                    self.optimiser.load_state_dict(self._start[1])
                    self.resets_ += 1
        return torch.softmax(adapted.detach(), dim=1).numpy().astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """(n, k) adapted probabilities of X with the current state (nothing is updated)."""
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        with torch.no_grad():
            features, logits = head_inputs(self.model, self.head, x)
            return torch.softmax(self._adapted(features, logits, self.prior_), dim=1).numpy().astype(np.float64)


def _find_head(copied: nn.Module, original: nn.Module, head: Optional[nn.Linear]) -> nn.Linear:
    """The copy's module that corresponds to ``head`` in the original (default: the last nn.Linear)."""
    if head is None:
        linears = [m for m in copied.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ParameterError("the model has no nn.Linear layer; pass head= (its last linear layer).")
        return linears[-1]
    for (_, mine), (_, theirs) in zip(copied.named_modules(), original.named_modules()):
        if theirs is head:
            if not isinstance(mine, nn.Linear):
                raise ParameterError("head must be an nn.Linear layer of the model.")
            return mine
    raise ParameterError("head is not a module of model.")
