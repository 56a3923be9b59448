"""LaSO: label-set operations networks, and feature synthesis for few-shot multi-label learning.

Alfassy, Karlinsky, Aides, Shtok, Harary, Feris, Giryes, Bronstein, "LaSO: Label-Set Operations networks for
multi-label few-shot learning", CVPR 2019 (arXiv 1902.09811; code leokarlin/LaSO, BSD-3-Clause). Three small
networks take the feature vectors ``a``, ``b`` of two examples and return a feature vector whose label set is the
union, intersection or difference of theirs; their outputs are extra training examples for labels with few
examples.

One network per operation (the official ``SetopResBlock_v1``): ``h = LReLU_0.2(BN(Lin([a; b])))``, then
``n_residual`` layers ``h = LReLU_0.2(BN(Lin(h)) + r)`` where ``r`` is the operation's analytic prior
(``a + b`` union, ``min(a, b)`` intersection, ``ReLU(a - b)`` subtraction), then a linear output and a ReLU (pooled
ReLU features are non-negative). labelwise adds the prior once more around the whole block, ``out =
act(r + Lin_out(h))`` with ``Lin_out`` initialised at zero, and a penalty ``w_prior * ||out - r||^2``: the notes'
pilot found the analytic priors already near-perfect set operators on pooled features, and a network trained
against a classifier of the *seen* labels drifts away from directions that only unseen labels need. So a LaSO here
starts as the prior and moves only where the losses pay for it.

Losses (all weights 1, as in the official training script): classification of every synthesised vector by a
frozen multi-label classifier against its operated labels (union, intersection, both subtractions);
reconstruction ``U(S(a, I(b, a)), I(a, b)) ~ a`` (and for ``b``; it keeps the outputs tied to the inputs);
symmetry ``U(a, b) ~ U(b, a)``, ``I(a, b) ~ I(b, a)``; plus the prior penalty. Mean squared errors are measured
in units of the features' root mean square (the priors commute with that scaling), so the weights do not depend on
the feature scale. Half of the training pairs share a label (else most intersections would be empty). The official
code's "tautology" terms (``S(S(a, b), b)`` and the like) are not built.

Algorithm floor: numpy arrays (estimators) and torch tensors (the module) in and out.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _check_X, _multi_hot, _seed, _threads
from labelwise.learn.probe import LinearProbe
from labelwise.progress import ProgressCallback, report

__all__ = ["LaSO", "LaSOAugmenter", "LaSOClassifier", "analytic_set_op", "label_set_op"]

OPS = ("union", "intersection", "subtraction")


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ParameterError(f"op must be one of {', '.join(OPS)}; got {op!r}.")


def label_set_op(ya: Any, yb: Any, op: str) -> np.ndarray:
    """The label algebra: ``ya, yb: (..., K)`` multi-hot (nonzero = present) -> ``(..., K) int``: union ``ya | yb``,
    intersection ``ya & yb``, subtraction ``ya & ~yb``."""
    _check_op(op)
    a, b = np.asarray(ya) > 0, np.asarray(yb) > 0
    if a.shape != b.shape:
        raise ShapeError(f"ya and yb must have the same shape, got {a.shape} and {b.shape}.")
    out = a | b if op == "union" else a & b if op == "intersection" else a & ~b
    return out.astype(int)


def analytic_set_op(a: Any, b: Any, op: str) -> Any:
    """The analytic prior on features (torch tensors or numpy arrays, ``(..., d)``): ``a + b`` (union),
    ``min(a, b)`` (intersection), ``max(a - b, 0)`` (subtraction)."""
    _check_op(op)
    lib = torch if isinstance(a, torch.Tensor) else np
    if op == "union":
        return a + b
    if op == "intersection":
        return lib.minimum(a, b)
    return lib.clamp(a - b, min=0) if lib is torch else np.maximum(a - b, 0)


class _SetOpBlock(torch.nn.Module):
    """``(a (B, d), b (B, d)) -> (B, d)``: one set-operation network (see the module docstring)."""

    def __init__(self, dim: int, op: str, n_residual: int, prior: bool, anchor: bool, out_activation: str):
        super().__init__()
        self.op, self.prior, self.anchor, self.out_activation = op, prior, anchor and prior, out_activation
        self.inp = torch.nn.Sequential(torch.nn.Linear(2 * dim, dim), torch.nn.BatchNorm1d(dim),
                                       torch.nn.LeakyReLU(0.2))
        self.fc = torch.nn.ModuleList([torch.nn.Linear(dim, dim) for _ in range(n_residual)])
        self.bn = torch.nn.ModuleList([torch.nn.BatchNorm1d(dim) for _ in range(n_residual)])
        self.out = torch.nn.Linear(dim, dim)
        if self.anchor:
            torch.nn.init.zeros_(self.out.weight)
            torch.nn.init.zeros_(self.out.bias)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        r = analytic_set_op(a, b, self.op) if self.prior else torch.zeros_like(a)
        h = self.inp(torch.cat([a, b], dim=1))
        for fc, bn in zip(self.fc, self.bn):
            h = F.leaky_relu(bn(fc(h)) + r, 0.2)
        y = r + self.out(h) if self.anchor else self.out(h)
        return F.relu(y) if self.out_activation == "relu" else y


class LaSO(torch.nn.Module):
    """Union, intersection and subtraction networks on a fixed feature space of dimension ``dim``.

    n_residual: residual layers per network (the official runs use 1-2). prior: add the analytic priors as residuals
    inside each block. anchor: also add the prior around each block, whose output layer starts at zero (so an
    untrained LaSO is the prior exactly); ``anchor=False, prior=True`` with ``fit(w_prior=0)`` is the paper's block
    and training. out_activation: ``"relu"`` for non-negative (pooled ReLU) features, ``"none"`` for signed ones
    such as sentence embeddings.

    ``forward(a (B, d), b (B, d), op) -> (B, d)`` in the caller's feature units; ``synthesize(A, B, op)``: numpy in
    and out, eval mode (BatchNorm's running statistics, never the batch's). ``fit(X, Y, classifier=None, ...)``
    trains the three networks (see the module docstring); ``classifier`` is a torch module ``(B, d) -> (B, K)``
    logits over ``Y``'s labels, frozen (its parameters are set to ``requires_grad=False``); None: a
    :class:`LinearProbe` is fitted on ``(X, Y)`` and frozen.
    """

    def __init__(self, dim: int, n_residual: int = 1, prior: bool = True, anchor: bool = True,
                 out_activation: str = "relu"):
        super().__init__()
        if out_activation not in ("relu", "none"):
            raise ParameterError(f"out_activation must be 'relu' or 'none'; got {out_activation!r}.")
        self.dim = int(dim)
        self.nets = torch.nn.ModuleDict({op: _SetOpBlock(self.dim, op, n_residual, prior, anchor, out_activation)
                                         for op in OPS})
        self.register_buffer("scale", torch.ones(()))

    def _op(self, a: torch.Tensor, b: torch.Tensor, op: str) -> torch.Tensor:
        """The operation in units of ``scale``."""
        return self.nets[op](a, b)

    def forward(self, a: torch.Tensor, b: torch.Tensor, op: str) -> torch.Tensor:
        _check_op(op)
        if a.ndim != 2 or a.shape != b.shape or a.shape[1] != self.dim:
            raise ShapeError(f"a and b must both be (B, {self.dim}), got {tuple(a.shape)} and {tuple(b.shape)}.")
        return self._op(a / self.scale, b / self.scale, op) * self.scale

    def synthesize(self, A: Any, B: Any, op: str) -> np.ndarray:
        """``A, B: (n, d)`` -> ``(n, d) float32`` synthesised features, in eval mode and without gradients."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(torch.as_tensor(np.asarray(A, dtype=np.float32)),
                            torch.as_tensor(np.asarray(B, dtype=np.float32)), op).numpy()
        finally:
            self.train(was)

    def fit(self, X: Any, Y: Any, classifier: Optional[torch.nn.Module] = None, epochs: int = 30,
            batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, w_cls: float = 1.0,
            w_rec: float = 1.0, w_sym: float = 1.0, w_prior: float = 1.0, random_state: Any = 0,
            progress: Optional[ProgressCallback] = None) -> "LaSO":
        """Train on the pairs of ``X: (n, d)`` features with multi-hot ``Y: (n, K)``; returns self (eval mode)."""
        Xa = _check_X(X, self.dim, "LaSO")
        T, _ = _multi_hot(Y)
        if len(T) != len(Xa):
            raise ShapeError(f"Y has {len(T)} rows but X has {len(Xa)}.")
        if len(Xa) < 4:
            raise ShapeError(f"LaSO needs at least 4 rows to train on pairs, got {len(Xa)}.")
        T = (T == 1).astype(np.float32)
        if classifier is None:
            classifier = _probe_module(LinearProbe().fit(Xa, T))
        for p in classifier.parameters():
            p.requires_grad_(False)
        classifier.eval()
        seed = _seed(random_state)
        rng = np.random.default_rng(seed)
        self.scale.fill_(float(np.sqrt((Xa.astype(np.float64) ** 2).mean())) or 1.0)
        Xs = torch.from_numpy(Xa) / self.scale
        Tt = torch.from_numpy(T)
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)

        def bce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(classifier(z * self.scale), y)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.train()
            for epoch in range(1, epochs + 1):
                ia, ib = _sample_pairs(T, len(Xa), "mixed", rng)
                for start in range(0, len(ia), batch_size):
                    sa, sb = ia[start:start + batch_size], ib[start:start + batch_size]
                    if len(sa) < 2:
                        continue
                    a, b, ya, yb = Xs[sa], Xs[sb], Tt[sa], Tt[sb]
                    u_ab, u_ba = self._op(a, b, "union"), self._op(b, a, "union")
                    i_ab, i_ba = self._op(a, b, "intersection"), self._op(b, a, "intersection")
                    s_ab, s_ba = self._op(a, b, "subtraction"), self._op(b, a, "subtraction")
                    cls = (bce(u_ab, torch.maximum(ya, yb)) + bce(i_ab, ya * yb)
                           + bce(s_ab, ya * (1 - yb)) + bce(s_ba, yb * (1 - ya)))
                    rec = (F.mse_loss(self._op(self._op(a, i_ba, "subtraction"), i_ab, "union"), a)
                           + F.mse_loss(self._op(self._op(b, i_ab, "subtraction"), i_ba, "union"), b))
                    sym = F.mse_loss(u_ab, u_ba) + F.mse_loss(i_ab, i_ba)
                    prior = sum(F.mse_loss(out, analytic_set_op(a, b, op))
                                for out, op in ((u_ab, "union"), (i_ab, "intersection"), (s_ab, "subtraction")))
                    loss = w_cls * cls + w_rec * rec + w_sym * sym + w_prior * prior
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                report(progress, "training", epoch, epochs)
        self.eval()
        return self


