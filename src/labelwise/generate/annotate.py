"""Label text with an LLM: zero- or few-shot, scored over a fixed label set, calibrated against label bias.

Each text becomes a prompt (an instruction naming the labels, optional demonstrations, the text) and every label
is scored by its log-likelihood as the continuation (``labelwise.llm.scoring``): the result is a probability
over labels per row, never free text that has to be parsed. Demonstrations come from a small labelled pool: the
``shots`` nearest neighbours of each text by embedding (``demos="knn"``), or one fixed, class-balanced set for all
rows (``demos="fixed"``). Calibration (``labelwise.llm.calibration``) divides by the label prior the model shows on
content-free (``"contextual"``) or random in-domain (``"domain"``, Fei et al. 2023) inputs, prompted with the same
demonstrations. ``"auto"`` calibrates by domain context unless the demonstrations change per row, where a prior
per row would cost 20 extra scorings per row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.atomic import write_text_atomic
from labelwise.data.io import read_table, write_table_atomic
from labelwise.errors import DataError, ParameterError
from labelwise.llm.backend import Backend, BackendSpec, Usage
from labelwise.llm.calibration import calibrate, content_free_prior, domain_context_prior
from labelwise.llm.scoring import label_probabilities

CALIBRATIONS = ("auto", "domain", "contextual", "none")
MAX_CHARS = 600  # of each text in a prompt


def _clean(text) -> str:
    return " ".join(str(text).split())[:MAX_CHARS]


def build_prompt(text: str, labels: Sequence[str], demos: Sequence[tuple[str, str]] = (),
                 instruction: Optional[str] = None) -> str:
    """The prompt for one text: instruction, demonstrations (text, label), then the text and ``Label:``."""
    head = instruction or f"Classify each text into one of these labels: {', '.join(labels)}."
    blocks = [f"Text: {_clean(t)}\nLabel: {label}" for t, label in demos]
    blocks.append(f"Text: {_clean(text)}\nLabel:")
    return head + "\n\n" + "\n\n".join(blocks)


@dataclass
class Annotation:
    """Per row (n rows, k labels): ``predicted`` labels, ``probabilities`` (n, k) over ``labels``; ``usage``: model
    calls, cache hits and tokens; ``settings``: how it was made."""

    texts: list
    labels: list
    probabilities: np.ndarray
    usage: Usage
    settings: dict = field(default_factory=dict)
    prior: Optional[np.ndarray] = None

    @property
    def predicted(self) -> list:
        return [self.labels[j] for j in self.probabilities.argmax(axis=1)]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"row": np.arange(len(self.texts)), "text": self.texts, "label": self.predicted,
                             "probability": self.probabilities.max(axis=1)})

    def save(self, directory) -> Path:
        """``annotations.csv`` (row, text, label, probability), ``probabilities.parquet`` (one column per label) and
        ``summary.json``, each written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table_atomic(self.to_frame(), directory / "annotations.csv")
        write_table_atomic(pd.DataFrame(self.probabilities, columns=[str(x) for x in self.labels]),
                           directory / "probabilities.parquet")
        summary = {"rows": len(self.texts), "labels": list(self.labels), "settings": self.settings,
                   "model_calls": self.usage.calls, "cached_calls": self.usage.cached,
                   "prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                   "cost": self.usage.cost,
                   "prior": None if self.prior is None else dict(zip(self.labels, map(float, self.prior)))}
        write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
        return directory


def _texts(data, column: Optional[str]) -> list[str]:
    if isinstance(data, (list, tuple)):
        return [str(x) for x in data]
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    if column is None or column not in frame.columns:
        raise DataError(f"Name the text column with text=... (--text); the table has: "
                        f"{', '.join(map(str, frame.columns))}.")
    return ["" if pd.isna(v) else str(v) for v in frame[column]]


def _fixed_demos(pool_texts: list, pool_labels: list, shots: int, random_state: int) -> list[tuple[str, str]]:
    """``shots`` demonstrations, round-robin over classes (class-balanced), in a seeded random order."""
    rng = np.random.default_rng(random_state)
    by_class: dict = {}
    for i in rng.permutation(len(pool_texts)):
        by_class.setdefault(pool_labels[i], []).append(int(i))
    chosen: list = []
    while len(chosen) < shots and any(by_class.values()):
        for label in list(by_class):
            if by_class[label] and len(chosen) < shots:
                chosen.append(by_class[label].pop())
    return [(pool_texts[i], pool_labels[i]) for i in chosen]


