"""PatchCT: a multi-label classifier regularised by conditional transport between a set of parts and the label set.

Li, Wang, Liu, Zeng, Lu, Chen, Zhou, "Aligning Patch Set and Label Set with Conditional Transport for Multi-Label
Image Classification", ICCV 2023 (arXiv 2307.09066). The paper's repository holds no code; the transport follows the
conditional transport (CT) of Zheng & Zhou, "Exploiting Chain Rule and Bayes' Theorem to Compare Probability
Distributions", NeurIPS 2021, as the same group applies it between two sets of embeddings (WeTe, ICLR 2022); the
equations below were checked against both public codes (CT-pytorch: the forward map is a softmax over the target
set, the backward map over the source set, the two costs mixed by ``rho``; WeTe: the forward navigator is weighted
by the target set's proportions, and so is the backward cost).

An input is a set of parts (image patches, or the words of a text) ``P = sum_n theta_n delta(p_n)`` with
``theta_n = 1 / N`` over its real parts; its label set is ``Q = sum_k phi_k delta(l_k)`` with ``phi = y / |y|_1``
over the labels present. With ``c(p, l) = 1 - cos(p, l)`` and a temperature ``tau``, the two navigators are

    forward  (part -> label):  pi(l_k | p_n) = phi_k e(n, k) / sum_k' phi_k' e(n, k')
    backward (label -> part):  pi(p_n | l_k) = theta_n e(n, k) / sum_n' theta_n' e(n', k)

with ``e(n, k) = exp(cos(p_n, l_k) / tau)``, and the CT cost is

    rho sum_n theta_n sum_k pi(l_k | p_n) c(p_n, l_k) + (1 - rho) sum_k phi_k sum_n pi(p_n | l_k) c(p_n, l_k).

Unlike optimal transport there are no marginal constraints and no Sinkhorn iterations: the cost is
O(N K) per input. The classifier pools the parts, refines the pooled vector with an "adaptive layer" (an MLP) and
scores each label by cosine with its embedding; training minimises ``BCE + ct_weight * CT`` with the ground-truth
``phi``. Prediction uses the scores only; the forward navigator weighted by the *predicted* scores is the
part-label map a user reads as an explanation (:meth:`PatchCTClassifier.patch_label_map`).

Algorithm floor: torch tensors in :func:`conditional_transport`, numpy arrays (or a
:class:`labelwise.token_states.TokenStates`) in the estimator.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from sklearn.metrics import average_precision_score
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.attention import check_tokens
from labelwise.learn.estimators import _multi_hot, _seed, _threads, _TorchEstimator, _val_split
from labelwise.progress import ProgressCallback

__all__ = ["PatchCTClassifier", "conditional_transport"]


def _check_transport_params(tau: float, rho: float) -> None:
    if not tau > 0:
        raise ParameterError(f"tau must be > 0 (the navigators' temperature), got {tau}.")
    if not 0 <= rho <= 1:
        raise ParameterError(f"rho must be in [0, 1] (the forward share of the CT cost), got {rho}.")


def conditional_transport(patches: torch.Tensor, patch_mask: Optional[torch.Tensor], labels: torch.Tensor,
                          phi: torch.Tensor, tau: float = 0.1, rho: float = 0.5
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bidirectional conditional transport between each input's part set and its label set (PatchCT, ICCV 2023).

    patches: ``(B, N, d)`` part embeddings; patch_mask: ``(B, N) bool`` (True = a real part) or None (all real);
    labels: ``(K, d)`` label embeddings shared by the batch, or ``(B, K, d)``; phi: ``(B, K)`` non-negative label
    weights (a multi-hot row or scores; each row is normalised to sum 1). Vectors are compared by cosine.

    Returns ``(cost (B,), forward (B, N, K), backward (B, K, N))``:

    - ``forward[b, n]`` is ``pi(l | p_n)``, weighted by ``phi``: labels with ``phi_k = 0`` get no mass; each real
      part's row sums to 1, a masked part's row is 0;
    - ``backward[b, k]`` is ``pi(p | l_k)`` over the real parts (a masked part never receives mass); it is defined
      for every label, but only the labels present (``phi_k > 0``) enter the cost;
    - ``cost[b]`` is ``rho * forward cost + (1 - rho) * backward cost`` with ``c = 1 - cos``.

    An input with an empty label set (``phi`` all 0) or without real parts has no transport: its cost is 0 and both
    navigators are 0 there. Average the cost over the inputs where ``phi.sum(1) > 0`` and the mask has a True.
    """
    _check_transport_params(tau, rho)
    if patches.ndim != 3:
        raise ShapeError(f"patches must be (B, N, d), got shape {tuple(patches.shape)}.")
    B, N, d = patches.shape
    if patch_mask is None:
        patch_mask = torch.ones(B, N, dtype=torch.bool, device=patches.device)
    patch_mask = patch_mask.to(torch.bool)
    if patch_mask.shape != (B, N):
        raise ShapeError(f"patch_mask must be (B, N) = {(B, N)}, got {tuple(patch_mask.shape)}.")
    if labels.ndim == 2:
        labels = labels.unsqueeze(0).expand(B, -1, -1)
    if labels.ndim != 3 or labels.shape[0] != B or labels.shape[2] != d:
        raise ShapeError(f"labels must be (K, {d}) or ({B}, K, {d}), got shape {tuple(labels.shape)}.")
    K = labels.shape[1]
    if phi.shape != (B, K):
        raise ShapeError(f"phi must be (B, K) = {(B, K)}, got {tuple(phi.shape)}.")
    if bool((phi < 0).any()):
        raise ParameterError("phi must be non-negative (label weights: a multi-hot row or scores).")
    labels, phi = labels.to(patches.dtype), phi.to(patches.dtype)

    sim = torch.einsum("bnd,bkd->bnk", F.normalize(patches, dim=-1), F.normalize(labels, dim=-1))
    cost = 1.0 - sim
    present = phi > 0
    valid = present.any(1) & patch_mask.any(1)  # (B,) inputs that have a transport at all
    w = phi / phi.sum(1, keepdim=True).clamp_min(torch.finfo(phi.dtype).tiny)
    theta = patch_mask.to(sim.dtype) / patch_mask.sum(1, keepdim=True).clamp_min(1)
    neg_inf = torch.tensor(float("-inf"), dtype=sim.dtype, device=sim.device)
    tiny = torch.finfo(sim.dtype).tiny
    # forward: softmax over labels of log phi_k + cos / tau, labels with phi_k = 0 excluded
    log_w = torch.where(present, torch.log(w.clamp_min(tiny)), neg_inf)
    fwd_logits = torch.where(valid[:, None, None], sim / tau + log_w[:, None, :], torch.zeros_like(sim))
    forward = torch.softmax(fwd_logits, dim=2) * (patch_mask[:, :, None] & valid[:, None, None])
    # backward: softmax over real parts of log theta_n + cos / tau (theta is uniform over the real parts)
    bwd_logits = torch.where(patch_mask[:, None, :], sim.transpose(1, 2) / tau, neg_inf)
    bwd_logits = torch.where(valid[:, None, None], bwd_logits, torch.zeros_like(bwd_logits))
    backward = torch.softmax(bwd_logits, dim=2) * valid[:, None, None]
    forward_cost = (theta[:, :, None] * forward * cost).sum((1, 2))
    backward_cost = (w[:, :, None] * backward * cost.transpose(1, 2)).sum((1, 2))
    total = torch.where(valid, rho * forward_cost + (1 - rho) * backward_cost, torch.zeros_like(forward_cost))
    return total, forward, backward


