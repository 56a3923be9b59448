"""LDAM: label-dependent attention over text tokens and an optional time series.

Paper: Niu, Yin, Song, Guo, Yang, "Label Dependent Attention Model for Disease Risk Prediction Using Multimodal
Electronic Health Records", IEEE ICDM 2021. No official code exists; the attention follows LEAM (Wang et al., ACL
2018, "Joint Embedding of Words and Labels for Text Classification"), which LDAM extends to time series:

1. compatibility ``G = cos(C, V): (K, L)`` between the label embeddings ``C`` (the label names embedded by the
   token encoder, trainable) and the token states ``V`` (frozen MiniLM token states here; Clinical-BERT in the
   paper);
2. ``u_l = ReLU(W_1 G[:, l-r : l+r] + b_1): (K,)`` (a convolution over a window of ``2r + 1`` words, so a phrase
   and its context are scored together: "no evidence of oliguria" is not "oliguria");
3. attention ``beta^(k) = softmax_l(u_{l,k})`` per label (``per_label=True``) or ``softmax_l(max_k u_{l,k})``
   shared (LEAM); ``z^(k) = sum_l beta_l^(k) v_l``;
4. time series: a GRU over the steps, projected into the label space (``P h_t``), the same compatibility and
   attention over steps gives ``z_ts^(k)`` (padding steps masked);
5. ``p_k = sigma(w_k^T [z^(k); z_ts^(k)] + b_k)``, BCE, plus LEAM's label regulariser: each label embedding,
   read as a document, must be classified as its own label (``reg_lambda`` times a K-way cross-entropy);
6. :meth:`LabelAttentionModel.explain`: the top attended words and time steps per row and label.

``attention="self"`` replaces the label compatibility by one learned query shared by every label (attention that
does not depend on the label): the ablation the paper's interpretability claim is measured against.
Algorithm floor: :class:`TokenStates` / numpy in and out, no I/O.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.attention import check_fit_inputs, check_tokens, masked_softmax, micro_average_precision, run_rnn
from labelwise.learn.estimators import _seed, _threads, _TorchEstimator, _val_split
from labelwise.learn.heads import choose_thresholds
from labelwise.progress import ProgressCallback
from labelwise.token_states import TokenStates

__all__ = ["LabelAttentionModel"]

# Cosines lie in [-1, 1]; the window convolution starts as each label's mean cosine over the window times this
# factor, so that the first softmax already prefers compatible words (e^(10 * 0.3) = 20x) without being one-hot.
_COSINE_SCALE = 10.0


def _cosine(C: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``C: (K, d)``, ``V: (B, L, d)`` -> ``(B, K, L)`` cosines (0 for zero vectors, i.e. padding)."""
    return torch.einsum("kd,bld->bkl", F.normalize(C, dim=-1, eps=1e-8), F.normalize(V, dim=-1, eps=1e-8))


def _window_conv(n_labels: int, window: int) -> torch.nn.Conv1d:
    """LEAM's phrase convolution over ``2 * window + 1`` steps, label channels in and out, started at each label's
    own mean over the window (a diagonal start: no label-specific random weights, so permuting the labels permutes
    the model)."""
    conv = torch.nn.Conv1d(n_labels, n_labels, 2 * window + 1, padding=window)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[torch.arange(n_labels), torch.arange(n_labels)] = _COSINE_SCALE / (2 * window + 1)
        conv.bias.zero_()
    return conv


