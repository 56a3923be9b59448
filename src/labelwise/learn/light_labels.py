"""Light labels for a distilled dataset: a small low-rank label projector instead of stored soft labels.

HeLlO (Yu, Liu, Chen, Ye, Wang, "Heavy Labels Out! Dataset Distillation with Label Space Lightening", ICCV 2025,
arXiv 2408.08201; seed paper 10). Students trained on a distilled (synthetic) set do well only with a teacher's
soft label for every augmented view of every synthetic item in every epoch (FKD / SRe2L style): ``epochs x n_syn x
K`` numbers, as heavy as the data set itself at scale (:func:`stored_soft_label_bytes`). HeLlO stores a projector
instead, which makes those labels online from the views:

    P(x) = softmax(s * (W_0 + U V^T) . normalize(h(x)) + b),   h(x) = phi(x) + relu(phi(x) A) B

- ``phi``: a frozen public encoder (the paper's CLIP image encoder; here the features the caller passes, e.g.
  MiniLM sentence embeddings from :class:`labelwise.features.text.TextEncoder`): not stored.
- ``W_0: (K, d)``: the head at zero storage, recomputable from public things: the class names' text embeddings
  (CLIP zero-shot in the paper; MiniLM class-prompt embeddings here, ``labelwise.generate.transfer.
  prompt_prototypes``) or the per-class mean feature of the synthetic set (:func:`class_prototypes`, the notes'
  substitute where no text encoder shares the feature space).
- ``U: (K, r)``, ``V: (d, r)``: the low-rank head delta; ``A: (d, r)``, ``B: (r, d)``: a LoRA-like residual
  adapter on the encoder's output (the paper puts LoRA inside CLIP; the encoder is frozen and opaque here, so the
  adapter sits on its last layer); ``s`` (a learned logit scale) and ``b: (K,)``. Only these are stored
  (:meth:`LightLabelProjector.storage_bytes`). ``U`` and ``B`` start at zero, so an unfitted projector is the
  zero-shot head.
- Fitting (:meth:`LightLabelProjector.fit`) distils the teacher on the **original** training data with
  augmentations: ``min KL(T(aug(x)) || P(aug(x)))``.
- Image-level correction (:func:`refine_synthetic`): the synthetic items move so that projector and teacher agree
  on their views, ``min_X KL(T(aug(x_s)) || P(aug(x_s))) + fidelity * ||x_s - x_s^0||^2 / ||x_s^0||^2``.
- Downstream (:class:`OnlineLabelStudent`): a student trained on augmented views of the synthetic set, each view
  labelled online by the projector (or the teacher, or labels stored per view: the heavy baseline).

Augmentation works in feature space (:class:`FeatureAugmenter`: mixup between synthetic items plus Gaussian noise,
the stand-in for crops and CutMix on images) so that teacher, projector and student all read the same features.
Views are a deterministic function of ``random_state`` (:func:`augmented_views`): a student fitted with labels
stored per view (:func:`heavy_soft_labels`) and one fitted with the same teacher online see the same views and
learn the same weights. Algorithm floor: numpy arrays in and out, torch inside.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _check_X, _seed, _threads
from labelwise.learn.heads import PerLabelLinear
from labelwise.learn.self_teaching import kd_kl_loss
from labelwise.progress import ProgressCallback, report

__all__ = ["FeatureAugmenter", "LightLabelProjector", "OnlineLabelStudent", "augmented_views", "class_prototypes",
           "heavy_soft_labels", "refine_synthetic", "stored_soft_label_bytes"]


def stored_soft_label_bytes(n_syn: int, n_classes: int, n_views: int, dtype_bytes: int = 2) -> int:
    """Bytes of the full soft-label set as HeLlO counts it: one ``(K,)`` label per augmented view of each synthetic
    item per epoch, ``n_views * n_syn * n_classes * dtype_bytes`` (float16 by default; ImageNet-1K at 1 image per
    class and 300 epochs: ``300 * 1000 * 1000 * 2`` = 572 MiB, the paper's figure)."""
    for name, value in (("n_syn", n_syn), ("n_classes", n_classes), ("n_views", n_views), ("dtype_bytes", dtype_bytes)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ParameterError(f"{name} must be a positive integer; got {value!r}.")
    return int(n_views) * int(n_syn) * int(n_classes) * int(dtype_bytes)


def class_prototypes(X: Any, y: Any, n_classes: Optional[int] = None) -> np.ndarray:
    """``X: (m, d)``, ``y: (m,) int`` in ``0..K-1`` -> ``(K, d) float32``: each class's mean row, L2-normalised
    (the zero-storage head when no text encoder shares the feature space; recomputable from the synthetic set)."""
    Xa = _check_X(X)
    ya = np.asarray(y)
    K = int(n_classes) if n_classes is not None else int(ya.max()) + 1 if ya.size else 0
    if ya.shape != (len(Xa),) or not np.issubdtype(ya.dtype, np.integer) or ya.min() < 0 or ya.max() >= K:
        raise ShapeError(f"y must be ({len(Xa)},) integers in 0..{K - 1}; got shape {ya.shape}, dtype {ya.dtype}.")
    missing = np.setdiff1d(np.arange(K), ya)
    if missing.size:
        raise ShapeError(f"class {int(missing[0])} has no row in X; every class needs one to have a prototype.")
    P = np.stack([Xa[ya == k].mean(axis=0) for k in range(K)])
    return (P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class FeatureAugmenter:
    """Augmented views of feature rows: mixup with a random partner, then Gaussian noise.

    ``__call__(X (n, d) tensor, gen) -> (views (n, d), partner (n,) long, lam (n,))``: with probability
    ``mixup_prob`` a row becomes ``lam * x_i + (1 - lam) * x_partner(i)`` with ``lam ~ Uniform(0.5, 1)`` (Beta(1, 1)
    folded so that the row stays mostly itself; ``lam = 1`` for rows not mixed), then ``noise * std(X)`` Gaussian
    noise is added (``std`` over all entries of the rows passed). Deterministic given ``gen``. ``noise=0,
    mixup_prob=0``: the identity.
    """

    def __init__(self, noise: float = 0.1, mixup_prob: float = 1.0):
        if not (noise >= 0 and 0 <= mixup_prob <= 1):
            raise ParameterError(f"FeatureAugmenter needs noise >= 0 and mixup_prob in [0, 1]; got noise={noise}, "
                                 f"mixup_prob={mixup_prob}.")
        self.noise, self.mixup_prob = float(noise), float(mixup_prob)

    def __repr__(self) -> str:
        return f"FeatureAugmenter(noise={self.noise}, mixup_prob={self.mixup_prob})"

    def __call__(self, X: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = len(X)
        partner = torch.randperm(n, generator=gen)
        lam = 0.5 + 0.5 * torch.rand(n, generator=gen, dtype=X.dtype)
        mixed = torch.rand(n, generator=gen) < self.mixup_prob
        lam = torch.where(mixed, lam, torch.ones_like(lam))
        views = lam[:, None] * X + (1 - lam[:, None]) * X[partner]
        if self.noise > 0:
            scale = X.detach().std() if X.numel() > 1 else X.new_tensor(1.0)
            views = views + self.noise * scale * torch.randn(X.shape, generator=gen, dtype=X.dtype)
        return views, partner, lam


def _augmenter(augment: Any) -> Callable:
    """``None``: the default :class:`FeatureAugmenter`; otherwise a callable ``(X, gen) -> (views, partner, lam)``."""
    if augment is None:
        return FeatureAugmenter()
    if not callable(augment):
        raise ParameterError(f"augment must be None or a callable (X, generator) -> (views, partner, lam) such as "
                             f"FeatureAugmenter; got {type(augment).__name__}.")
    return augment


def augmented_views(X: Any, augment: Any = None, n_epochs: int = 1, random_state: Any = 0
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The views a student sees, one per row per epoch: yields ``n_epochs`` times ``(views (m, d), partner (m,),
    lam (m,))`` from ``augment(X, gen)`` with one generator seeded by ``random_state``. The same int
    ``random_state`` gives the same views (this is how :func:`heavy_soft_labels` and :class:`OnlineLabelStudent`
    agree on them)."""
    Xt = torch.from_numpy(_check_X(X))
    aug = _augmenter(augment)
    gen = torch.Generator().manual_seed(_seed(random_state))
    for _ in range(int(n_epochs)):
        with torch.no_grad():
            views = aug(Xt, gen)
        yield views  # outside no_grad: the caller trains on them


def _teacher_log_probs(teacher: Any, views: torch.Tensor, differentiable: bool = False) -> torch.Tensor:
    """``(B, K)`` log-probabilities of ``teacher`` on ``views: (B, d)``: a torch module gives logits (kept
    differentiable when asked), an object with ``predict_proba`` or a plain callable gives probabilities (numpy,
    never differentiable)."""
    if isinstance(teacher, torch.nn.Module):
        if differentiable:
            return F.log_softmax(teacher(views), dim=1)
        with torch.no_grad():
            return F.log_softmax(teacher(views), dim=1)
    fn = getattr(teacher, "predict_proba", teacher)
    if not callable(fn):
        raise ParameterError(f"teacher must be a torch module (logits), an estimator with predict_proba, or a "
                             f"callable returning (n, K) probabilities; got {type(teacher).__name__}.")
    probs = np.asarray(fn(views.detach().numpy()), dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(views):
        raise ShapeError(f"the teacher returned shape {probs.shape} for {len(views)} rows; it must return (n, K) "
                         f"probabilities.")
    return torch.from_numpy(np.log(np.clip(probs, 1e-12, None))).to(views.dtype)


def heavy_soft_labels(X_syn: Any, teacher: Any, *, augment: Any = None, epochs: int = 100, random_state: Any = 0,
                      dtype: Any = np.float16) -> np.ndarray:
    """The heavy baseline: the teacher's soft label for every view of :func:`augmented_views` (FKD style, a new
    label per augmented view per epoch), ``(epochs, m, K)`` in ``dtype`` (float16, as
    :func:`stored_soft_label_bytes` counts them). Pass it to :class:`OnlineLabelStudent` with the same
    ``augment``, ``epochs`` and int ``random_state``."""
    return np.stack([_teacher_log_probs(teacher, views).exp().numpy().astype(dtype)
                     for views, _, _ in augmented_views(X_syn, augment, epochs, random_state)])


def _check_training_params(estimator: Any) -> None:
    """ParameterError unless ``estimator.epochs`` and ``.batch_size`` are positive integers and ``.temperature > 0``."""
    for name in ("epochs", "batch_size"):
        value = getattr(estimator, name)
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ParameterError(f"{name} must be a positive integer; got {value!r}.")
    if not estimator.temperature > 0:
        raise ParameterError(f"temperature must be > 0; got {estimator.temperature}.")


class _Projector(torch.nn.Module):
    """``(B, d) -> (B, K)`` logits ``s * normalize(h) (W_0 + U V^T)^T + b``, ``h = x + relu(x A) B`` (see the
    module). ``W_0`` is a buffer (not stored); ``U`` and ``B`` start at zero."""

    def __init__(self, W0: torch.Tensor, rank: int, adapter: bool, scale: float):
        super().__init__()
        K, d = W0.shape
        self.register_buffer("W0", W0)
        self.rank, self.adapter = rank, adapter and rank > 0
        if rank > 0:
            self.U = torch.nn.Parameter(torch.zeros(K, rank))
            self.V = torch.nn.Parameter(torch.randn(d, rank) / d ** 0.5)
        if self.adapter:
            self.A = torch.nn.Parameter(torch.randn(d, rank) / d ** 0.5)
            self.B = torch.nn.Parameter(torch.zeros(rank, d))
        self.log_scale = torch.nn.Parameter(torch.tensor(float(np.log(scale))))
        self.bias = torch.nn.Parameter(torch.zeros(K))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x + torch.relu(x @ self.A) @ self.B if self.adapter else x
        h = F.normalize(h, dim=1)
        z = h @ self.W0.T
        if self.rank > 0:
            z = z + (h @ self.V) @ self.U.T
        return self.log_scale.exp() * z + self.bias


class LightLabelProjector(ClassifierMixin, BaseEstimator):
    """HeLlO's image-to-label projector over frozen features: emits a teacher's soft labels online (see the module).

    Parameters
    ----------
    init_head: ``(K, d)`` the zero-storage head ``W_0`` (class-name text embeddings in the features' space, or
        :func:`class_prototypes` of the synthetic set); rows are L2-normalised. ``None``: zeros (the low-rank
        factors learn everything; ``K`` is read from the teacher).
    rank: ``r`` of the head delta ``U V^T`` and of the adapter (0: only the logit scale and bias are fitted).
    adapter: add the LoRA-like residual adapter ``relu(x A) B`` on the features (needs ``rank >= 1``).
    temperature: the initial logit scale is ``1 / temperature`` (the scale is then learned).
    augment: the views the teacher is distilled on (``None``: :class:`FeatureAugmenter` defaults); ignored when the
        teacher is given as an array of soft labels.
    epochs, batch_size, lr, weight_decay: Adam on the stored factors.
    random_state, n_threads: seed and torch threads (see :mod:`labelwise.learn.estimators`).

    ``fit(X (n, d), teacher, progress=None)``: ``X`` the **original** training rows' features; ``teacher`` a torch
    module returning logits ``(B, K)`` (in eval mode: it is called as it is), an estimator with ``predict_proba``, a
    callable ``(n, d) -> (n, K)`` probabilities (each called on augmented views), or an ``(n, K)`` array of soft
    labels for the rows as they are.
    ``predict_proba(X) -> (n, K)`` the online soft labels, ``decision_function(X) -> (n, K)`` logits,
    ``predict(X) -> (n,)`` in ``classes_ = 0..K-1``; ``storage_bytes(dtype_bytes=2)``; ``factors()`` (what to
    store) and ``from_factors(factors, init_head)`` (reload).
    Learned: ``model_``, ``n_stored_params_``, ``history_`` (per epoch: mean KL to the teacher), ``classes_``,
    ``n_features_in_``.
    """

    def __init__(self, init_head: Any = None, *, rank: int = 4, adapter: bool = True, temperature: float = 0.07,
                 augment: Any = None, epochs: int = 30, batch_size: int = 256, lr: float = 1e-2,
                 weight_decay: float = 0.0, random_state: Any = None, n_threads: Optional[int] = None):
        self.init_head, self.rank, self.adapter, self.temperature = init_head, rank, adapter, temperature
        self.augment, self.epochs, self.batch_size, self.lr = augment, epochs, batch_size, lr
        self.weight_decay, self.random_state, self.n_threads = weight_decay, random_state, n_threads

    def _check_params(self) -> None:
        if not (isinstance(self.rank, (int, np.integer)) and self.rank >= 0):
            raise ParameterError(f"rank must be an integer >= 0; got {self.rank!r}.")
        _check_training_params(self)

    def _head(self, d: int, K: Optional[int]) -> np.ndarray:
        if self.init_head is None:
            if K is None:
                raise ParameterError("init_head is None and the teacher gave no class count; pass init_head (K, d).")
            return np.zeros((K, d), dtype=np.float32)
        W = np.asarray(self.init_head, dtype=np.float32)
        if W.ndim != 2 or W.shape[1] != d or len(W) < 2 or not np.isfinite(W).all():
            raise ShapeError(f"init_head must be a finite (K, {d}) array (one row per class, X's width) with K >= 2; "
                             f"got shape {W.shape}.")
        if K is not None and len(W) != K:
            raise ShapeError(f"init_head has {len(W)} classes but the teacher gives {K}; use the same classes, in "
                             f"the same order.")
        return W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)

    def fit(self, X: Any, teacher: Any, progress: Optional[ProgressCallback] = None) -> "LightLabelProjector":
        self._check_params()
        Xa = _check_X(X)
        Xt = torch.from_numpy(Xa)
        fixed = isinstance(teacher, np.ndarray) or (isinstance(teacher, (list, tuple)) and len(teacher) == len(Xa))
        if fixed:
            T = np.asarray(teacher, dtype=np.float64)
            if T.ndim != 2 or len(T) != len(Xa) or T.shape[1] < 2:
                raise ShapeError(f"teacher soft labels must be ({len(Xa)}, K) probabilities with K >= 2; got shape "
                                 f"{T.shape}.")
            bad = ~np.isfinite(T).all(axis=1) | (T < 0).any(axis=1) | ~(T.sum(axis=1) > 0)
            if bad.any():
                raise ShapeError(f"teacher soft labels at row {int(np.flatnonzero(bad)[0])} are missing (NaN), "
                                 "negative or all zero; each row needs the teacher's K probabilities.")
            T_log = torch.from_numpy(np.log(np.clip(T / T.sum(1, keepdims=True), 1e-12, None))).float()
            K = T.shape[1]
        else:
            K = _teacher_log_probs(teacher, Xt[:2]).shape[1]
        W0 = self._head(Xa.shape[1], K)
        aug = None if fixed else _augmenter(self.augment)
        seed = _seed(self.random_state)
        history = []
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = _Projector(torch.from_numpy(W0), int(self.rank), bool(self.adapter), 1.0 / self.temperature)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for epoch in range(1, self.epochs + 1):
                total, rows = 0.0, 0
                for b in torch.randperm(len(Xa), generator=gen).split(self.batch_size):
                    if fixed:
                        views, target = Xt[b], T_log[b]
                    else:
                        views = aug(Xt[b], gen)[0]
                        target = _teacher_log_probs(teacher, views)
                    loss = kd_kl_loss(model(views), target)  # KL(teacher || projector); log-probs count as logits
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total, rows = total + loss.item() * len(b), rows + len(b)
                history.append(total / rows)
                report(progress, "fitting projector", epoch, self.epochs)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
        self.model_, self.history_ = model, history
        self.n_stored_params_ = int(sum(p.numel() for p in model.parameters()))
        self.classes_, self.n_features_in_ = np.arange(K), Xa.shape[1]
        return self

    def storage_bytes(self, dtype_bytes: int = 2) -> int:
        """Bytes needed to regenerate every label: the fitted factors, scale and bias (``W_0`` and the encoder are
        recomputable from public things and not counted), at ``dtype_bytes`` each (float16 by default). A
        :func:`class_prototypes` head of synthetic rows that :func:`refine_synthetic` then moved is no longer
        recomputable from the stored rows: add its ``K * d * dtype_bytes`` then."""
        check_is_fitted(self, "model_")
        return self.n_stored_params_ * int(dtype_bytes)

    def factors(self, dtype: Any = np.float16) -> dict[str, np.ndarray]:
        """What to store instead of the labels: the fitted factors by name (``U``, ``V``, ``A``, ``B``,
        ``log_scale``, ``bias``), in ``dtype``; their bytes sum to :meth:`storage_bytes`. Reload with
        :meth:`from_factors` and the same ``init_head``."""
        check_is_fitted(self, "model_")
        return {name: p.detach().numpy().astype(dtype) for name, p in self.model_.named_parameters()}

    @classmethod
    def from_factors(cls, factors: dict, init_head: Any = None, **params: Any) -> "LightLabelProjector":
        """A fitted projector from :meth:`factors` and the recomputed zero-storage head ``init_head: (K, d)``
        (``None`` if it was fitted without one; ``d`` is then read from ``V``). ``params``: the other constructor
        parameters (``rank`` and ``adapter`` are read from the factors)."""
        read = sorted({"rank", "adapter"} & set(params))
        if read:
            raise ParameterError(f"{' and '.join(read)} are read from the factors; leave them out of from_factors.")
        if init_head is not None and np.ndim(init_head) != 2:
            raise ShapeError(f"init_head must be a (K, d) array; got shape {np.shape(init_head)}.")
        f = {name: np.asarray(value, dtype=np.float32) for name, value in factors.items()}
        if "bias" not in f or "log_scale" not in f:
            raise ShapeError(f"factors need at least 'bias' and 'log_scale'; got {sorted(f)}.")
        rank = f["U"].shape[1] if "U" in f else 0
        if init_head is None and "V" not in f:
            raise ShapeError("init_head is None and the factors have no V to read the width from; pass init_head.")
        d = np.shape(init_head)[1] if init_head is not None else f["V"].shape[0]
        self = cls(init_head, rank=rank, adapter="A" in f, **params)
        self._check_params()
        W0 = self._head(d, len(f["bias"]))
        model = _Projector(torch.from_numpy(W0), rank, "A" in f, 1.0)
        try:
            model.load_state_dict({"W0": torch.from_numpy(W0), **{k: torch.from_numpy(v) for k, v in f.items()}})
        except RuntimeError as exc:
            raise ShapeError(f"factors do not fit a rank-{rank} projector over ({len(W0)}, {d}): "
                             f"{str(exc).splitlines()[-1].strip()}") from exc
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.model_, self.history_ = model, []
        self.n_stored_params_ = int(sum(p.numel() for p in model.parameters()))
        self.classes_, self.n_features_in_ = np.arange(len(W0)), d
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """``(n, K)`` logits."""
        check_is_fitted(self, "model_")
        Xa = _check_X(X, self.n_features_in_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            return self.model_(torch.from_numpy(Xa)).numpy().astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, K)``: the soft labels the projector makes for ``X``."""
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        return self.decision_function(X).argmax(axis=1)


def refine_synthetic(X_syn: Any, projector: LightLabelProjector, teacher: Any, *, augment: Any = None,
                     steps: int = 100, lr: float = 0.05, fidelity: float = 1.0, random_state: Any = None,
                     n_threads: Optional[int] = None) -> np.ndarray:
    """HeLlO's image-level correction: move the synthetic rows so that the fitted projector and the teacher agree
    on their views.

    ``X_syn: (m, d)`` -> ``(m, d) float32``. Adam on ``Z`` with ``X = X_syn + std(X_syn) * Z`` (so ``lr`` is in
    units of the features' spread) minimising ``mean KL(T(aug(x)) || P(aug(x))) + fidelity * mean_i ||x_i -
    x_i^0||^2 / ||x_i^0||^2``; the fidelity term keeps the rows from drifting to easy points (the notes' pitfall).
    The gradient goes through the teacher too when it is a torch module; a ``predict_proba`` teacher gives fixed
    targets at the current rows each step.
    """
    check_is_fitted(projector, "model_")
    X0 = torch.from_numpy(_check_X(X_syn, projector.n_features_in_, "the projector"))
    if not (isinstance(steps, (int, np.integer)) and steps >= 0) or not fidelity >= 0:
        raise ParameterError(f"steps must be an integer >= 0 and fidelity >= 0; got {steps!r} and {fidelity}.")
    aug = _augmenter(augment)
    seed = _seed(random_state)
    std = X0.std()
    with _threads(n_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        Z = torch.zeros_like(X0, requires_grad=True)
        opt = torch.optim.Adam([Z], lr=lr)
        norms = X0.pow(2).sum(1).clamp_min(1e-12)
        for _ in range(int(steps)):
            X = X0 + std * Z
            views = aug(X, gen)[0]
            t_log = _teacher_log_probs(teacher, views, differentiable=True)
            p_log = F.log_softmax(projector.model_(views), dim=1)
            kl = (t_log.exp() * (t_log - p_log)).sum(1).mean()
            loss = kl + fidelity * ((X - X0).pow(2).sum(1) / norms).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (X0 + std * Z.detach()).numpy().astype(np.float32)


class OnlineLabelStudent(ClassifierMixin, BaseEstimator):
    """A student trained on augmented views of a distilled set, each view labelled by what ``fit`` is given.

    ``fit(X_syn (m, d), labels, progress=None)`` where ``labels`` is one of:

    - ``(m,) int`` in ``0..K-1``: hard labels (mixed views get the mixed one-hot target; cross-entropy);
    - ``(epochs, m, K)`` soft labels stored per view (:func:`heavy_soft_labels` with the same ``augment``,
      ``epochs`` and int ``random_state``);
    - a label generator called on every view: a :class:`LightLabelProjector` (HeLlO), a teacher estimator with
      ``predict_proba``, a torch module giving logits, or a callable ``(n, d) -> (n, K)`` probabilities.

    Soft targets train with ``kd_kl_loss`` at ``temperature`` (:mod:`labelwise.learn.self_teaching`; the labels'
    probabilities are tempered as ``softmax(log p / T)``, the same ``T`` for every source). The student is an MLP
    (``hidden``; :class:`labelwise.learn.heads.PerLabelLinear`). ``predict_proba(X) -> (n, K)``, ``predict(X) ->
    (n,)`` in ``classes_ = 0..K-1``. Learned: ``model_``, ``history_`` (per epoch mean loss), ``classes_``,
    ``n_features_in_``.
    """

    def __init__(self, *, hidden: tuple[int, ...] = (256,), epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, temperature: float = 4.0, augment: Any = None,
                 random_state: Any = None, n_threads: Optional[int] = None):
        self.hidden, self.epochs, self.batch_size, self.lr = hidden, epochs, batch_size, lr
        self.weight_decay, self.temperature, self.augment = weight_decay, temperature, augment
        self.random_state, self.n_threads = random_state, n_threads

    def _targets(self, labels: Any, m: int) -> tuple[str, Any, int]:
        """(kind, labels, K) with kind ``"hard"``, ``"stored"`` or ``"online"``."""
        if isinstance(labels, (np.ndarray, list, tuple)):
            L = np.asarray(labels)
            if L.ndim == 1:
                if L.shape != (m,) or not np.issubdtype(L.dtype, np.integer) or L.min() < 0:
                    raise ShapeError(f"hard labels must be ({m},) integers >= 0; got shape {L.shape}, dtype "
                                     f"{L.dtype}.")
                K = int(L.max()) + 1
                if K < 2:
                    raise ShapeError("hard labels have one class; a student needs at least two.")
                return "hard", torch.from_numpy(L.astype(np.int64)), K
            if L.ndim == 3 and L.shape[0] == self.epochs and L.shape[1] == m and L.shape[2] >= 2:
                return "stored", L, L.shape[2]
            raise ShapeError(f"labels must be ({m},) ints or ({self.epochs}, {m}, K) soft labels stored per view "
                             f"(one per epoch); got shape {L.shape}.")
        return "online", labels, None

    def fit(self, X_syn: Any, labels: Any, progress: Optional[ProgressCallback] = None) -> "OnlineLabelStudent":
        _check_training_params(self)
        Xa = _check_X(X_syn)
        kind, L, K = self._targets(labels, len(Xa))
        seed = _seed(self.random_state)
        history = []
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            shuffle = torch.Generator().manual_seed(seed + 1)
            model = None
            views_iter = augmented_views(Xa, self.augment, self.epochs, seed)
            for epoch, (views, partner, lam) in enumerate(views_iter):
                if kind == "hard":
                    one_hot = F.one_hot(L, K).to(views.dtype)
                    target = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[partner]
                elif kind == "stored":
                    target = torch.from_numpy(np.asarray(L[epoch], dtype=np.float32))
                else:
                    target = _teacher_log_probs(L, views).exp()
                if model is None:
                    K = target.shape[1]
                    model = PerLabelLinear(Xa.shape[1], K, tuple(self.hidden))
                    opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
                model.train()
                total = 0.0
                for b in torch.randperm(len(Xa), generator=shuffle).split(self.batch_size):
                    z = model(views[b])
                    if kind == "hard":
                        loss = -(target[b] * F.log_softmax(z, dim=1)).sum(1).mean()
                    else:
                        loss = kd_kl_loss(z, target[b], temperature=self.temperature, teacher_is_probs=True)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(b)
                history.append(total / len(Xa))
                report(progress, "training student", epoch + 1, self.epochs)
            model.eval()
        self.model_, self.history_ = model, history
        self.classes_, self.n_features_in_ = np.arange(K), Xa.shape[1]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        Xa = _check_X(X, self.n_features_in_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            return torch.softmax(self.model_(torch.from_numpy(Xa)), dim=1).numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)
