"""FILTER's fusion encoder and a scikit-learn-style tagger with self-teaching (Fang, Wang, Gan, Sun, Liu, "FILTER:
An Enhanced Fusion Method for Cross-lingual Language Understanding", AAAI 2021).

A text and its translation are two segments. :class:`FusionEncoder` runs ``m`` local layers on each segment
alone, ``k`` fusion layers on their concatenation (joint self-attention, padding masked across both) and the
remaining ``n_layers - m - k`` domain layers on each segment alone again; the layers' weights are shared by the two
segments and each segment's positions restart at 0. Heads read every token (tagging) or the pooled target segment
(classification).

:class:`FusionTagger` trains it on pairs (source sentence with its tags, target sentence with unreliable tags,
e.g. projected through a translation) and predicts the target's tags. Phase 1 (``alpha=0``): cross-entropy on
both segments. Phase 2 (self-teaching, ``alpha > 0``): ``CE(source) + (1 - alpha) CE(target) + alpha *
kd_kl_loss(target, teacher)`` (:mod:`labelwise.learn.self_teaching`) with a teacher that is a fitted
:class:`FusionTagger`, several (their logits averaged) or soft labels from anywhere (an LLM's label probabilities).
Without a source (``source_ids=None``) the same network encodes the target alone: translate-train.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.learn.self_teaching import ensemble_logits, kd_kl_loss
from labelwise.progress import ProgressCallback, report

__all__ = ["FusionEncoder", "FusionTagger"]

PAD = 0


class FusionEncoder(torch.nn.Module):
    """FILTER's local / fusion / domain transformer over two segments (a text and its translation).

    ``n_layers`` pre-norm transformer layers of width ``d_model``: the first ``m`` run on each segment separately,
    the next ``k`` on the concatenation, the rest on each segment separately. Token embeddings are shared (one
    vocabulary for both languages, index 0 is padding); learned positions restart at 0 in each segment.
    ``task``: ``"tagging"`` (logits for every token) or ``"classification"`` (one logits row per pair, from the
    mean of the target segment's final states).

    ``forward(source (B, S) long or None, target (B, T) long) -> (source logits, target logits)``: tagging gives
    ``(B, S, n_labels)`` and ``(B, T, n_labels)``; classification ``(B, n_labels)`` for the target (and the source
    pooled alike). Padded positions (id 0) are masked everywhere; their outputs are meaningless. With ``source=None``
    every layer runs on the target alone (a plain encoder: the translate-train baseline) and the source logits are
    None.
    """

    def __init__(self, vocab_size: int, n_labels: int, d_model: int = 64, n_layers: int = 4, m: int = 1, k: int = 1,
                 n_heads: int = 4, max_positions: int = 256, dropout: float = 0.1, task: str = "tagging"):
        super().__init__()
        if not (0 <= m and 0 <= k and m + k <= n_layers):
            raise ParameterError(f"need 0 <= m, 0 <= k and m + k <= n_layers; got m={m}, k={k}, "
                                 f"n_layers={n_layers}.")
        if task not in ("tagging", "classification"):
            raise ParameterError(f"task must be 'tagging' or 'classification', got {task!r}.")
        self.m, self.k, self.task, self.max_positions = m, k, task, max_positions
        self.tokens = torch.nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.positions = torch.nn.Embedding(max_positions, d_model)
        self.dropout = torch.nn.Dropout(dropout)
        self.layers = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
            for _ in range(n_layers)])
        self.norm = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, n_labels)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_positions:
            raise ShapeError(f"a segment has {ids.shape[1]} tokens; this encoder takes at most "
                             f"max_positions={self.max_positions}.")
        pos = torch.arange(ids.shape[1], device=ids.device)
        return self.dropout(self.tokens(ids) + self.positions(pos)[None])

    @staticmethod
    def _run(layers: Sequence[torch.nn.Module], h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            h = layer(h, src_key_padding_mask=pad)
        return h

    def encode(self, source: Optional[torch.Tensor], target: torch.Tensor
               ) -> tuple[Optional[torch.Tensor], torch.Tensor]:
        """Final states ``(B, S, d)`` (None without a source) and ``(B, T, d)``."""
        pad_t = target == PAD
        h_t = self._embed(target)
        if source is None:
            return None, self.norm(self._run(self.layers, h_t, pad_t))
        if source.shape[0] != target.shape[0]:
            raise ShapeError(f"source has {source.shape[0]} rows and target {target.shape[0]}; give one source per "
                             f"target.")
        pad_s = source == PAD
        local, fusion, domain = self.layers[:self.m], self.layers[self.m:self.m + self.k], self.layers[self.m + self.k:]
        h_s = self._run(local, self._embed(source), pad_s)
        h_t = self._run(local, h_t, pad_t)
        if self.k:
            h = self._run(fusion, torch.cat([h_s, h_t], 1), torch.cat([pad_s, pad_t], 1))
            h_s, h_t = h[:, :source.shape[1]], h[:, source.shape[1]:]
        return self.norm(self._run(domain, h_s, pad_s)), self.norm(self._run(domain, h_t, pad_t))

    def forward(self, source: Optional[torch.Tensor], target: torch.Tensor
                ) -> tuple[Optional[torch.Tensor], torch.Tensor]:
        h_s, h_t = self.encode(source, target)
        if self.task == "classification":
            h_s = None if h_s is None else _mean_pool(h_s, source != PAD)
            h_t = _mean_pool(h_t, target != PAD)
        return (None if h_s is None else self.head(h_s)), self.head(h_t)


def _mean_pool(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    w = keep.to(h.dtype)[..., None]
    return (h * w).sum(1) / w.sum(1).clamp_min(1.0)


def _check_ids(ids: Any, name: str, n: int | None = None) -> list[np.ndarray]:
    """A sequence of ``(T_i,)`` non-negative int arrays, none empty (``n`` of them when given)."""
    if ids is None or isinstance(ids, (str, bytes)):
        raise ShapeError(f"{name} must be a sequence of token-id arrays, one per sentence; got {type(ids).__name__}.")
    out = []
    for i, row in enumerate(ids):
        a = np.asarray(row)
        if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
            raise ShapeError(f"{name}[{i}] must be a non-empty 1-D array of ints, got shape {a.shape} dtype "
                             f"{a.dtype}.")
        if a.min() < 0:
            raise ShapeError(f"{name}[{i}] has a negative id ({int(a.min())}); ids must be >= 0.")
        out.append(a.astype(np.int64))
    if n is not None and len(out) != n:
        raise ShapeError(f"{name} has {len(out)} sentences, the target {n}; give one per target sentence.")
    return out


def _check_tags(tags: Any, name: str, ids: list[np.ndarray], ids_name: str) -> list[np.ndarray]:
    out = _check_ids(tags, name, len(ids))
    for i, (t, x) in enumerate(zip(out, ids)):
        if len(t) != len(x):
            raise ShapeError(f"{name}[{i}] has {len(t)} tags for {len(x)} tokens of {ids_name}[{i}]; give one tag "
                             f"per token.")
    return out


def _pad(rows: Sequence[np.ndarray], value: int = PAD) -> torch.Tensor:
    out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return torch.from_numpy(out)


class FusionTagger(BaseEstimator):
    """Token tagger on (source, target) sentence pairs with FILTER's fusion encoder and self-teaching (paper 17).

    Parameters
    ----------
    m, k, n_layers: local / fusion layers and the total (domain layers: ``n_layers - m - k``). The paper's tagging
        runs use m = 1, k = 1.
    alpha: weight of the self-teaching term on the target (``0``: phase 1, hard labels only). Needs ``teacher``.
    temperature: ``T`` of :func:`labelwise.learn.self_teaching.kd_kl_loss` (the paper's tagging default 1).
    teacher: None, a fitted :class:`FusionTagger`, a list of them (their logits on the training pairs averaged),
        or soft labels for the training targets: a sequence of ``(T_i, n_tags)`` probability arrays (an LLM's
        label probabilities, say). Computed once at the start of ``fit`` and frozen. (scikit-learn's ``clone``
        clones a teacher estimator unfitted: give its ``predict_proba`` output when the student must be cloned.)
    n_tags: number of tag ids; None: the largest tag id given to ``fit`` plus 1.
    d_model, n_heads, dropout, max_positions: the encoder's size. epochs, batch_size, lr: Adam training.
    random_state, n_threads: as :mod:`labelwise.learn.estimators` (fit reproducible; torch on 1 thread).

    ``fit(source_ids, target_ids, source_tags, target_tags, progress=None)``: ``source_ids[i]: (S_i,)``,
    ``target_ids[i]: (T_i,)`` int token ids (any ids >= 0; one vocabulary for both sides, ids unseen in ``fit``
    become an unknown token later), ``source_tags[i]: (S_i,)`` and ``target_tags[i]: (T_i,)`` int tag ids.
    ``source_ids=None`` (and ``source_tags=None``) trains a target-only encoder: translate-train.
    ``target_tags=None`` is allowed with ``alpha=1`` (soft labels only). ``predict(source_ids, target_ids) ->
    [(T_i,) int]``, ``predict_proba -> [(T_i, n_tags) float]``, ``decision_function -> [(T_i, n_tags)]`` logits:
    all on the target side. Learned: ``classes_`` (``arange(n_tags)``), ``n_vocab_``, ``model_``, ``uses_source_``.
    """

    def __init__(self, m: int = 1, k: int = 1, n_layers: int = 4, alpha: float = 0.0, temperature: float = 1.0,
                 teacher: Any = None, n_tags: int | None = None, d_model: int = 64, n_heads: int = 4,
                 dropout: float = 0.1, max_positions: int = 256, epochs: int = 5, batch_size: int = 32,
                 lr: float = 2e-3, random_state: Any = None, n_threads: int | None = 1):
        self.m, self.k, self.n_layers, self.alpha, self.temperature = m, k, n_layers, alpha, temperature
        self.teacher, self.n_tags, self.d_model, self.n_heads = teacher, n_tags, d_model, n_heads
        self.dropout, self.max_positions, self.epochs, self.batch_size, self.lr = (dropout, max_positions, epochs,
                                                                                  batch_size, lr)
        self.random_state, self.n_threads = random_state, n_threads

    # ids -> model indices: 0 padding, 1 unknown, id + 2 for ids seen in fit
    def _index(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        return [np.where(r < self.n_vocab_, r + 2, 1) for r in rows]

    def _inputs(self, source_ids: Any, target_ids: Any) -> tuple[Optional[list[np.ndarray]], list[np.ndarray]]:
        tgt = _check_ids(target_ids, "target_ids")
        if self.uses_source_ and source_ids is None:
            raise ShapeError("this tagger was fitted on (source, target) pairs; give source_ids too.")
        if not self.uses_source_ and source_ids is not None:
            raise ShapeError("this tagger was fitted on targets alone (translate-train); give source_ids=None.")
        src = None if source_ids is None else _check_ids(source_ids, "source_ids", len(tgt))
        return (None if src is None else self._index(src)), self._index(tgt)

    def _check_params(self) -> None:
        if not 0 <= self.alpha <= 1:
            raise ParameterError(f"alpha must be in [0, 1], got {self.alpha}.")
        if self.temperature <= 0:
            raise ParameterError(f"temperature must be > 0, got {self.temperature}.")
        if self.alpha > 0 and self.teacher is None:
            raise ParameterError(f"alpha={self.alpha} needs a teacher (a fitted FusionTagger, a list of them, or soft "
                                 f"labels); give teacher=... or alpha=0.")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ParameterError(f"epochs and batch_size must be >= 1 and lr > 0; got epochs={self.epochs}, "
                                 f"batch_size={self.batch_size}, lr={self.lr}.")

    def _teacher_logits(self, source_ids: Any, target_ids: Any, tgt: list[np.ndarray]
                        ) -> tuple[list[np.ndarray], bool]:
        """Per target sentence ``(T_i, n_tags)`` teacher scores and whether they are probabilities."""
        teachers = self.teacher if isinstance(self.teacher, (list, tuple)) else [self.teacher]
        if teachers and all(isinstance(t, FusionTagger) for t in teachers):
            per = [t.decision_function(source_ids if t.uses_source_ else None, target_ids) for t in teachers]
            avg = [ensemble_logits([torch.from_numpy(p[i]) for p in per]).numpy() for i in range(len(tgt))]
            logits, probs = avg, False
        else:
            logits, probs = [np.asarray(p, dtype=np.float32) for p in self.teacher], True
            if len(logits) != len(tgt):
                raise ShapeError(f"teacher has soft labels for {len(logits)} sentences, the target {len(tgt)}; give "
                                 f"one (T_i, n_tags) array per target sentence.")
        for i, (z, t) in enumerate(zip(logits, tgt)):
            if z.shape != (len(t), self.n_tags_):
                raise ShapeError(f"teacher's scores for sentence {i} have shape {z.shape}; expected "
                                 f"({len(t)}, {self.n_tags_}) (one row per target token, one column per tag).")
            if probs and not (np.all(z >= 0) and np.allclose(z.sum(1), 1.0, atol=1e-3)):
                raise ParameterError(f"teacher's soft labels for sentence {i} are not probabilities (each row >= 0 "
                                     f"and summing to 1); give probabilities, or a fitted FusionTagger.")
        return [z.astype(np.float32) for z in logits], probs

    def fit(self, source_ids: Any, target_ids: Any, source_tags: Any = None, target_tags: Any = None,
            progress: Optional[ProgressCallback] = None) -> "FusionTagger":
        self._check_params()
        tgt = _check_ids(target_ids, "target_ids")
        src = None if source_ids is None else _check_ids(source_ids, "source_ids", len(tgt))
        if src is not None and source_tags is None:
            raise ShapeError("source_tags is None; give the source sentences' tags (or source_ids=None for "
                             "translate-train).")
        if src is None and source_tags is not None:
            raise ShapeError("source_tags given without source_ids; give both or neither.")
        stag = None if src is None else _check_tags(source_tags, "source_tags", src, "source_ids")
        if target_tags is None and self.alpha < 1:
            raise ShapeError(f"target_tags is None; give the target sentences' (projected) tags, or alpha=1 with a "
                             f"teacher (got alpha={self.alpha}).")
        ttag = None if target_tags is None else _check_tags(target_tags, "target_tags", tgt, "target_ids")
        top = max((int(t.max()) for t in (stag or []) + (ttag or [])), default=-1) + 1
        if self.n_tags is not None and top > self.n_tags:
            raise ShapeError(f"tags go up to {top - 1} but n_tags={self.n_tags}; raise n_tags or fix the tags.")
        self.n_tags_ = int(self.n_tags if self.n_tags is not None else top)
        if self.n_tags_ < 2:
            raise ShapeError(f"the tags have {self.n_tags_} value(s); a tagger needs at least two.")
        self.classes_ = np.arange(self.n_tags_)
        teacher, teacher_probs = (self._teacher_logits(source_ids, target_ids, tgt) if self.alpha > 0
                                  else (None, False))
        self.uses_source_ = src is not None
        self.n_vocab_ = int(max(int(r.max()) for r in tgt + (src or [])) + 1)
        src_x = None if src is None else self._index(src)
        tgt_x = self._index(tgt)
        seed = _seed(self.random_state)
        n = len(tgt)
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = FusionEncoder(self.n_vocab_ + 2, self.n_tags_, self.d_model, self.n_layers, self.m, self.k,
                                  self.n_heads, self.max_positions, self.dropout, task="tagging")
            opt = torch.optim.Adam(model.parameters(), lr=self.lr)
            for epoch in range(1, self.epochs + 1):
                model.train()
                for b in torch.randperm(n, generator=gen).split(self.batch_size):
                    rows = b.tolist()
                    t_in = _pad([tgt_x[i] for i in rows])
                    keep = t_in != PAD
                    s_in = None if src_x is None else _pad([src_x[i] for i in rows])
                    z_s, z_t = model(s_in, t_in)
                    loss = z_t.sum() * 0.0
                    if z_s is not None:
                        loss = loss + F.cross_entropy(z_s[s_in != PAD], _pad([stag[i] for i in rows])[s_in != PAD])
                    if ttag is not None and self.alpha < 1:
                        ce_t = F.cross_entropy(z_t[keep], _pad([ttag[i] for i in rows])[keep])
                        loss = loss + (1 - self.alpha) * ce_t
                    if teacher is not None:
                        z_teach = torch.zeros(z_t.shape)
                        for j, i in enumerate(rows):
                            z_teach[j, :len(teacher[i])] = torch.from_numpy(teacher[i])
                        loss = loss + self.alpha * kd_kl_loss(z_t, z_teach, keep, self.temperature, teacher_probs)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                report(progress, "training", epoch, self.epochs)
            model.eval()
        self.model_ = model
        return self

    def decision_function(self, source_ids: Any, target_ids: Any) -> list[np.ndarray]:
        """Target-side logits, one ``(T_i, n_tags)`` float array per sentence."""
        check_is_fitted(self, "model_")
        src, tgt = self._inputs(source_ids, target_ids)
        out: list[np.ndarray] = []
        with _threads(self.n_threads), torch.no_grad():
            for start in range(0, len(tgt), 256):
                t_in = _pad(tgt[start:start + 256])
                s_in = None if src is None else _pad(src[start:start + 256])
                z = self.model_(s_in, t_in)[1].numpy().astype(np.float64)
                out += [z[j, :len(r)] for j, r in enumerate(tgt[start:start + 256])]
        return out

    def predict_proba(self, source_ids: Any, target_ids: Any) -> list[np.ndarray]:
        """Target-side tag probabilities, one ``(T_i, n_tags)`` array per sentence (rows sum to 1)."""
        out = []
        for z in self.decision_function(source_ids, target_ids):
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out.append(e / e.sum(axis=1, keepdims=True))
        return out

    def predict(self, source_ids: Any, target_ids: Any) -> list[np.ndarray]:
        """Target-side tag ids, one ``(T_i,)`` int array per sentence."""
        return [z.argmax(axis=1) for z in self.decision_function(source_ids, target_ids)]