def annotate(data, *, text: Optional[str] = None, labels: Sequence[str], backend: Optional[Backend] = None,
             shots: int = 0, pool=None, pool_text: Optional[str] = None, pool_label: Optional[str] = None,
             demos: str = "knn", calibration: str = "auto", n_draws: int = 20, normalize: bool = False,
             method: str = "score",
             instruction: Optional[str] = None, encoder=None, random_state: int = 0,
             progress: Optional[Callable[[str, int, int], None]] = None, ray: Optional[str] = None,
             actors: Optional[int] = None) -> Annotation:
    """Label every text of ``data`` (a table path, a DataFrame with column ``text``, or a list of strings).

    labels: the label set (k strings). shots: demonstrations per prompt, from ``pool`` (a table with columns
    ``pool_text`` and ``pool_label``, default the same names as ``text`` / "label"). backend: default the packaged
    local model. method: ``"score"`` (every label's log-likelihood: real probabilities, calibration possible) or
    ``"generate"`` (the model writes one label under a grammar / JSON schema: for servers that do not return prompt
    log-probabilities, such as chat-only APIs; probabilities are one-hot, a row the model never answered validly is
    uniform). Returns an :class:`Annotation` with (n, k) probabilities.

    backend may also be a :class:`~labelwise.llm.backend.BackendSpec` (built here, or on the cluster). ray: a Ray
    cluster's address (``"auto"``: the one this machine belongs to, or ``"HOST:PORT"``) to score on ``actors``
    Ray actors there (default: one per CPU the backend needs; :mod:`labelwise.scale.ray_llm`, needs
    ``labelwise[ray]``). The result, and the response cache's keys, are the same as without it.
    """
    labels = [str(x) for x in labels]
    if len(set(labels)) < 2:
        raise DataError("Give at least two distinct labels (--labels a,b,c).")
    if calibration not in CALIBRATIONS:
        raise DataError(f"calibration must be one of {', '.join(CALIBRATIONS)}; got {calibration!r}.")
    if demos not in ("knn", "fixed"):
        raise DataError(f"demos must be 'knn' or 'fixed'; got {demos!r}.")
    if shots < 0:
        raise ParameterError(f"shots (--shots) is a number of demonstrations per prompt, 0 or more; got {shots}.")
    texts = _texts(data, text)
    if ray is not None:
        from labelwise.scale.ray_llm import PooledBackend

        spec = backend if isinstance(backend, BackendSpec) else _default_spec() if backend is None else backend.spec()
        # a backend given here lends the pool its cache (None: it caches nothing); a spec uses the default cache
        cache = {"cache": backend.cache, "use_cache": backend.cache is not None} if isinstance(backend, Backend) else {}
        with PooledBackend(spec, address=ray, pool_size=actors, **cache) as pooled:
            return annotate(texts, labels=labels, backend=pooled, shots=shots, pool=pool, pool_text=pool_text or text,
                            pool_label=pool_label, demos=demos, calibration=calibration, n_draws=n_draws,
                            normalize=normalize, method=method, instruction=instruction, encoder=encoder,
                            random_state=random_state, progress=progress)
    if isinstance(backend, BackendSpec):
        backend = backend.build()
    elif backend is None:
        from labelwise.llm.llamacpp import default_backend

        backend = default_backend()
    demo_sets = _demonstrations(texts, shots, pool, pool_text or text, pool_label or "label", demos, labels,
                                encoder, random_state, progress)
    prompts = [build_prompt(t, labels, d, instruction) for t, d in zip(texts, demo_sets)]
    if method == "generate":
        probs = _generated(backend, prompts, labels, progress)
        settings = {"backend": backend.name, "model": backend.model, "shots": shots, "method": method,
                    "demos": demos if shots else None, "calibration": "none", "malformed": backend.usage.malformed}
        return Annotation(texts, labels, probs, backend.usage, settings, None)
    if method != "score":
        raise DataError(f"method must be 'score' or 'generate'; got {method!r}.")
    probs = label_probabilities(backend, prompts, labels, normalize=normalize, progress=progress,
                                stage="labelling")
    chosen = calibration
    if calibration == "auto":
        chosen = "domain" if (shots == 0 or demos == "fixed") else "none"
    probs, prior = _calibrated(probs, chosen, backend, demo_sets, labels, instruction, texts, n_draws, normalize,
                               random_state)
    settings = {"backend": backend.name, "model": backend.model, "shots": shots, "method": "score",
                "demos": demos if shots else None, "calibration": chosen,
                "n_draws": n_draws if chosen == "domain" else None, "normalize": normalize}
    return Annotation(texts, labels, probs, backend.usage, settings, prior)


