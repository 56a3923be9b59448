"""Which pixels of a segmentation dataset are probably mislabelled: confident learning per pixel.

Mirrors ``cleanlab.segmentation.filter`` (2.9) name for name, argument for argument and result for result (tested
for identical masks in ``tests/audit/test_segmentation_parity.py``), so ``from labelwise.audit.segmentation import
filter`` replaces ``from cleanlab.segmentation import filter``. The method is confident learning (Northcutt, Jiang,
Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) with every pixel an example,
run as cleanlab's ``LabelInspector`` runs it:

1. the confident threshold of class k is the mean self-confidence ``p[label]`` of the pixels labelled k, averaged
   batch by batch (cleanlab's running mean over its image batches, clipped below at 2e-6);
2. the number of issues T is the number of pixels whose predicted class (argmax) differs from the given one and
   whose predicted probability reaches that class's threshold (less 1e-6);
3. the T pixels with the lowest self-confidence are flagged (cleanlab's ``argsort`` order, ties included), and
4. a flagged pixel whose argmax equals its label is unflagged again.

With ``downsample=f`` steps 1-3 run on ``f x f`` block means (labels: the rounded mean class index, probabilities:
the renormalised mean), each flagged block is flagged at full resolution, and step 4 runs per full-resolution
pixel: cleanlab's rules, kept as they are.

Unlike cleanlab, which copies each batch twice, keeps every pixel's score in a Python list and sorts them all, the
work here is one vectorised pass over ``pred_probs`` in image batches (a ``np.memmap`` is never loaded whole), the T
lowest scores come from a partition (a full sort only when ties straddle the cut, to reproduce cleanlab's order
exactly), and no process pool is started (``bench/segmentation_audit.py``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit.segmentation._inputs import batch_size_or_default, check_probs, check_shapes
from labelwise.errors import ParameterError
from labelwise.progress import ProgressCallback, report

THRESHOLD_FLOOR = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
FUZZ = 1e-6  # cleanlab's FLOATING_POINT_COMPARISON
MISSING_CLASS_THRESHOLD = 2  # cleanlab's BIG_VALUE for a class absent from a batch
CHUNK_ENTRIES = 1 << 22  # pred_probs entries read per step (16 MiB of float32)


def find_label_issues(
    labels,
    pred_probs,
    *,
    batch_size: Optional[int] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = True,
    progress: Optional[ProgressCallback] = None,
    **kwargs,
) -> np.ndarray:
    """A boolean mask of the pixels whose given label is probably wrong, as ``cleanlab.segmentation.filter``.

    labels: ``(N, H, W)`` int in ``0..K-1``, the given class of each pixel.
    pred_probs: ``(N, K, H, W)`` float, out-of-sample class probabilities per pixel (a ``np.memmap`` is read in
        image batches, never whole).
    batch_size: cleanlab's batch size, in pred_probs entries (default 10000); it sets the image batches over which
        the confident thresholds are averaged, exactly as cleanlab does, so the results match cleanlab's for the
        same value (the work itself is batched independently).
    n_jobs, verbose: accepted for cleanlab's signature and ignored: nothing runs in other processes and nothing is
        printed (pass ``progress`` to follow the work).
    progress: ``progress(stage, done, total)`` called as images are read (see :mod:`labelwise.progress`).
    downsample: int keyword (default 1), cleanlab's: estimate on ``f x f`` block means; H and W must be divisible
        by it.

    Returns ``(N, H, W)`` bool, True where the pixel's label is probably wrong. Raises ShapeError for inputs of the
    wrong shape or values (labels out of range, NaN, probabilities not summing to 1).
    """
    del n_jobs, verbose
    downsample = _downsample(kwargs, allowed=("downsample",))
    batch_size = batch_size_or_default(batch_size)
    labels, pred_probs = check_shapes(labels, pred_probs)
    n, k, height, width = pred_probs.shape
    if height % downsample or width % downsample:
        raise ParameterError(f"Height {height} and width {width} are not divisible by downsample={downsample}; "
                             f"pass a divisor of both, or downsample=1 to not downsample.")
    if n == 0:
        return np.zeros(labels.shape, dtype=bool)
    passes = _read_pass(labels, pred_probs, downsample, batch_size, progress)
    count = _num_issues(passes)
    chosen = lowest(passes.scores.ravel(), count).reshape(passes.scores.shape)
    if downsample > 1:
        chosen = chosen.repeat(downsample, axis=1).repeat(downsample, axis=2)
    return chosen & passes.mislabelled


class _Pass:
    """What one pass over pred_probs keeps: per (downsampled) pixel the self-confidence (``scores``), the predicted
    class and its probability, the labels, the running confident thresholds; per full pixel argmax != label."""

    def __init__(self, n, k, h, w, full_shape, dtype):
        self.scores = np.empty((n, h, w), dtype=dtype)
        self.top_class = np.empty((n, h, w), dtype=np.int16 if k < 2 ** 15 else np.int64)
        self.top_prob = np.empty((n, h, w), dtype=dtype)
        self.labels = np.empty((n, h, w), dtype=np.int64)
        self.mislabelled = np.empty(full_shape, dtype=bool)
        self.thresholds = np.zeros(k)
        self.examples_per_class = np.zeros(k)


def _read_pass(labels, pred_probs, f, batch_size, progress) -> _Pass:
    n, k, height, width = pred_probs.shape
    h, w = height // f, width // f
    images_per_batch = max(batch_size // (k * h * w), 1)  # cleanlab's threshold batches
    step = images_per_batch * max(1, CHUNK_ENTRIES // (k * height * width * images_per_batch))
    state = None
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = np.asarray(pred_probs[start:stop])
        given = np.asarray(labels[start:stop])
        check_probs(block, start)
        if block.dtype == np.float16:
            block = block.astype(np.float32)
        top, top_prob = argmax_and_max(block)
        mislabelled = top != given
        if f > 1:
            small = block.reshape((len(block), k, h, f, w, f)).mean((5, 3))
            block = small / np.expand_dims(small.sum(axis=1), 1)
            given = np.round(given.reshape((len(given), h, f, w, f)).mean((4, 2))).astype(np.int64)
            top, top_prob = argmax_and_max(block)
        if state is None:
            state = _Pass(n, k, h, w, labels.shape, block.dtype)
        scores = self_confidence(block, given)
        state.scores[start:stop] = scores
        state.top_class[start:stop] = top
        state.top_prob[start:stop] = top_prob
        state.labels[start:stop] = given
        state.mislabelled[start:stop] = mislabelled
        for a in range(0, stop - start, images_per_batch):
            _update_thresholds(state, given[a:a + images_per_batch].ravel(),
                               scores[a:a + images_per_batch].ravel(), k)
        report(progress, "segmentation label issues: images read", stop, n)
    return state


def argmax_and_max(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(block.argmax(axis=1), block.max(axis=1))`` of ``block (b, K, H, W)`` (no NaN): the first class plane equal
    to the maximum, as ``argmax`` picks on ties, found plane by plane (numpy's argmax over a middle axis walks
    strided memory and is several times slower)."""
    best = block.max(axis=1)
    k = block.shape[1]
    dtype = np.int16 if k < 2 ** 15 else np.int64
    top = np.full(best.shape, k - 1, dtype=dtype)
    for c in range(k - 2, -1, -1):
        np.copyto(top, dtype(c), where=block[:, c] == best)
    return top, best


