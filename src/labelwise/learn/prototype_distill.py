"""Prototype distillation: a student on one view of the items learns a frozen teacher's class prototypes.

CLIP2Scene (Chen et al., "CLIP2Scene: Towards Label-efficient 3D Scene Understanding by CLIP", CVPR 2023, seed
paper 36). A frozen image-text teacher labels each paired pixel by its nearest class-prompt text embedding; a point
cloud network (the student) is trained so that its features hit the same text embeddings, plus a feature-alignment
term and switchable self-training; the student then labels new data without any annotation, and its features start
label-efficient fine-tuning. Here "two modalities" are any two views of the same items (a text column and the
other columns of a table, two representations of one text, ...): the teacher view must live in the prototypes'
space (sentence embeddings of the class prompts), the student view can be anything numeric.

The parts, as in the official code (``pretrain/criterion.py``, ``pretrain/lightning_trainer.py``):

- **Frozen prototypes** ``P: (K, d)``, the class-prompt embeddings, L2-normalised. They are a fixed 1x1 classifier
  and are never trained (trained prototypes co-collapse with the student).
- **Semantic consistency** (:func:`semantic_consistency_loss`): ``logits_ik = cos(g_i, p_k) / tau`` and a
  cross-entropy against the teacher's pseudo-label of row ``i`` (the paper's semantic-guided contrastive loss with
  the text embeddings as positives and negatives; ``tau = 0.07``).
- **Alignment** (:func:`alignment_loss`): ``mean(1 - cos(g_i, f_i))`` between the student embedding and the
  teacher feature of the same item: the paper's spatial-temporal consistency between paired image and point
  features, without the super-node fusion (a table row is its own group).
- **Switchable self-training** (:func:`switchable_targets`): after a warm-up (``self_train_after`` of the epochs),
  with probability ``self_train_prob`` per batch the pseudo-labels are replaced by the student's own argmax, and
  rows without a teacher label (``-1``: unpaired, or dropped for a low teacher margin) get a cross-entropy on their
  own argmax.

``L = L_sem + lambda_align * L_align``; annotation-free inference is ``argmax_k cos(g_i, p_k)``.
Algorithm floor: numpy arrays in and out; torch inside.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _check_X, _seed, _threads
from labelwise.progress import ProgressCallback, report

__all__ = ["PrototypeDistiller", "prototype_logits", "semantic_consistency_loss", "alignment_loss",
           "switchable_targets"]


def prototype_logits(embeddings: torch.Tensor, prototypes: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """``embeddings: (n, d)``, ``prototypes: (K, d)`` -> ``(n, K)`` cosine similarities divided by ``tau``."""
    return F.normalize(embeddings, dim=1) @ F.normalize(prototypes, dim=1).T / tau


def semantic_consistency_loss(embeddings: torch.Tensor, prototypes: torch.Tensor, targets: torch.Tensor,
                              tau: float = 0.07) -> torch.Tensor:
    """Mean cross-entropy of :func:`prototype_logits` against ``targets: (n,) int`` (``-1``: row left out).

    0 when every target is ``-1``. The prototypes take no gradient here: pass them detached (frozen).
    """
    keep = targets >= 0
    if not bool(keep.any()):
        return embeddings.sum() * 0.0
    return F.cross_entropy(prototype_logits(embeddings[keep], prototypes, tau), targets[keep])


def alignment_loss(embeddings: torch.Tensor, teacher_feats: torch.Tensor) -> torch.Tensor:
    """``mean_i (1 - cos(g_i, f_i))`` over paired rows: ``embeddings, teacher_feats: (n, d)``."""
    return (1.0 - F.cosine_similarity(embeddings, teacher_feats, dim=1)).mean()


def switchable_targets(teacher_targets: torch.Tensor, student_logits: torch.Tensor, *, self_training: bool,
                       switch: bool) -> torch.Tensor:
    """The batch's pseudo-labels ``(n,) int``.

    Before self-training (``self_training=False``): the teacher's, ``-1`` rows left out. During it: rows without a
    teacher label take the student's argmax, and when ``switch`` (drawn per batch with ``self_train_prob``) every
    row does.
    """
    if not self_training:
        return teacher_targets
    own = student_logits.detach().argmax(dim=1)
    return own if switch else torch.where(teacher_targets >= 0, teacher_targets, own)


class _Student(torch.nn.Module):
    """The student: a 2-layer ReLU MLP from the student view ``(B, p)`` into the prototypes' space ``(B, d)``."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PrototypeDistiller(TransformerMixin, ClassifierMixin, BaseEstimator):
    """A student on one view trained to hit a frozen teacher's class prototypes (CLIP2Scene, see the module).

    Parameters
    ----------
    prototypes: ``(K, d)`` class prototypes in the teacher's space (e.g. ensembled class-prompt embeddings); kept
        frozen.
    hidden: the student MLP's hidden width (``p -> hidden -> d``).
    tau: temperature of the prototype logits (the paper's 0.07).
    lambda_align: weight of the alignment term (0: semantic consistency alone).
    self_training: switchable self-training on or off (off by default: it gave no gain in ``bench/clip2scene.py``,
        as in the notes' pilot).
    self_train_after: the share of the epochs trained before self-training may switch on (warm-up).
    self_train_prob: per batch, the probability that the student's own argmax replaces the teacher's labels.
    epochs, batch_size, lr, weight_decay: Adam training.
    random_state, n_threads: seed and torch threads.

    ``fit(X (n, p), teacher_feats (n, d) = None, teacher_labels (n,) int = None, progress=None)``: paired rows
    (a NaN row of ``teacher_feats``: the row has no teacher feature and is left out of the alignment term);
    ``teacher_labels`` default to the nearest prototype of ``teacher_feats`` (pass calibrated ones, or ``-1`` to
    leave a row out of the semantic term). ``predict_proba(X) -> (n, K)`` (softmax of the prototype logits),
    ``predict(X) -> (n,)``, ``decision_function(X) -> (n, K)`` logits, ``transform(X)`` / ``embed(X) -> (n, d)``
    the L2-normalised student embeddings (features for label-efficient fine-tuning).
    Learned: ``classes_ (K,)`` = ``0..K-1``, ``prototypes_ (K, d)`` (normalised), ``mean_``, ``scale_`` (the
    inputs' standardisation), ``model_``, ``teacher_labels_ (n,)``, ``history_`` (per epoch: mean semantic and
    alignment loss, share of batches switched), ``n_features_in_``.
    """

    def __init__(self, prototypes: Any, *, hidden: int = 512, tau: float = 0.07, lambda_align: float = 1.0,
                 self_training: bool = False, self_train_after: float = 0.5, self_train_prob: float = 0.5,
                 epochs: int = 30, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4,
                 random_state: Any = None, n_threads: Optional[int] = None):
        self.prototypes = prototypes
        self.hidden, self.tau, self.lambda_align = hidden, tau, lambda_align
        self.self_training, self.self_train_after = self_training, self_train_after
        self.self_train_prob = self_train_prob
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.random_state, self.n_threads = random_state, n_threads

    def _check_params(self) -> np.ndarray:
        P = np.asarray(self.prototypes, dtype=np.float32)
        if P.ndim != 2 or len(P) < 2 or not np.isfinite(P).all() or (np.linalg.norm(P, axis=1) == 0).any():
            raise ShapeError(f"prototypes must be a finite (K, d) array with K >= 2 non-zero rows; got shape "
                             f"{P.shape}.")
        if not self.tau > 0:
            raise ParameterError(f"tau must be > 0; got {self.tau}.")
        if not self.lambda_align >= 0:
            raise ParameterError(f"lambda_align must be >= 0; got {self.lambda_align}.")
        if not (0 <= self.self_train_after <= 1 and 0 <= self.self_train_prob <= 1):
            raise ParameterError("self_train_after and self_train_prob must be in [0, 1]; got "
                                 f"{self.self_train_after} and {self.self_train_prob}.")
        for name in ("hidden", "epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ParameterError(f"{name} must be a positive integer; got {value!r}.")
        return P / np.linalg.norm(P, axis=1, keepdims=True)

    def fit(self, X: Any, teacher_feats: Any = None, teacher_labels: Any = None,
            progress: Optional[ProgressCallback] = None) -> "PrototypeDistiller":
        P = self._check_params()
        Xa = _check_X(X)
        n, K = len(Xa), len(P)
        if teacher_feats is None and teacher_labels is None:
            raise ParameterError("fit needs teacher_feats (n, d), teacher_labels (n,), or both.")
        T, paired = None, np.ones(n, dtype=bool)
        if teacher_feats is not None:
            T = np.array(teacher_feats, dtype=np.float32)
            if T.shape != (n, P.shape[1]):
                raise ShapeError(f"teacher_feats must be ({n}, {P.shape[1]}) (X's rows, the prototypes' width); "
                                 f"got {T.shape}.")
            paired = np.isfinite(T).all(axis=1)  # a NaN row: no teacher feature for that row
            T[~paired] = 0.0
        elif self.lambda_align > 0:
            raise ParameterError("lambda_align > 0 needs teacher_feats to align with; pass them or lambda_align=0.")
        if teacher_labels is None:
            y = np.where(paired, (T @ P.T).argmax(axis=1), -1)
        else:
            y = np.asarray(teacher_labels)
            if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or y.min() < -1 or y.max() >= K:
                raise ShapeError(f"teacher_labels must be ({n},) integers in -1..{K - 1} (-1: row left out); got "
                                 f"shape {y.shape}, dtype {y.dtype}.")
        self.mean_ = Xa.mean(axis=0)
        self.scale_ = Xa.std(axis=0) + 1e-6
        Xt = torch.from_numpy((Xa - self.mean_) / self.scale_)
        Tt = None if T is None else torch.from_numpy(T)
        pt = torch.from_numpy(paired)
        yt = torch.from_numpy(y.astype(np.int64))
        Pt = torch.from_numpy(P)  # a plain tensor, never a parameter: the prototypes stay frozen
        warm = math.ceil(self.self_train_after * self.epochs)
        seed = _seed(self.random_state)
        history = []
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = _Student(Xa.shape[1], int(self.hidden), P.shape[1])
            opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for epoch in range(1, self.epochs + 1):
                model.train()
                self_training = self.self_training and epoch > warm
                perm = torch.randperm(n, generator=gen)
                sums = np.zeros(3)
                batches = 0
                for start in range(0, n, self.batch_size):
                    b = perm[start:start + self.batch_size]
                    g = model(Xt[b])
                    logits = prototype_logits(g, Pt, self.tau)
                    switch = bool(torch.rand(1, generator=gen) < self.self_train_prob) if self_training else False
                    targets = switchable_targets(yt[b], logits, self_training=self_training, switch=switch)
                    sem = semantic_consistency_loss(g, Pt, targets, self.tau)
                    pb = pt[b]  # rows with a teacher feature
                    align = (alignment_loss(g[pb], Tt[b][pb]) if Tt is not None and self.lambda_align > 0
                             and bool(pb.any()) else sem * 0.0)
                    loss = sem + self.lambda_align * align
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sums += (sem.item(), align.item(), float(switch))
                    batches += 1
                history.append(dict(zip(("semantic", "alignment", "switched"), (sums / max(batches, 1)).tolist())))
                report(progress, "distilling", epoch, self.epochs)
            model.eval()
        self.model_, self.prototypes_, self.teacher_labels_ = model, P, y
        self.classes_, self.n_features_in_, self.history_ = np.arange(K), Xa.shape[1], history
        return self

    def _embeddings(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "model_")
        Xa = _check_X(X, self.n_features_in_, type(self).__name__)
        with _threads(self.n_threads), torch.no_grad():
            return self.model_(torch.from_numpy((Xa - self.mean_) / self.scale_))

    def transform(self, X: Any) -> np.ndarray:
        """``X: (n, p)`` -> ``(n, d) float32``, the L2-normalised student embeddings."""
        return F.normalize(self._embeddings(X), dim=1).numpy().astype(np.float32)

    embed = transform

    def decision_function(self, X: Any) -> np.ndarray:
        """``(n, K)`` prototype logits, ``cos / tau``."""
        return prototype_logits(self._embeddings(X), torch.from_numpy(self.prototypes_), self.tau).numpy().astype(
            np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, K)``: softmax of the prototype logits."""
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """``(n,)`` the nearest prototype's class, annotation-free."""
        return self.decision_function(X).argmax(axis=1)