class _Attend(torch.nn.Module):
    """Attention of ``K`` labels over a sequence ``(B, L, d)`` -> weights ``(B, K, L)`` (rows sum to 1 over the
    real steps)."""

    def __init__(self, n_labels: int, d: int, window: int, per_label: bool, mode: str):
        super().__init__()
        self.n_labels, self.per_label, self.mode = n_labels, per_label, mode
        if mode == "label":
            self.conv = _window_conv(n_labels, window)
        else:
            self.key = torch.nn.Linear(d, d)
            self.query = torch.nn.Linear(d, 1, bias=False)

    def forward(self, C: torch.Tensor, V: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(1)
        if self.mode == "self":
            scores = self.query(torch.tanh(self.key(V))).transpose(1, 2)  # (B, 1, L)
            return masked_softmax(scores, m).expand(-1, self.n_labels, -1)
        u = torch.relu(self.conv(_cosine(C, V) * m))
        if self.per_label:
            return masked_softmax(u, m)
        return masked_softmax(u.max(dim=1, keepdim=True).values, m).expand(-1, self.n_labels, -1)


class _LDAM(torch.nn.Module):
    def __init__(self, d: int, n_labels: int, labels: Optional[np.ndarray], window: int, per_label: bool, mode: str,
                 n_series: int, ts_hidden: int):
        super().__init__()
        init = torch.randn(n_labels, d) / np.sqrt(d) if labels is None else torch.as_tensor(labels)
        self.labels = torch.nn.Parameter(init.float().clone())
        self.text = _Attend(n_labels, d, window, per_label, mode)
        width = d
        self.gru = None
        if n_series:
            self.gru = torch.nn.GRU(n_series, ts_hidden, batch_first=True)
            self.ts_proj = torch.nn.Linear(ts_hidden, d)
            self.ts = _Attend(n_labels, ts_hidden if mode == "self" else d, window, per_label, mode)
            width += ts_hidden
        self.out_w = torch.nn.Parameter(torch.zeros(n_labels, width))
        self.out_b = torch.nn.Parameter(torch.zeros(n_labels))
        self.d = d

    def attend(self, V: torch.Tensor, mask: torch.Tensor, S: Optional[torch.Tensor], smask: Optional[torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Pooled ``z: (B, K, d [+ h])`` and the weights over words ``(B, K, L)`` and steps ``(B, K, T)``."""
        beta = self.text(self.labels, V, mask)
        z = beta @ V
        if self.gru is None or S is None:
            return z, beta, None, None
        H = run_rnn(self.gru, S, smask)
        keys = H if self.ts.mode == "self" else self.ts_proj(H)
        beta_ts = self.ts(self.labels, keys, smask)
        return torch.cat([z, beta_ts @ H], dim=-1), beta, beta_ts, H

    def forward(self, V: torch.Tensor, mask: torch.Tensor, S: Optional[torch.Tensor] = None,
                smask: Optional[torch.Tensor] = None) -> torch.Tensor:
        z, *_ = self.attend(V, mask, S, smask)
        return (z * self.out_w).sum(-1) + self.out_b

    def label_logits(self, scale: float) -> torch.Tensor:
        """LEAM's regulariser input: each unit-length label embedding (times ``scale``, the size of a pooled token
        state) classified by the text part of the output layer -> ``(K, K)`` logits."""
        C = F.normalize(self.labels, dim=-1) * scale
        return C @ self.out_w[:, : self.d].T + self.out_b


def _check_series(series: Any, n: int, n_features: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """``series: (n, T, F)`` float; steps whose features are all NaN are padding and must come last ->
    (values with padding at 0, mask ``(n, T)``)."""
    arr = np.asarray(series, dtype=np.float32)
    if arr.ndim != 3 or len(arr) != n:
        raise ShapeError(f"series must be (n, T, F) with n = {n} rows of X, got shape {arr.shape}.")
    if n_features is not None and arr.shape[2] != n_features:
        raise ShapeError(f"series has {arr.shape[2]} features per step, but the model was fitted on {n_features}.")
    missing = np.isnan(arr)
    pad = missing.all(axis=2)
    partial = missing.any(axis=2) & ~pad
    if partial.any() or np.isinf(arr).any():
        i, t = (np.argwhere(partial)[0] if partial.any() else np.argwhere(np.isinf(arr))[0][:2])
        raise ShapeError(f"series row {i}, step {t} has a NaN or infinite value in some features; impute it (a step "
                         f"that is all NaN is padding).")
    mask = ~pad
    if arr.shape[1] and not (mask == (np.arange(arr.shape[1]) < mask.sum(1)[:, None])).all():
        raise ShapeError("series padding (all-NaN steps) must come after each row's real steps.")
    return np.where(mask[:, :, None], arr, np.float32(0)), mask


class LabelAttentionModel(_TorchEstimator):
    """LDAM multi-label classifier over token states and an optional time series (see the module docstring).

    Parameters
    ----------
    label_embeddings: ``(K, d)`` label names embedded in the token states' space (``TextEncoder().encode(names)``),
        the start of the trainable label embeddings; None: a random start.
    window: ``r``, the phrase convolution covers ``2r + 1`` words (LEAM's default ``r``-gram scale; 2 lets a
        negation two words before a term change its score).
    per_label: one attention per label (True) or LEAM's shared max-over-labels attention (cheaper for large K).
    attention: ``"label"`` (LDAM) or ``"self"`` (one learned query for every label: the non-label-dependent
        ablation).
    ts_hidden: GRU units of the time-series branch (used when ``fit`` gets ``series``).
    reg_lambda: weight of LEAM's label-classification regulariser (LEAM's 0.1-1 range; 0 turns it off).
    epochs, batch_size, lr, weight_decay, patience, validation_fraction, threshold: as in
        :class:`labelwise.learn.KeNetClassifier` (early stopping on micro average precision on a held-out share;
        one micro-F1-optimal threshold tuned there; ``lr=1e-2`` chosen on the synthetic EHR by
        ``bench/label_attention_defaults.py``).

    ``fit(X, Y, series=None, progress=None)``: ``X`` a :class:`TokenStates` (or ``(n, L, d)`` array), ``Y`` an
    ``(n, K)`` 0/1 matrix or label lists, ``series`` an ``(n, T, F)`` float array (all-NaN trailing steps are
    padding; features are standardised with the training means and deviations). A model fitted with ``series``
    needs it in ``predict_proba(X, series)``. ``explain(X, series=None, top_k=3)``: per row, per label, the top
    attended words and time steps with their weights. ``attention_weights(X, series=None) -> (words (n, K, L),
    steps (n, K, T) or None)`` (not ``attention``: that name is the constructor parameter).
    Learned: ``classes_``, ``n_features_in_``, ``n_series_features_`` (0 without series), ``model_``,
    ``thresholds_ (K,)``, ``series_mean_``, ``series_std_``, ``token_scale_``, ``n_epochs_``, ``best_val_score_``.
    """

    def __init__(self, label_embeddings: Any = None, window: int = 2, per_label: bool = True,
                 attention: str = "label", ts_hidden: int = 32, reg_lambda: float = 0.1, epochs: int = 100,
                 batch_size: int = 32, lr: float = 1e-2, weight_decay: float = 1e-4, validation_fraction: float = 0.2,
                 patience: int = 10, threshold: float | str = "global", random_state: Any = None,
                 n_threads: int | None = None):
        self.label_embeddings, self.window, self.per_label, self.attention = label_embeddings, window, per_label, \
            attention
        self.ts_hidden, self.reg_lambda, self.epochs, self.batch_size = ts_hidden, reg_lambda, epochs, batch_size
        self.lr, self.weight_decay, self.validation_fraction = lr, weight_decay, validation_fraction
        self.patience, self.threshold = patience, threshold
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, Y: Any, series: Any = None, progress: Optional[ProgressCallback] = None
            ) -> "LabelAttentionModel":
        if self.attention not in ("label", "self"):
            raise ParameterError(f"attention must be 'label' or 'self', got {self.attention!r}.")
        if int(self.window) < 0:
            raise ParameterError(f"window must be 0 or more, got {self.window}.")
        choose_thresholds(self.threshold, None, None, 0)  # checks the value before any work
        ts, T, self.classes_, labels = check_fit_inputs(X, Y, self.label_embeddings)
        self.n_features_in_ = ts.dim
        norms = np.linalg.norm(ts.states[ts.mask], axis=1)
        self.token_scale_ = float(norms.mean()) if len(norms) else 1.0
        self.n_series_features_ = 0
        S = smask = None
        if series is not None:
            S, smask = _check_series(series, len(ts))
            real = S[smask]
            self.series_mean_, self.series_std_ = real.mean(0), real.std(0) + 1e-6
            self.n_series_features_ = S.shape[2]
            S = torch.from_numpy(self._standardise(S, smask))
            smask = torch.from_numpy(smask)
        seed = _seed(self.random_state)
        tr, va = _val_split(len(ts), self.validation_fraction, np.random.default_rng(seed))
        V, m = torch.from_numpy(ts.states / self.token_scale_), torch.from_numpy(ts.mask)
        pos = torch.from_numpy((T == 1).astype(np.float32))
        Yv = (T[va] == 1).astype(int)
        eye = torch.arange(T.shape[1])
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = _LDAM(ts.dim, T.shape[1], labels, int(self.window), bool(self.per_label), self.attention,
                          self.n_series_features_, int(self.ts_hidden))

            def logits(rows: torch.Tensor) -> torch.Tensor:
                return model(V[rows], m[rows], None if S is None else S[rows], None if S is None else smask[rows])

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                rows = torch.from_numpy(tr)[b]
                loss = F.binary_cross_entropy_with_logits(logits(rows), pos[rows])
                if self.reg_lambda:
                    loss = loss + self.reg_lambda * F.cross_entropy(model.label_logits(1.0), eye)
                return loss

            def val_score() -> float:
                return micro_average_precision(Yv, logits(torch.from_numpy(va)).numpy())

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_ = model
        Pv = self.predict_proba(ts[va], None if series is None else np.asarray(series)[va]) if len(va) else None
        self.thresholds_ = choose_thresholds(self.threshold, Pv, Yv, T.shape[1])
        return self

    def _standardise(self, S: np.ndarray, smask: np.ndarray) -> np.ndarray:
        return np.where(smask[:, :, None], (S - self.series_mean_) / self.series_std_, 0).astype(np.float32)

    def _inputs(self, X: Any, series: Any) -> tuple[TokenStates, torch.Tensor, torch.Tensor, Any, Any]:
        check_is_fitted(self, "model_")
        ts = check_tokens(X, self.n_features_in_, type(self).__name__)
        if (series is None) != (self.n_series_features_ == 0):
            raise ParameterError("this LabelAttentionModel was fitted " + (
                "with series: give series=(n, T, F) here too." if series is None else
                "without series: fit it with series=... to use them, or pass series=None."))
        S = smask = None
        if series is not None:
            S, smask = _check_series(series, len(ts), self.n_series_features_)
            S, smask = torch.from_numpy(self._standardise(S, smask)), torch.from_numpy(smask)
        return ts, torch.from_numpy(ts.states / self.token_scale_), torch.from_numpy(ts.mask), S, smask

    def decision_function(self, X: Any, series: Any = None) -> np.ndarray:
        """Logits ``(n, K)``."""
        _, V, m, S, smask = self._inputs(X, series)
        with _threads(self.n_threads), torch.no_grad():
            return self.model_(V, m, S, smask).numpy().astype(np.float64)

    def predict_proba(self, X: Any, series: Any = None) -> np.ndarray:
        return expit(self.decision_function(X, series))

    def predict(self, X: Any, series: Any = None) -> np.ndarray:
        return (self.predict_proba(X, series) >= self.thresholds_).astype(int)

    def attention_weights(self, X: Any, series: Any = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """``(words (n, K, L), steps (n, K, T) or None)``: each label's attention over the real words and steps
        (sums to 1; 0 at padding)."""
        _, V, m, S, smask = self._inputs(X, series)
        with _threads(self.n_threads), torch.no_grad():
            _, beta, beta_ts, _ = self.model_.attend(V, m, S, smask)
        return beta.numpy().astype(np.float64), None if beta_ts is None else beta_ts.numpy().astype(np.float64)

    def explain(self, X: Any, series: Any = None, top_k: int = 3) -> list[dict[Any, dict[str, list]]]:
        """Per row, per label (keys: ``classes_``): ``{"words": [...], "word_positions": [...], "word_weights":
        [...], "time_steps": [...], "time_weights": [...]}``, the ``top_k`` most attended words (strings from
        ``X.tokens``; positions only when X has no tokens) and time steps, highest weight first. Attention shows where
        the model looked, not why: check it against known evidence before trusting it."""
        ts = check_tokens(X, self.n_features_in_, type(self).__name__)
        words, steps = self.attention_weights(ts, series)
        out = []
        for i in range(len(ts)):
            row = {}
            for k, label in enumerate(self.classes_.tolist()):
                n_words = int(ts.lengths[i])
                top = np.argsort(-words[i, k, :n_words], kind="stable")[:top_k]
                entry = {"words": [ts.tokens[i][p] for p in top] if ts.tokens is not None else [],
                         "word_positions": top.tolist(), "word_weights": words[i, k, top].tolist(),
                         "time_steps": [], "time_weights": []}
                if steps is not None:
                    n_steps = int((steps[i, k] > 0).sum())
                    top_t = np.argsort(-steps[i, k], kind="stable")[: min(top_k, n_steps)]
                    entry["time_steps"], entry["time_weights"] = top_t.tolist(), steps[i, k, top_t].tolist()
                row[label] = entry
            out.append(row)
        return out
