"""Calibrating in-context label probabilities against the model's label bias.

A language model prompted to classify prefers some labels whatever the input: because of the demonstrations
(contextual bias), the label words themselves (vanilla label bias), and the task's vocabulary (domain-label bias).
Both methods estimate that preference as a prior p_bias (k,) from inputs that carry no content, then correct every
prediction by it: ``calibrated ∝ p / p_bias`` (the diagonal case of Zhao et al. 2021, W = diag(p_bias)^-1, b = 0).

- **Contextual calibration** (Zhao et al. 2021, "Calibrate Before Use"): content-free inputs such as ``"N/A"``,
  ``""`` and ``"[MASK]"``, their probabilities averaged.
- **Domain-context calibration** (Fei et al. 2023, "Mitigating Label Biases for In-context Learning", seed paper):
  random *in-domain* words, sampled from the task's unlabelled corpus, as many as an average input has, averaged
  over several draws (the paper uses 20). This also captures the domain's pull towards some labels, which a
  content-free token does not.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.llm.backend import Backend
from labelwise.llm.scoring import label_probabilities

CONTENT_FREE = ("N/A", "", "[MASK]")


def calibrate(probs: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(n, k) probabilities divided by the (k,) bias prior and renormalised per row."""
    probs = np.asarray(probs, dtype=np.float64)
    prior = np.clip(np.asarray(prior, dtype=np.float64), 1e-12, None)
    adjusted = probs / prior
    return adjusted / adjusted.sum(axis=-1, keepdims=True)


def content_free_prior(backend: Backend, make_prompt: Callable[[str], str], labels: Sequence[str], *,
                       inputs: Sequence[str] = CONTENT_FREE, normalize: bool = False) -> np.ndarray:
    """(k,) mean label probabilities for content-free inputs, prompted exactly as real inputs are."""
    probs = label_probabilities(backend, [make_prompt(x) for x in inputs], labels, normalize=normalize)
    prior = probs.mean(axis=0)
    return prior / prior.sum()


def random_domain_texts(corpus: Sequence[str], *, n_draws: int = 20, length: Optional[int] = None,
                        random_state: int = 0) -> list[str]:
    """``n_draws`` strings of random words drawn (with replacement) from the words of ``corpus``; each as long as
    an average text of the corpus (in words) unless ``length`` is given."""
    words = [w for text in corpus for w in str(text).split()]
    if not words:
        return list(CONTENT_FREE)
    if length is None:
        length = max(1, int(round(np.mean([len(str(t).split()) for t in corpus]))))
    rng = np.random.default_rng(random_state)
    return [" ".join(rng.choice(words, size=length)) for _ in range(n_draws)]


def domain_context_prior(backend: Backend, make_prompt: Callable[[str], str], labels: Sequence[str],
                         corpus: Sequence[str], *, n_draws: int = 20, normalize: bool = False,
                         random_state: int = 0) -> np.ndarray:
    """(k,) mean label probabilities for random in-domain texts (Fei et al. 2023)."""
    texts = random_domain_texts(corpus, n_draws=n_draws, random_state=random_state)
    probs = label_probabilities(backend, [make_prompt(x) for x in texts], labels, normalize=normalize)
    prior = probs.mean(axis=0)
    return prior / prior.sum()