def self_confidence(block: np.ndarray, given: np.ndarray) -> np.ndarray:
    """``(b, H, W)``: ``block[i, given[i, y, x], y, x]`` for ``block (b, K, H, W)``, ``given (b, H, W)`` int."""
    b, k, h, w = block.shape
    flat = np.ascontiguousarray(block).reshape(-1)
    index = given.reshape(b, h * w) * (h * w) + np.arange(h * w)
    index += (np.arange(b) * (k * h * w))[:, None]
    return flat[index].reshape(b, h, w)


def _update_thresholds(state: _Pass, given: np.ndarray, scores: np.ndarray, k: int) -> None:
    """cleanlab's ``LabelInspector.update_confident_thresholds`` for one batch (flattened pixels), with the same
    arithmetic: per-class means of the same values in the same order, then the running mean over batches."""
    counts = np.bincount(given, minlength=k)
    order = np.argsort(given.astype(np.uint8) if k <= 256 else given, kind="stable")
    grouped = scores[order]
    ends = np.cumsum(counts)
    present = counts > 0
    sums = np.array([np.add.reduce(grouped[end - c:end]) for c, end in zip(counts[present], ends[present])],
                    dtype=scores.dtype)
    means = (sums / counts[present]).astype(scores.dtype)  # np.mean's float64 division, cast back
    if present.all():
        batch_thresholds = means
    else:  # cleanlab's list mixes float32 means and the int 2: numpy makes it float64
        batch_thresholds = np.full(k, float(MISSING_CLASS_THRESHOLD))
        batch_thresholds[present] = means
    batch_thresholds = np.clip(batch_thresholds, a_min=THRESHOLD_FLOOR, a_max=None)
    state.thresholds = (state.examples_per_class * state.thresholds + counts * batch_thresholds) / np.clip(
        state.examples_per_class + counts, a_min=1, a_max=None)
    state.thresholds = np.clip(state.thresholds, a_min=THRESHOLD_FLOOR, a_max=None)
    state.examples_per_class += counts


def _num_issues(state: _Pass) -> int:
    """cleanlab's estimate of the number of issues: pixels predicted as another class with a probability that
    reaches the predicted class's confident threshold (``LabelInspector._update_num_label_issues``)."""
    reach = state.thresholds - FUZZ
    count = 0
    for i in range(len(state.labels)):  # per image keeps the temporaries small
        top = state.top_class[i]
        count += int(np.count_nonzero((state.top_prob[i] >= reach[top]) & (top != state.labels[i])))
    return count


def lowest(scores: np.ndarray, count: int) -> np.ndarray:
    """``(M,) bool``: True at the ``count`` lowest of ``scores (M,)``, the same entries as
    ``np.argsort(scores)[:count]`` (cleanlab's ``find_top_issues``) picks, ties at the cut included."""
    chosen = np.zeros(scores.shape, dtype=bool)
    if count <= 0:
        return chosen
    if count >= len(scores):
        chosen[:] = True
        return chosen
    cut = np.partition(scores, count - 1)[count - 1]
    below = scores < cut
    at_cut = scores == cut
    if np.count_nonzero(below) + np.count_nonzero(at_cut) == count:
        return below | at_cut
    chosen[np.argsort(scores)[:count]] = True  # ties straddle the cut: which of them win is argsort's to say
    return chosen


def _downsample(kwargs: dict, allowed: tuple) -> int:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ParameterError(f"Unknown keyword argument(s) {unknown}; this function takes {list(allowed)}.")
    value = kwargs.get("downsample", 1)
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ParameterError(f"downsample must be a positive integer (1: no downsampling), got {value!r}.")
    return int(value)
