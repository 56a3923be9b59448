"""Label-Agnostic Forgetting (LAF): unlearning a forget set without any labels.

Shen, Zhang, Zhao, Bialkowski, Chen, Xu, "Label-Agnostic Forgetting: A Supervision-Free Unlearning in Deep Models",
ICLR 2024 (code: github.com/ShaofeiShen768/LAF, MIT). The model is a feature extractor ``g`` and a head ``h``.

1. Two VAEs model the representations of the original extractor ``g0``: ``VAE_s`` those of the training data (the
   repo's choice; ``svae_data="remain"`` takes the remaining rows only) and ``VAE_u`` those of the forget set.
2. Extractor unlearning (UE): with ``r(e) = ||VAE(e) - e||^2`` summed over dimensions and ``psi(r) = exp(r / (r + 1))``,
   ``L_UE = sum_remain psi(r_s(g(x))) - sum_forget psi(r_u(g(x)))``: remaining representations stay where ``VAE_s``
   reconstructs them, forget representations move where ``VAE_u`` cannot.
3. Representation alignment (RA): with ``d(x) = 1 - cos(g(x), g0(x))`` and ``g0`` a frozen copy of the original,
   ``L_RA = sum_i [d_r(i) - log sum_j exp(d_u(j) / T)]`` (``T`` divides the forget term only).
4. One Adam step of UE and one of RA (two optimisers, ``lr_ue`` and ``lr_ra``) per pair of mini-batches; only ``g``
   changes. LAF+R (:meth:`LabelAgnosticForgetting.refit_head`) then fits the head on a few labelled rows.

Departures from the repo, as the implementation notes advise: the VAEs see standardised representations and their
decoder ends linearly (the repo's sigmoid output against unbounded embeddings lets scale dominate the error); the
reconstruction error in the UE step uses the VAE's mean code (no sampling noise in the loss); the shorter of the two
loaders is cycled, so an epoch is one pass over the longer (the repo zips them: with a small forget set an epoch is a
handful of steps). Algorithm floor: tensors/arrays in, a new module out.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.learn.heads import mlp_body
from labelwise.learn.unlearn.model import as_tensor, fit_classifier, model_part
from labelwise.progress import ProgressCallback, report

__all__ = ["LabelAgnosticForgetting", "RepresentationVAE", "alignment_loss", "extractor_unlearning_loss",
           "fit_vae", "psi"]


class RepresentationVAE(torch.nn.Module):
    """A VAE over representations ``e: (B, d)``: encoder ``d -> 128 -> 32 -> (mu, log var)`` of size ``latent``,
    decoder back to ``d`` with a linear output, on ``(e - shift) / scale`` (buffers set by :func:`fit_vae`)."""

    def __init__(self, d: int, latent: int = 8, hidden: tuple[int, ...] = (128, 32)):
        super().__init__()
        self.body, h = mlp_body(d, hidden)
        self.mu, self.log_var = torch.nn.Linear(h, latent), torch.nn.Linear(h, latent)
        dec, h = mlp_body(latent, tuple(reversed(hidden)))
        self.decoder = torch.nn.Sequential(*dec, torch.nn.Linear(h, d))
        self.register_buffer("shift", torch.zeros(d))
        self.register_buffer("scale", torch.ones(d))

    def forward(self, e: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reconstruction, mu, log_var)`` of the standardised ``e``; ``sample=False`` decodes ``mu``."""
        z = self.body((e - self.shift) / self.scale)
        mu, log_var = self.mu(z), self.log_var(z).clamp(-10, 10)
        code = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if sample else mu
        return self.decoder(code), mu, log_var

    def reconstruction_error(self, e: torch.Tensor) -> torch.Tensor:
        """``r(e): (B,)``, the squared error of the mean-code reconstruction, summed over dimensions."""
        rec, _, _ = self(e, sample=False)
        return ((rec - (e - self.shift) / self.scale) ** 2).sum(dim=1)


