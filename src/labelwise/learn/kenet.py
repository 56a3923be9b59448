"""KeNet: knowledge-enhanced document-label attention for multi-label text.

Paper: Li, Chen, Zeng, "Knowledge-enhanced Doc-Label Attention Network for Multi-label Text Classification",
ICASSP 2024 (arXiv 2403.01767). No official code exists; the attention and fusion follow LSAN (Xiao et al., EMNLP
2019, "Label-Specific Document Representation for Multi-Label Text Classification"), which KeNet extends with a
knowledge channel. What is kept and what is scaled down:

- token states come from a frozen encoder (MiniLM via ``TextEncoder.encode_tokens``) instead of fine-tuned BERT;
- a BiLSTM over the tokens gives ``H: (L, 2h)``;
- per label ``j``, *label attention* ``a_j = softmax_l(s cos(W_k x_l, c_j))`` with ``c_j`` the label's description
  embedded by the same encoder (the knowledge of labels; GloVe label names in the paper), ``x_l`` the token states,
  ``W_k`` a map started at the identity and ``s`` a learned scale started at 10 (the paper scores ``H W_c c_j``
  from a random start; scoring the encoder's own states against the descriptions makes a label look at the words
  that mean it from the first step, which a few hundred rows cannot teach a BiLSTM), ``u_j = a_j^T H``, and
  LSAN's *self attention*
  ``A = softmax(W_2 tanh(W_1 H^T))``; *adaptive fusion* ``r_j = beta_j u_j + gamma_j s_j`` with
  ``beta_j = sigma(w_b^T u_j)``, ``gamma_j = sigma(w_g^T s_j)`` normalised to sum 1;
- the *knowledge channel*: the same encoder and attention over the token states of knowledge text retrieved for
  the document (:class:`KnowledgeRetriever`: string match against a local glossary, not Wikipedia entity linking),
  added behind a learned gate ``r_j += g_j r_j^k`` with ``g_j = sigma(w^T [r_j; r_j^k] + b)``, so noisy knowledge can
  be ignored;
- ``p_j = sigma(w_j^T MLP(r_j) + b_j)``, BCE; the decision threshold tuned on a validation split.

Algorithm floor: :class:`TokenStates` / numpy in and out, no I/O.
"""

from __future__ import annotations

import re
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

__all__ = ["KeNetClassifier", "KnowledgeRetriever"]