def _default_spec() -> BackendSpec:
    from labelwise.llm import backend_spec

    return backend_spec()


def _calibrated(probs, method, backend, demo_sets, labels, instruction, texts, n_draws, normalize, random_state):
    """(probabilities divided by the bias prior of their demonstration set, the prior if there was only one)."""
    if method == "none":
        return probs, None
    priors: dict = {}
    rows = np.empty_like(probs)
    for i, d in enumerate(demo_sets):
        key = tuple(d)
        if key not in priors:
            def make(x, d=d):
                return build_prompt(x, labels, d, instruction)
            if method == "domain":
                priors[key] = domain_context_prior(backend, make, labels, texts, n_draws=n_draws,
                                                   normalize=normalize, random_state=random_state)
            else:
                priors[key] = content_free_prior(backend, make, labels, normalize=normalize)
        rows[i] = calibrate(probs[i:i + 1], priors[key])[0]
    return rows, (next(iter(priors.values())) if len(priors) == 1 else None)


def _generated(backend: Backend, prompts: list, labels: list, progress) -> np.ndarray:
    """(n, k) one-hot rows of the label each prompt's completion chose (uniform where it never chose validly)."""
    from labelwise.llm.constrained import generate_labels

    probs = np.full((len(prompts), len(labels)), 1.0 / len(labels))
    for i, prompt in enumerate(prompts):
        chosen = generate_labels(backend, prompt, labels, use_grammar=backend.supports_grammar)
        if chosen:
            probs[i] = 0.0
            probs[i, labels.index(chosen[0])] = 1.0
        if progress is not None:
            progress("labelling", i + 1, len(prompts))
    return probs


def _demonstrations(texts, shots, pool, pool_text, pool_label, demos, labels, encoder, random_state, progress):
    if shots <= 0:
        return [()] * len(texts)
    if pool is None:
        raise DataError("Few-shot labelling needs a labelled pool (pool=... / --pool FILE) to take examples from.")
    frame = pool if isinstance(pool, pd.DataFrame) else read_table(pool)
    for column in (pool_text, pool_label):
        if column not in frame.columns:
            raise DataError(f"The pool has no column {column!r}; it has {', '.join(map(str, frame.columns))}.")
    frame = frame[frame[pool_label].astype(str).isin(labels)]
    if frame.empty:
        raise DataError("No row of the pool has one of the labels to assign; check --pool-label and --labels.")
    pool_texts = [str(x) for x in frame[pool_text]]
    pool_labels = [str(x) for x in frame[pool_label]]
    if demos == "fixed":
        chosen = tuple(_fixed_demos(pool_texts, pool_labels, shots, random_state))
        return [chosen] * len(texts)
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    pool_vectors = np.asarray(encoder.encode(pool_texts), dtype=np.float32)
    vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
    same_text: dict = {}
    for j, t in enumerate(pool_texts):
        same_text.setdefault(t, []).append(j)
    out = []
    for start in range(0, len(texts), 1024):
        sims = vectors[start:start + 1024] @ pool_vectors.T
        for r, query in enumerate(texts[start:start + 1024]):  # a text never demonstrates itself
            for j in same_text.get(query, ()):
                sims[r, j] = -np.inf
        nearest = np.argsort(-sims, axis=1)[:, :shots]
        # most similar last, right before the text (the order in-context learning is most sensitive to)
        out.extend(tuple((pool_texts[j], pool_labels[j]) for j in row[::-1]) for row in nearest)
        if progress is not None:
            progress("choosing demonstrations", min(len(texts), start + 1024), len(texts))
    return out