def fit_vae(E: torch.Tensor, *, latent: int = 8, epochs: int = 60, lr: float = 1e-3, kl_weight: float = 0.025,
            batch_size: int = 32, shift: torch.Tensor | None = None, scale: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> RepresentationVAE:
    """A :class:`RepresentationVAE` fitted to ``E: (n, d)`` with LAF's loss ``sum ||e_hat - e||^2 / B + kl_weight *
    KL / B`` (Adam). ``shift``/``scale`` (default ``E``'s mean and standard deviation) standardise the inputs."""
    E = E.detach()
    vae = RepresentationVAE(E.shape[1], latent)
    vae.shift.copy_(E.mean(0) if shift is None else shift)
    vae.scale.copy_(E.std(0).clamp_min(1e-6) if scale is None else scale)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    vae.train()
    for _ in range(epochs):
        perm = torch.randperm(len(E), generator=generator)
        for start in range(0, len(E), batch_size):
            e = E[perm[start:start + batch_size]]
            rec, mu, log_var = vae(e)
            target = (e - vae.shift) / vae.scale
            kl = -0.5 * (1 + log_var - mu ** 2 - log_var.exp()).sum()
            loss = (((rec - target) ** 2).sum() + kl_weight * kl) / len(e)
            opt.zero_grad()
            loss.backward()
            opt.step()
    vae.eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    return vae


def psi(r: torch.Tensor) -> torch.Tensor:
    """LAF's bounded transform of a reconstruction error: ``exp(r / (r + 1))``, in ``[1, e)`` for ``r >= 0``."""
    return torch.exp(r / (r + 1))


def extractor_unlearning_loss(r_remain: torch.Tensor, r_forget: torch.Tensor) -> torch.Tensor:
    """``L_UE = sum psi(r_s(remain)) - sum psi(r_u(forget))`` from errors ``(B_r,)`` under VAE_s and ``(B_u,)`` under
    VAE_u."""
    return psi(r_remain).sum() - psi(r_forget).sum()


def alignment_loss(e_remain: torch.Tensor, e0_remain: torch.Tensor, e_forget: torch.Tensor, e0_forget: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """``L_RA = sum_i [d_r(i) - log sum_j exp(d_u(j) / T)]`` with ``d = 1 - cos(g(x), g0(x))``; representations
    ``(B_r, d)``, ``(B_u, d)`` of the model being unlearned (``e``) and of the frozen original (``e0``)."""
    d_r = 1 - F.cosine_similarity(e_remain.flatten(1), e0_remain.flatten(1), dim=1)
    d_u = 1 - F.cosine_similarity(e_forget.flatten(1), e0_forget.flatten(1), dim=1)
    return (d_r - torch.logsumexp(d_u / temperature, dim=0)).sum()


def _embed(g: torch.nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([g(x[i:i + batch_size]).flatten(1) for i in range(0, len(x), batch_size)])


class LabelAgnosticForgetting(BaseEstimator):
    """LAF: remove a forget set's influence from a trained classifier without labels (module docstring).

    Parameters
    ----------
    extractor, head: attribute paths of the feature extractor and the head in the model (``model.head(
        model.extractor(x))`` must be its logits). :class:`SplitMLP` uses ``"encoder"`` and ``"head"``.
    latent_dim: the VAEs' latent size (the paper: 8 for CNNs, 16 for ResNets). vae_epochs, vae_lr, kl_weight: their
        training (KL weight 0.025 as in the repo).
    epochs: passes over the longer of the remain and forget sets; lr_ue, lr_ra: the two Adam learning rates;
        temperature: T of the RA loss (the repo: 5 for random rows, 20 for classes); batch_size: rows per batch of
        each set.
    svae_data: ``"train"`` (remain + forget, as the repo) or ``"remain"``: what VAE_s models.
    random_state: seeds the VAEs and the batches (the global torch RNG is left as it was). n_threads: torch threads.

    Attributes after :meth:`fit_transform`: ``model_`` (the unlearned copy; the input model is not changed),
    ``vae_s_``, ``vae_u_``, ``seconds_``, ``n_steps_``.
    """

    def __init__(self, extractor: str = "encoder", head: str = "head", latent_dim: int = 8, vae_epochs: int = 60,
                 vae_lr: float = 1e-3, kl_weight: float = 0.025, epochs: int = 20, lr_ue: float = 5e-4,
                 lr_ra: float = 1e-3, temperature: float = 20.0, batch_size: int = 32, svae_data: str = "train",
                 random_state: Any = 0, n_threads: Optional[int] = None):
        self.extractor, self.head, self.latent_dim = extractor, head, latent_dim
        self.vae_epochs, self.vae_lr, self.kl_weight = vae_epochs, vae_lr, kl_weight
        self.epochs, self.lr_ue, self.lr_ra, self.temperature = epochs, lr_ue, lr_ra, temperature
        self.batch_size, self.svae_data, self.random_state, self.n_threads = batch_size, svae_data, random_state, n_threads

    def _check(self) -> None:
        if self.svae_data not in ("train", "remain"):
            raise ParameterError(f"svae_data must be 'train' or 'remain', got {self.svae_data!r}.")
        if not (self.temperature > 0 and self.lr_ue > 0 and self.lr_ra > 0 and self.batch_size >= 1
                and self.epochs >= 0 and self.vae_epochs >= 1 and self.latent_dim >= 1):
            raise ParameterError("LAF needs temperature, lr_ue, lr_ra > 0, batch_size, vae_epochs, latent_dim >= 1 "
                                 "and epochs >= 0.")

    def fit_transform(self, model: torch.nn.Module, X_forget: Any, X_remain: Any,
                      progress: Optional[ProgressCallback] = None) -> torch.nn.Module:
        """The unlearned copy of ``model``. ``X_forget: (n_f, ...)`` the rows to forget, ``X_remain: (n_r, ...)`` the
        rest of the training rows; no labels. ``progress("vae", i, 2)`` and ``progress("unlearning", epoch,
        epochs)``."""
        self._check()
        xf, xr = as_tensor(X_forget, "X_forget"), as_tensor(X_remain, "X_remain")
        if xf.shape[1:] != xr.shape[1:]:
            raise ShapeError(f"X_forget rows have shape {tuple(xf.shape[1:])}, X_remain rows {tuple(xr.shape[1:])}.")
        start = time.perf_counter()
        seed = _seed(self.random_state)
        student = copy.deepcopy(model).eval()
        g0 = copy.deepcopy(model_part(model, self.extractor)).eval()
        model_part(model, self.head)  # checked now rather than in refit_head
        g = model_part(student, self.extractor)
        for p in g0.parameters():
            p.requires_grad_(False)
        gen = torch.Generator().manual_seed(seed)
        with _threads(self.n_threads), torch.random.fork_rng():
            torch.manual_seed(seed)
            e_f, e_r = _embed(g0, xf), _embed(g0, xr)
            e_s = torch.cat([e_r, e_f]) if self.svae_data == "train" else e_r
            shift, scale = e_s.mean(0), e_s.std(0).clamp_min(1e-6)
            vae_kw = dict(latent=self.latent_dim, epochs=self.vae_epochs, lr=self.vae_lr, kl_weight=self.kl_weight,
                          batch_size=self.batch_size, shift=shift, scale=scale, generator=gen)
            self.vae_s_ = fit_vae(e_s, **vae_kw)
            report(progress, "vae", 1, 2)
            self.vae_u_ = fit_vae(e_f, **vae_kw)
            report(progress, "vae", 2, 2)
            params = [p for p in g.parameters() if p.requires_grad]
            opt_ue, opt_ra = torch.optim.Adam(params, lr=self.lr_ue), torch.optim.Adam(params, lr=self.lr_ra)
            b = self.batch_size
            n_steps = int(np.ceil(max(len(xr), len(xf)) / b))
            self.n_steps_ = 0
            for epoch in range(1, self.epochs + 1):
                perm_r = _cycled(len(xr), n_steps * b, gen)
                perm_f = _cycled(len(xf), n_steps * b, gen)
                for step in range(n_steps):
                    x_r, x_f = xr[perm_r[step * b:(step + 1) * b]], xf[perm_f[step * b:(step + 1) * b]]
                    loss = extractor_unlearning_loss(self.vae_s_.reconstruction_error(g(x_r).flatten(1)),
                                                     self.vae_u_.reconstruction_error(g(x_f).flatten(1)))
                    opt_ue.zero_grad()
                    loss.backward()
                    opt_ue.step()
                    with torch.no_grad():
                        e0_r, e0_f = g0(x_r), g0(x_f)
                    loss = alignment_loss(g(x_r), e0_r, g(x_f), e0_f, self.temperature)
                    opt_ra.zero_grad()
                    loss.backward()
                    opt_ra.step()
                    self.n_steps_ += 1
                report(progress, "unlearning", epoch, self.epochs)
        student.eval()
        self.model_ = student
        self.seconds_ = time.perf_counter() - start
        return student

    def refit_head(self, model: torch.nn.Module, X: Any, y: Any, *, epochs: int = 20, lr: float = 1e-3,
                   batch_size: int = 32) -> torch.nn.Module:
        """LAF+R: a copy of ``model`` whose head alone is trained on labelled remaining rows ``X: (n, ...)``, ``y:
        (n,) int`` (a few are enough) with cross-entropy."""
        out = copy.deepcopy(model)
        head = model_part(out, self.head)
        return fit_classifier(out, X, y, epochs=epochs, lr=lr, batch_size=batch_size, params=head.parameters(),
                              random_state=self.random_state, n_threads=self.n_threads, stage="head")


def _cycled(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """``length`` row indices: shuffled passes over ``range(n)`` back to back (a short set is cycled)."""
    passes = int(np.ceil(length / n))
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(passes)])[:length]