def _probe_module(probe: LinearProbe) -> torch.nn.Module:
    """A fitted :class:`LinearProbe` as a torch ``Linear`` on raw features (constant labels: logit +-20)."""
    w = probe.coef_ / probe.scale_
    b = np.clip(probe.intercept_, -20, 20) - w @ probe.mean_
    lin = torch.nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
    return lin


def _sample_pairs(T: np.ndarray, n_pairs: int, sampler: str, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(ia, ib)`` of ``n_pairs`` pairs (``a != b`` when there are 2 or more rows).

    sampler: ``"uniform"``; ``"overlap"`` (``b`` shares a label with ``a`` where ``a`` has one: pick one of ``a``'s
    labels, then a row with it); ``"mixed"`` (half each); ``"rare"`` (rows drawn with probability proportional to
    ``1 / count`` of their rarest label, so few-shot labels are combined most; rows without a label get the
    smallest weight).
    """
    n = len(T)
    if sampler == "mixed":
        half = n_pairs // 2
        ua, ub = _sample_pairs(T, half, "uniform", rng)
        oa, ob = _sample_pairs(T, n_pairs - half, "overlap", rng)
        order = rng.permutation(n_pairs)
        return np.concatenate([ua, oa])[order], np.concatenate([ub, ob])[order]
    p = None
    if sampler == "rare":
        counts = T.sum(0)
        inv = np.where(T > 0, 1.0 / np.maximum(counts, 1.0), 0.0).max(1)
        inv[inv == 0] = inv[inv > 0].min() if (inv > 0).any() else 1.0
        p = inv / inv.sum()
    ia = rng.choice(n, size=n_pairs, p=p)
    ib = rng.choice(n, size=n_pairs, p=p)
    if sampler == "overlap":
        for k, i in enumerate(ia):
            labels = np.flatnonzero(T[i])
            if len(labels):
                holders = np.flatnonzero(T[:, rng.choice(labels)])
                others = holders[holders != i]
                if len(others):
                    ib[k] = rng.choice(others)
    if n >= 2:  # never pair a row with itself
        same = ia == ib
        ib[same] = (ib[same] + rng.integers(1, n, size=int(same.sum()))) % n
    return ia, ib


class LaSOAugmenter:
    """Synthesise ``n_pairs`` labelled feature vectors from pairs of training rows with a set operation.

    laso: a fitted :class:`LaSO` (e.g. trained on labels with many examples, then applied to few-shot ones, as in
        the paper), ``"prior"`` (the analytic operation, no network) or None (a LaSO fitted on the same ``(X, Y)``
        with ``laso_epochs``).
    op: the operation (union by default, the paper's few-shot augmentation). pair_sampler: ``"uniform"``,
        ``"overlap"`` (pairs share a label: use it for intersection, whose random pairs are mostly empty) or
        ``"rare"`` (rows with the rarest labels drawn most).

    ``fit_resample(X (n, d), Y (n, K)) -> (X_aug (n + n_pairs, d) float32, Y_aug (n + n_pairs, K) int)``: the real
    rows first, then the synthesised ones with their operated labels. Learned: ``laso_`` (None for the prior),
    ``pairs_ (n_pairs, 2)`` row indices.
    """

    def __init__(self, laso: Union["LaSO", str, None] = None, op: str = "union", n_pairs: int = 200,
                 pair_sampler: str = "uniform", laso_epochs: int = 30, random_state: Any = None):
        self.laso, self.op, self.n_pairs, self.pair_sampler = laso, op, n_pairs, pair_sampler
        self.laso_epochs, self.random_state = laso_epochs, random_state

    def fit_resample(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        _check_op(self.op)
        if self.pair_sampler not in ("uniform", "overlap", "rare"):
            raise ParameterError(f"pair_sampler must be 'uniform', 'overlap' or 'rare'; got {self.pair_sampler!r}.")
        Xa = _check_X(X)
        T, _ = _multi_hot(Y)
        if len(T) != len(Xa):
            raise ShapeError(f"Y has {len(T)} rows but X has {len(Xa)}.")
        T = (T == 1).astype(int)
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        if isinstance(self.laso, str) and self.laso != "prior":
            raise ParameterError(f"laso must be a fitted LaSO, 'prior' or None; got {self.laso!r}.")
        if self.laso is None:
            out_act = "relu" if (Xa >= 0).all() else "none"
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.laso_ = LaSO(Xa.shape[1], out_activation=out_act).fit(Xa, T, epochs=self.laso_epochs,
                                                                           random_state=seed)
        else:
            self.laso_ = None if self.laso == "prior" else self.laso
        if self.n_pairs <= 0 or len(Xa) < 2:
            self.pairs_ = np.zeros((0, 2), dtype=int)
            return Xa, T
        ia, ib = _sample_pairs(T, int(self.n_pairs), self.pair_sampler, rng)
        self.pairs_ = np.stack([ia, ib], 1)
        if self.laso_ is None:
            synth = analytic_set_op(Xa[ia], Xa[ib], self.op).astype(np.float32)
        else:
            synth = self.laso_.synthesize(Xa[ia], Xa[ib], self.op)
        return np.concatenate([Xa, synth]), np.concatenate([T, label_set_op(T[ia], T[ib], self.op)])


class LaSOClassifier(BaseEstimator):
    """Multi-label classifier with LaSO augmentation: :class:`LaSOAugmenter` adds ``n_pairs`` synthesised rows, then
    a linear per-label probe (:class:`labelwise.learn.probe.LinearProbe`, ``C=probe_C``) learns on real +
    synthesised rows. Meant for labels with few examples; ``laso`` as in :class:`LaSOAugmenter`. Pairs are drawn
    with ``pair_sampler="rare"`` by default: on a whole table, uniform pairs would mostly combine the frequent
    labels, while the augmentation exists for the rare ones (in the paper's few-shot episodes every label is rare
    and both samplers draw nearly uniformly).

    ``fit(X (n, d), Y (n, K) 0/1 or label lists, progress=None)``; ``predict_proba(X) -> (n, K)``;
    ``predict(X) -> (n, K)`` 0/1 at ``threshold``. Learned: ``classes_``, ``n_features_in_``, ``augmenter_``,
    ``probe_``.
    """

    def __init__(self, laso: Union["LaSO", str, None] = None, op: str = "union", n_pairs: int = 200,
                 pair_sampler: str = "rare", laso_epochs: int = 30, probe_C: float = 1.0,
                 threshold: float = 0.5, random_state: Any = None, n_threads: Optional[int] = None):
        self.laso, self.op, self.n_pairs, self.pair_sampler = laso, op, n_pairs, pair_sampler
        self.laso_epochs, self.probe_C, self.threshold = laso_epochs, probe_C, threshold
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, Y: Any, progress: Optional[ProgressCallback] = None) -> "LaSOClassifier":
        Xa = _check_X(X)
        T, self.classes_ = _multi_hot(Y)
        self.n_features_in_ = Xa.shape[1]
        with _threads(self.n_threads):
            self.augmenter_ = LaSOAugmenter(self.laso, self.op, self.n_pairs, self.pair_sampler, self.laso_epochs,
                                            self.random_state)
            Xg, Yg = self.augmenter_.fit_resample(Xa, T)
        report(progress, "training", 1, 1)
        self.probe_ = LinearProbe(C=self.probe_C).fit(Xg, Yg)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "probe_")
        return self.probe_.predict_proba(_check_X(X, self.n_features_in_, type(self).__name__))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= self.threshold).astype(int)