_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    """A light, deterministic normaliser so that "overdrafts" meets "overdraft" and "cancelled" meets "cancel"."""
    for suffix in ("ing", "led", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


class KnowledgeRetriever:
    """Knowledge snippets for a text by string match against a local glossary (KeNet's knowledge retrieval, scaled
    down: a user's ``term -> definition`` dictionary instead of Wikipedia entity linking).

    A term matches when its words appear consecutively among the text's words (lower case, light suffix
    normalisation: "direct debits" matches "direct debit"). Longer terms win over terms they contain ("standing
    order" over "order"); ``retriever(text) -> list[str]`` gives at most ``k`` definitions, as ``"term: definition"``,
    in the order the terms occur in the text. Never build ``kb`` from the labels you evaluate on.
    """

    def __init__(self, kb: dict[str, str], k: int = 3):
        if not isinstance(kb, dict) or not all(isinstance(t, str) and isinstance(d, str) for t, d in kb.items()):
            raise ParameterError("kb must be a dict of term -> definition strings.")
        if int(k) < 1:
            raise ParameterError(f"k must be at least 1, got {k}.")
        self.kb, self.k = kb, int(k)
        terms = [(tuple(_words(term)), term) for term in kb]
        self._terms = sorted((t for t in terms if t[0]), key=lambda t: -len(t[0]))

    def matches(self, text: str) -> list[str]:
        """The glossary terms found in ``text`` (longest first where they overlap), in text order, at most ``k``."""
        words = _words(text)
        taken = np.zeros(len(words), dtype=bool)
        found: list[tuple[int, str]] = []
        for key, term in self._terms:
            n = len(key)
            for start in range(len(words) - n + 1):
                if tuple(words[start:start + n]) == key and not taken[start:start + n].any():
                    taken[start:start + n] = True
                    found.append((start, term))
                    break
        found.sort()
        return [term for _, term in found[: self.k]]

    def __call__(self, text: str) -> list[str]:
        return [f"{term}: {self.kb[term]}" for term in self.matches(text)]

    def texts(self, texts: list[str]) -> list[str]:
        """One knowledge text per input text (its snippets joined by spaces; ``""`` when nothing matches), ready
        for ``TextEncoder.encode_tokens``."""
        return [" ".join(self(t)) for t in texts]


class _KeNet(torch.nn.Module):
    """``forward(x (B, L, d), mask (B, L), kx, kmask) -> logits (B, K)``; ``kx``/``kmask`` None without knowledge."""

    def __init__(self, d: int, n_labels: int, hidden: int, attention_dim: int, mlp_hidden: int, dropout: float,
                 labels: Optional[np.ndarray], knowledge: bool):
        super().__init__()
        h2 = 2 * hidden
        self.drop = torch.nn.Dropout(dropout)
        self.lstm = torch.nn.LSTM(d, hidden, batch_first=True, bidirectional=True)
        if labels is None:
            self.labels = torch.nn.Parameter(torch.randn(n_labels, d) / np.sqrt(d))
        else:
            self.register_buffer("labels", torch.as_tensor(labels, dtype=torch.float32))
        # label attention keys: the token states themselves, through a map that starts as the identity, so that
        # from the first step a label attends to the words whose states are close to its description
        self.label_key = torch.nn.Linear(d, d)
        with torch.no_grad():
            self.label_key.weight.copy_(torch.eye(d))
            self.label_key.bias.zero_()
        self.log_scale = torch.nn.Parameter(torch.tensor(float(np.log(10.0))))
        self.self_w1 = torch.nn.Linear(h2, attention_dim, bias=False)
        self.self_w2 = torch.nn.Linear(attention_dim, n_labels, bias=False)
        torch.nn.init.zeros_(self.self_w2.weight)  # self attention starts as a mean; no label-specific random start
        self.fuse_label = torch.nn.Linear(h2, 1)
        self.fuse_self = torch.nn.Linear(h2, 1)
        self.gate = torch.nn.Linear(2 * h2, 1) if knowledge else None
        self.mlp = torch.nn.Sequential(torch.nn.Linear(h2, mlp_hidden), torch.nn.ReLU())
        self.out_w = torch.nn.Parameter(torch.zeros(n_labels, mlp_hidden))
        self.out_b = torch.nn.Parameter(torch.zeros(n_labels))

    def channel(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Label-specific representations ``r: (B, K, 2h)`` and the token weights behind them ``(B, K, L)``."""
        H = self.drop(run_rnn(self.lstm, self.drop(x), mask))
        m = mask.unsqueeze(1)
        keys = F.normalize(self.label_key(x), dim=-1, eps=1e-8)
        cosine = torch.einsum("bld,kd->bkl", keys, F.normalize(self.labels, dim=-1, eps=1e-8))
        a = masked_softmax(cosine * self.log_scale.exp(), m)
        A = masked_softmax(self.self_w2(torch.tanh(self.self_w1(H))).transpose(1, 2), m)
        u, s = a @ H, A @ H
        beta, gamma = torch.sigmoid(self.fuse_label(u)), torch.sigmoid(self.fuse_self(s))
        beta, gamma = beta / (beta + gamma), gamma / (beta + gamma)
        return beta * u + gamma * s, beta * a + gamma * A

    def forward(self, x: torch.Tensor, mask: torch.Tensor, kx: Optional[torch.Tensor] = None,
                kmask: Optional[torch.Tensor] = None) -> torch.Tensor:
        r, _ = self.channel(x, mask)
        if self.gate is not None and kx is not None:
            rk, _ = self.channel(kx, kmask)
            r = r + torch.sigmoid(self.gate(torch.cat([r, rk], dim=-1))) * rk
        z = self.mlp(r)
        # one dropout mask per row, shared by its labels: permuting the labels permutes the outputs exactly
        z = z * self.drop(torch.ones_like(z[:, :1]))
        return (z * self.out_w).sum(-1) + self.out_b


def _tensors(ts: TokenStates) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(ts.states), torch.from_numpy(ts.mask)


def _trim(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a batch to its longest real row (at least one column)."""
    width = max(int(mask.sum(1).max()), 1) if len(mask) else 1
    return x[:, :width], mask[:, :width]


class KeNetClassifier(_TorchEstimator):
    """KeNet multi-label text classifier over token states (see the module docstring for the model).

    Parameters
    ----------
    label_embeddings: ``(K, d)`` label texts embedded in the token states' space (``TextEncoder().encode(
        descriptions)``; question-style descriptions carry more signal than bare identifiers), kept fixed; None:
        label vectors learned from a random start.
    hidden: BiLSTM units per direction (the notes' 64-128; 64 because the encoder is frozen and training sets of a
        few hundred short texts are the target case).
    attention_dim: LSAN self-attention width; mlp_hidden: the shared MLP before the per-label outputs.
    dropout: 0.3, the low end of what the notes advise against a BiLSTM overfitting tiny data.
    epochs, batch_size, lr, weight_decay, patience, validation_fraction: Adam with early stopping on micro average
        precision on a held-out share of the training rows (the best epoch's weights are kept). ``lr=1e-2``: the
        model is small and starts with a zero output layer, and at 1e-3 it can sit on a plateau longer than the
        patience; on the synthetic EHR (``bench/label_attention_defaults.py``, never a shared dataset) 1e-2 and
        3e-3 tied and both beat 1e-3.
    threshold: ``"global"`` (one micro-F1-optimal threshold for every label, tuned on the validation rows: with a
        few hundred training rows the validation share holds 0-3 positives of most labels, too few to set each
        label's own), ``"tuned"`` (per label, as :class:`MultiLabelHead`) or a float.

    ``fit(X, Y, knowledge=None, progress=None)``: ``X`` a :class:`TokenStates` ``(n, L, d)`` (or an ``(n, L, d)``
    array), ``Y`` an ``(n, K)`` 0/1 matrix or label lists, ``knowledge`` the token states of each row's knowledge
    text (:meth:`KnowledgeRetriever.texts`; rows without knowledge are empty) or None (no knowledge channel).
    ``predict_proba(X, knowledge=None) -> (n, K)``; ``predict -> (n, K) int``; ``attention(X) -> (n, K, L)``: the
    weight of each token in each label's document representation (fused label and self attention; 0 at padding).
    Learned: ``classes_``, ``n_features_in_`` (``d``), ``model_``, ``thresholds_ (K,)``, ``uses_knowledge_``,
    ``n_epochs_``, ``best_val_score_``.
    """

    def __init__(self, label_embeddings: Any = None, hidden: int = 64, attention_dim: int = 64, mlp_hidden: int = 128,
                 dropout: float = 0.3, epochs: int = 100, batch_size: int = 32, lr: float = 1e-2,
                 weight_decay: float = 1e-4, validation_fraction: float = 0.2, patience: int = 10,
                 threshold: float | str = "global", random_state: Any = None, n_threads: int | None = None):
        self.label_embeddings, self.hidden, self.attention_dim = label_embeddings, hidden, attention_dim
        self.mlp_hidden, self.dropout, self.epochs, self.batch_size = mlp_hidden, dropout, epochs, batch_size
        self.lr, self.weight_decay, self.validation_fraction = lr, weight_decay, validation_fraction
        self.patience, self.threshold = patience, threshold
        self.random_state, self.n_threads = random_state, n_threads

    def fit(self, X: Any, Y: Any, knowledge: Any = None, progress: Optional[ProgressCallback] = None
            ) -> "KeNetClassifier":
        choose_thresholds(self.threshold, None, None, 0)  # checks the value before any work
        ts, T, self.classes_, labels = check_fit_inputs(X, Y, self.label_embeddings)
        kts = self._knowledge(knowledge, len(ts), ts.dim)
        self.n_features_in_ = ts.dim
        self.uses_knowledge_ = kts is not None
        seed = _seed(self.random_state)
        tr, va = _val_split(len(ts), self.validation_fraction, np.random.default_rng(seed))
        x, m = _tensors(ts)
        kx, km = _tensors(kts) if kts is not None else (None, None)
        pos = torch.from_numpy((T == 1).astype(np.float32))
        Yv = (T[va] == 1).astype(int)
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = _KeNet(ts.dim, T.shape[1], self.hidden, self.attention_dim, self.mlp_hidden, self.dropout,
                           labels, kts is not None)

            def logits(rows: torch.Tensor) -> torch.Tensor:
                xb, mb = _trim(x[rows], m[rows])
                if kx is None:
                    return model(xb, mb)
                return model(xb, mb, *_trim(kx[rows], km[rows]))

            def batch_loss(b: torch.Tensor) -> torch.Tensor:
                rows = torch.from_numpy(tr)[b]
                return F.binary_cross_entropy_with_logits(logits(rows), pos[rows])

            def val_score() -> float:
                return micro_average_precision(Yv, logits(torch.from_numpy(va)).numpy())

            self._train(model, len(tr), batch_loss, val_score if len(va) else None, gen, progress)
        self.model_ = model
        Pv = self.predict_proba(ts[va], None if kts is None else kts[va]) if len(va) else None
        self.thresholds_ = choose_thresholds(self.threshold, Pv, Yv, T.shape[1])
        return self

    def _knowledge(self, knowledge: Any, n: int, dim: int) -> Optional[TokenStates]:
        if knowledge is None:
            return None
        kts = check_tokens(knowledge, dim, type(self).__name__ + " (the document tokens)", name="knowledge")
        if len(kts) != n:
            raise ShapeError(f"knowledge has {len(kts)} rows but X has {n}; give one (possibly empty) knowledge "
                             f"text per row.")
        return kts

    def _check(self, X: Any, knowledge: Any) -> tuple[TokenStates, Optional[TokenStates]]:
        check_is_fitted(self, "model_")
        ts = check_tokens(X, self.n_features_in_, type(self).__name__)
        kts = self._knowledge(knowledge, len(ts), self.n_features_in_)
        if kts is not None and not self.uses_knowledge_:
            raise ParameterError("this KeNetClassifier was fitted without knowledge; fit it with knowledge=... to "
                                 "use a knowledge channel, or pass knowledge=None.")
        return ts, kts

    def decision_function(self, X: Any, knowledge: Any = None) -> np.ndarray:
        """Logits ``(n, K)``. A model fitted with knowledge and given none treats every row as having none."""
        ts, kts = self._check(X, knowledge)
        with _threads(self.n_threads), torch.no_grad():
            x, m = _trim(*_tensors(ts))
            if kts is None:
                return self.model_(x, m).numpy().astype(np.float64)
            return self.model_(x, m, *_trim(*_tensors(kts))).numpy().astype(np.float64)

    def predict_proba(self, X: Any, knowledge: Any = None) -> np.ndarray:
        return expit(self.decision_function(X, knowledge))

    def predict(self, X: Any, knowledge: Any = None) -> np.ndarray:
        return (self.predict_proba(X, knowledge) >= self.thresholds_).astype(int)

    def attention(self, X: Any) -> np.ndarray:
        """``(n, K, L)`` weights of each token in each label's document representation (each row of a label sums
        to 1 over the real tokens; 0 at padding and for texts without tokens)."""
        ts, _ = self._check(X, None)
        with _threads(self.n_threads), torch.no_grad():
            _, weights = self.model_.channel(*_tensors(ts))
        return weights.numpy().astype(np.float64)
