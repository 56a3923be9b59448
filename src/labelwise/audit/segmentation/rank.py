"""Label quality scores for segmentation images and pixels.

Mirrors ``cleanlab.segmentation.rank`` (2.9): the same names, arguments and results (tested in
``tests/audit/test_segmentation_parity.py``). A pixel's score is its self-confidence, the predicted probability of
its given class; an image's score is either the softmin of its pixel scores (``method="softmin"``, cleanlab's
default: ``sum_i s_i softmax((1 - s)/T)_i`` with temperature T = 0.1) or one minus the share of its pixels that
:func:`~labelwise.audit.segmentation.filter.find_label_issues` flags (``method="num_pixel_issues"``). Lower is
worse. The softmin here runs on batches of images at once instead of cleanlab's loop over images.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from labelwise.audit.segmentation._inputs import batch_size_or_default, check_probs, check_shapes
from labelwise.audit.segmentation.filter import CHUNK_ENTRIES, _downsample, find_label_issues, self_confidence
from labelwise.errors import ParameterError
from labelwise.progress import ProgressCallback, report

METHODS = ("softmin", "num_pixel_issues")


def get_label_quality_scores(
    labels,
    pred_probs,
    *,
    method: str = "softmin",
    batch_size: Optional[int] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = True,
    progress: Optional[ProgressCallback] = None,
    **kwargs,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image_scores (N,) float, pixel_scores (N, H, W) float)`` in [0, 1], lower meaning more likely mislabelled.

    labels: ``(N, H, W)`` int in ``0..K-1``; pred_probs: ``(N, K, H, W)`` float (a ``np.memmap`` is read in image
    batches). method: ``"softmin"`` or ``"num_pixel_issues"`` (see the module docstring). batch_size, n_jobs,
    downsample (keyword): passed to :func:`find_label_issues` for ``"num_pixel_issues"`` (downsample is ignored, with
    a warning as in cleanlab, for ``"softmin"``). temperature (keyword, default 0.1): the softmin's; smaller values
    follow the worst pixel, larger ones the mean. verbose and n_jobs are accepted and ignored (nothing printed, no
    processes); ``progress(stage, done, total)`` follows the images read.

    pixel_scores is float64 for ``"softmin"`` and pred_probs' dtype for ``"num_pixel_issues"``, as in cleanlab.
    """
    del verbose
    unknown = sorted(set(kwargs) - {"downsample", "temperature"})
    if unknown:
        raise ParameterError(f"Unknown keyword argument(s) {unknown}; get_label_quality_scores takes downsample and "
                             f"temperature.")
    batch_size = batch_size_or_default(batch_size)
    labels, pred_probs = check_shapes(labels, pred_probs)
    temperature = kwargs.get("temperature", 0.1)
    downsample = _downsample({"downsample": kwargs.get("downsample", 1)}, allowed=("downsample",))
    if method == "num_pixel_issues":
        pixel_scores = _pixel_scores(labels, pred_probs, None, progress, dtype=None)
        issues = find_label_issues(labels, pred_probs, downsample=downsample, n_jobs=n_jobs,
                                   batch_size=batch_size, progress=progress)
        return 1 - np.mean(issues, axis=(1, 2)), pixel_scores
    if method != "softmin":
        raise ParameterError(f"method must be one of {list(METHODS)}, got {method!r}.")
    if downsample != 1:
        warnings.warn(f"image will not downsample for method {method} is only for method: num_pixel_issues",
                      stacklevel=2)
    if temperature is None or temperature == 0:
        raise ParameterError("temperature must be a positive number (cleanlab's default is 0.1), got "
                             f"{temperature!r}.")
    image_scores = np.empty(len(labels))
    pixel_scores = _pixel_scores(labels, pred_probs, image_scores, progress, dtype=np.float64,
                                 temperature=temperature)
    return image_scores, pixel_scores


def _pixel_scores(labels, pred_probs, image_scores, progress, dtype, temperature=0.1) -> np.ndarray:
    """Self-confidence ``pred_probs[i, labels[i, y, x], y, x]`` per pixel, read in image batches; when
    ``image_scores`` is given, fill it with each image's softmin of those scores."""
    n, k, h, w = pred_probs.shape
    step = max(1, CHUNK_ENTRIES // max(1, k * h * w))
    out = None
    for start in range(0, n, step):
        block = np.asarray(pred_probs[start:start + step])
        check_probs(block, start)
        scores = self_confidence(block, np.asarray(labels[start:start + step]))
        if out is None:
            out = np.empty((n, h, w), dtype=dtype or scores.dtype)
        out[start:start + step] = scores
        if image_scores is not None:
            image_scores[start:start + step] = softmin(scores.reshape(len(scores), -1), temperature)
        report(progress, "segmentation label quality: images scored", min(start + step, n), n)
    if out is None:
        out = np.empty((0, h, w), dtype=dtype or pred_probs.dtype)
    return out


def softmin(scores: np.ndarray, temperature: float = 0.1) -> np.ndarray:
    """``(n,)`` softmin of each row of ``scores (n, m)`` in float64: ``sum_j s_j softmax((1 - s) / T)_j``
    (cleanlab's ``internal.multilabel_scorer.softmin``, shifted for stability)."""
    s = scores.astype(np.float64)
    x = (1 - s) / max(temperature, 1e-8)
    x -= x.max(axis=1, keepdims=True)
    weights = np.exp(x)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", s, weights)


def issues_from_scores(image_scores: np.ndarray, pixel_scores: Optional[np.ndarray] = None,
                       threshold: float = 0.1) -> np.ndarray:
    """Scores from :func:`get_label_quality_scores` turned into issues, as cleanlab's ``issues_from_scores``.

    With ``pixel_scores (N, H, W)``: the ``(N, H, W) bool`` mask ``pixel_scores < threshold``. Without: the indices of
    the images whose ``image_scores (N,)`` fall below ``threshold``, lowest first, followed, as cleanlab returns
    them, by the first image at or above it (cleanlab's ``ranking[:cutoff + 1]``; kept for identical results). The
    threshold is arbitrary: use :func:`~labelwise.audit.segmentation.filter.find_label_issues` to estimate how many
    pixels are wrong.
    """
    if image_scores is None:
        raise ParameterError("image_scores must be provided (the first array get_label_quality_scores returns).")
    if threshold is None or not 0 <= threshold <= 1:
        raise ParameterError(f"threshold must be between 0 and 1, got {threshold!r}.")
    if pixel_scores is not None:
        return np.asarray(pixel_scores) < threshold
    image_scores = np.asarray(image_scores)
    ranking = np.argsort(image_scores)
    cutoff = np.searchsorted(image_scores[ranking], threshold)
    return ranking[: cutoff + 1]