def _part_arrays(X: Any, n_features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``X``: a :class:`TokenStates` or an ``(n, N, d)`` array (every part real) -> ``states (n, N, d) float32``,
    ``mask (n, N) bool``; with ``n_features``, ``d`` must match the fitted one."""
    parts = check_tokens(X, n_features, "PatchCTClassifier")
    return parts.states, parts.mask


def _mlp(d_in: int, hidden: tuple[int, ...], d_out: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for h in hidden:
        layers += [torch.nn.Linear(d_in, h), torch.nn.GELU()]
        d_in = h
    layers.append(torch.nn.Linear(d_in, d_out))
    return torch.nn.Sequential(*layers)


class _PatchCTNet(torch.nn.Module):
    """Parts ``(B, N, d)`` -> (logits ``(B, K)``, projected parts ``(B, N, dim)``, label vectors ``(K, dim)``)."""

    def __init__(self, d: int, n_labels: int, hidden: tuple[int, ...], dim: int, tau_cls: float,
                 label_embeddings: Optional[np.ndarray], residual: bool):
        super().__init__()
        self.tau_cls, self.residual = tau_cls, residual
        self.patch = _mlp(d, hidden, dim)
        self.adapt = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.GELU(), torch.nn.Linear(dim, dim))
        if label_embeddings is None:
            self.label_vectors = torch.nn.Parameter(torch.randn(n_labels, dim))
        else:
            source = label_embeddings - label_embeddings.mean(0) if n_labels > 1 else label_embeddings
            source = source / np.maximum(np.linalg.norm(source, axis=1, keepdims=True), 1e-12)
            self.register_buffer("label_source", torch.from_numpy(source.astype(np.float32)))
            self.label_proj = torch.nn.Linear(label_embeddings.shape[1], dim, bias=False)
        self.bias = torch.nn.Parameter(torch.zeros(n_labels))

    def labels(self) -> torch.Tensor:
        if hasattr(self, "label_vectors"):
            return self.label_vectors
        return self.label_proj(self.label_source)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = self.patch(x) * mask[:, :, None]
        pooled = parts.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        v = pooled + self.adapt(pooled) if self.residual else self.adapt(pooled)
        lab = self.labels()
        logits = F.normalize(v, dim=1) @ F.normalize(lab, dim=1).T / self.tau_cls + self.bias
        return logits, parts, lab


class PatchCTClassifier(_TorchEstimator):
    """Multi-label classifier over sets of parts (image patches, text tokens) with PatchCT's transport loss.

    Li et al., "Aligning Patch Set and Label Set with Conditional Transport for Multi-Label Image Classification",
    ICCV 2023; the transport is :func:`conditional_transport` (see the module docstring).

    Model: each part goes through a small projection (an MLP with ``hidden`` layers to ``dim``); the mean of an
    input's real parts goes through the adaptive layer (a residual one-hidden-layer MLP) into ``v``; label ``k``
    scores ``cos(v, l_k) / tau_cls + b_k``; ``predict_proba`` is the sigmoid of that (``b_k``, a per-label bias
    starting at 0, is our addition: it lets a rare label's threshold sit away from ``cos = 0``). Label vectors are
    ``label_embeddings (K, d_l)`` (the paper's frozen text-encoder prompts; for text tokens pass
    ``TextEncoder().encode(label_texts)``, in the tokens' space), centred (their mean, what every label text shares
    such as a prompt template, tells no label apart: the raw MiniLM vectors of "a picture of the digit one" and
    "... two" are nearly parallel), scaled to unit length and mapped to ``dim`` by a learned linear map; or, with None,
    learned vectors from a random start. Loss: BCE on the scores plus ``ct_weight`` times the mean CT cost between the
    projected parts and the label vectors with the ground-truth ``phi = y / |y|_1`` (inputs without labels skip the
    CT term). The ground truth is used in training only; prediction reads the scores.

    Defaults, chosen from the quantities involved, not tuned on any data set:

    - ``tau=0.1`` (navigators) and ``tau_cls=0.1`` (scores): cosines lie in [-1, 1], so ``1/tau = 10`` spreads the
      logits over 20 nats: a cosine lead of 0.1 weighs e times more, sharp enough to pick a label per part, yet no
      navigator is one-hot at the start (a too small tau makes them one-hot and their gradients vanish); for the
      scores, +-10 lets the sigmoid reach 0.99995 without a learned scale (CLIP starts at 1/0.07 ~ 14).
    - ``ct_weight=1.0``: the CT cost is a mean of ``1 - cos`` in [0, 2], the same order as a BCE loss at its start
      (log 2 ~ 0.69), so the two terms weigh equally (the paper adds them, the notes' lambda = 1).
    - ``rho=0.5``: forward and backward transport count equally, CT's symmetric default (Zheng & Zhou 2021).
    - ``residual=True``: the adaptive layer refines the pooled vector, ``v = mean + MLP(mean)`` (a residual
      adapter, as the notes read the paper's figure), so the scores start as the cosine of the parts' mean with each
      label: the classifier and the transport work on the part vectors in one space. Then the scores are nearly
      additive over the parts and BCE alone already points most parts at their labels; the transport mostly adds
      accuracy in low data (``bench/patch_ct.py``). ``residual=False`` (``v = MLP(mean)``) is closer to the paper's
      [CLS] readout, a different output of the backbone than the patch tokens: BCE alone then leaves the parts
      unaligned and the alignment is the transport's doing (the claim tests use it to isolate that effect).

    ``fit(X, Y, progress=None)``: ``X`` a :class:`~labelwise.token_states.TokenStates` (e.g. from
    ``TextEncoder.encode_tokens``) or an ``(n, N, d)`` array (every part real, e.g. image patches); ``Y`` a
    ``(n, K)`` 0/1 matrix or a sequence of label lists. ``predict_proba(X) -> (n, K) float``; ``predict(X) -> (n, K)
    int``; ``patch_label_map(X) -> (n, N, K)``. Early stopping on micro average precision of a validation split.
    Learned: ``classes_``, ``n_features_in_``, ``model_``, ``n_epochs_``, ``best_val_score_``.
    """

    def __init__(self, label_embeddings: Any = None, ct_weight: float = 1.0, tau: float = 0.1, rho: float = 0.5,
                 tau_cls: float = 0.1, hidden: tuple[int, ...] = (128,), dim: int = 64, epochs: int = 100,
                 batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-4, threshold: float = 0.5,
                 residual: bool = True, validation_fraction: float = 0.15, patience: int = 10,
                 random_state: Any = None, n_threads: int | None = None):
        self.residual = residual
        self.label_embeddings, self.ct_weight, self.tau, self.rho, self.tau_cls = (
            label_embeddings, ct_weight, tau, rho, tau_cls)
        self.hidden, self.dim, self.epochs, self.batch_size = hidden, dim, epochs, batch_size
        self.lr, self.weight_decay, self.threshold = lr, weight_decay, threshold
        self.validation_fraction, self.patience = validation_fraction, patience
        self.random_state, self.n_threads = random_state, n_threads

    def _check_params(self, n_labels: int) -> Optional[np.ndarray]:
        _check_transport_params(self.tau, self.rho)
        if not self.tau_cls > 0:
            raise ParameterError(f"tau_cls must be > 0, got {self.tau_cls}.")
        if not self.ct_weight >= 0:
            raise ParameterError(f"ct_weight must be >= 0 (0 = BCE only), got {self.ct_weight}.")
        if self.label_embeddings is None:
            return None
        emb = np.asarray(self.label_embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != n_labels:
            raise ShapeError(f"label_embeddings must be (K, d) with K = {n_labels} labels in classes_ order, got "
                             f"shape {emb.shape}.")
        if not np.isfinite(emb).all():
            raise ShapeError("label_embeddings has NaN or infinite values.")
        return emb

    def fit(self, X: Any, Y: Any, progress: Optional[ProgressCallback] = None) -> "PatchCTClassifier":
        states, mask = _part_arrays(X)
        T, self.classes_ = _multi_hot(Y)
        if len(T) != len(states):
            raise ShapeError(f"Y has {len(T)} rows but X has {len(states)}.")
        emb = self._check_params(T.shape[1])
        self.n_features_in_ = states.shape[2]
        seed = _seed(self.random_state)
        tr, va = _val_split(len(states), self.validation_fraction, np.random.default_rng(seed))
        Xt, Mt = torch.from_numpy(states[tr]), torch.from_numpy(mask[tr])
        Pt = torch.from_numpy((T[tr] == 1).astype(np.float32))
        Xv, Mv, Yv = torch.from_numpy(states[va]), torch.from_numpy(mask[va]), (T[va] == 1).astype(int)
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = _PatchCTNet(states.shape[2], T.shape[1], tuple(self.hidden), self.dim, self.tau_cls, emb,
                                bool(self.residual))

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                logits, parts, lab = model(Xt[b], Mt[b])
                loss = F.binary_cross_entropy_with_logits(logits, Pt[b])
                if self.ct_weight:
                    cost, _, _ = conditional_transport(parts, Mt[b], lab, Pt[b], tau=self.tau, rho=self.rho)
                    has = (Pt[b].sum(1) > 0) & Mt[b].any(1)
                    if bool(has.any()):
                        loss = loss + self.ct_weight * cost[has].mean()
                return loss

            def val_score() -> float:
                keep = Yv.sum(0) > 0
                if not keep.any():
                    return 0.0
                scores = model(Xv, Mv)[0].numpy()
                return float(average_precision_score(Yv[:, keep], scores[:, keep], average="micro"))

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_ = model
        return self

    def _forward(self, X: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        check_is_fitted(self, "model_")
        states, mask = _part_arrays(X, self.n_features_in_)
        m = torch.from_numpy(mask)
        with _threads(self.n_threads), torch.no_grad():
            logits, parts, lab = self.model_(torch.from_numpy(states), m)
        return logits, parts, lab, m

    def decision_function(self, X: Any) -> np.ndarray:
        """Label scores before the sigmoid: ``(n, K) float``."""
        return self._forward(X)[0].numpy().astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, K) float`` in [0, 1], columns in ``classes_`` order."""
        return expit(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        """``(n, K) int`` 0/1: probability at or above ``threshold``."""
        return (self.predict_proba(X) >= self.threshold).astype(int)

    def patch_label_map(self, X: Any, label_weights: Any = None) -> np.ndarray:
        """The forward navigator ``pi(l_k | p_n)``: ``(n, N, K) float``, each real part's row sums to 1 (a masked
        part's row is 0). Weighted by the predicted probabilities (the explanation output: which label each part
        carries), or by ``label_weights (n, K)`` non-negative (e.g. a known label set, to ask which of those labels
        each part carries; a row of zeros gives zeros)."""
        logits, parts, lab, m = self._forward(X)
        if label_weights is None:
            phi = torch.sigmoid(logits)
        else:
            phi = torch.as_tensor(np.asarray(label_weights, dtype=np.float32))
            if phi.shape != logits.shape:
                raise ShapeError(f"label_weights must be (n, K) = {tuple(logits.shape)}, got {tuple(phi.shape)}.")
        with _threads(self.n_threads), torch.no_grad():
            _, forward, _ = conditional_transport(parts, m, lab, phi, tau=self.tau, rho=self.rho)
        return forward.numpy().astype(np.float64)
