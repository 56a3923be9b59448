"""Label scoring: a probability over a fixed label set from the log-likelihood of each label after a prompt.

The model is never asked to *write* a label (a small model rarely writes one of the given strings). Instead every
label is scored as the continuation of the prompt: log p(label tokens | prompt), summed over the label's tokens;
optionally divided by the token count (length normalisation, so long labels are not penalised for their length).
A softmax over labels gives the probabilities, shape (k,) per prompt.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.llm.backend import Backend


def label_log_likelihoods(backend: Backend, prompt: str, labels: Sequence[str], *, normalize: bool = False,
                          separator: str = " ") -> np.ndarray:
    """(k,) log-likelihood of each label after ``prompt`` (continuations are ``separator + label``)."""
    logprobs, counts = backend.score(prompt, [separator + label for label in labels])
    scores = np.asarray(logprobs, dtype=np.float64)
    if normalize:
        scores = scores / np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    return scores


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (..., k) scores."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def label_probabilities(backend: Backend, prompts: Sequence[str], labels: Sequence[str], *,
                        normalize: bool = False, progress: Optional[Callable[[str, int, int], None]] = None,
                        stage: str = "scoring labels", workers: Optional[int] = None) -> np.ndarray:
    """(n, k) probabilities over ``labels`` for each of the n prompts.

    workers: prompts scored at once (default: the backend's ``max_concurrency``, 1 for in-process models, which
    compute one at a time anyway). Rows keep their order; the first error stops the run (answers already received
    stay in the backend's cache, so a rerun resumes)."""
    out = np.empty((len(prompts), len(labels)))
    workers = int(workers or getattr(backend, "max_concurrency", 1) or 1)

    def one(i: int) -> None:
        out[i] = softmax(label_log_likelihoods(backend, prompts[i], labels, normalize=normalize))

    if workers <= 1 or len(prompts) <= 1:
        for i in range(len(prompts)):
            one(i)
            if progress is not None:
                progress(stage, i + 1, len(prompts))
        return out
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i) for i in range(len(prompts))]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                future.result()
                if progress is not None:
                    progress(stage, done, len(prompts))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return out
