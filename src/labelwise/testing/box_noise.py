"""Box-label corruption with a known truth, and the predictions of a simulated good detector, for testing and
benchmarking the box audit (:mod:`labelwise.audit.object_detection`) on :mod:`labelwise.testing.box_scenes`.

- :func:`simulate_predictions`: cleanlab-format predictions from the true boxes: each object found by a box of its
  class jittered by about a pixel with pred_prob in [0.96, 1), now and then a low-confidence box of another class
  at the same place, and a few low-confidence false positives;
- :func:`corrupt_boxes`: labels in cleanlab's format with one box of some images corrupted in turn by the three
  kinds of error the audit looks for: ``"overlooked"`` (the box dropped), ``"swapped"`` (its class changed),
  ``"badloc"`` (the box shifted by half its size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KINDS", "CorruptedBoxes", "simulate_predictions", "corrupt_boxes"]

KINDS = ("overlooked", "swapped", "badloc")


def simulate_predictions(boxes: list, classes: list, n_classes: int, *, size: float = 48.0, jitter: float = 1.0,
                         false_positives: float = 0.5, seed: int = 0) -> list:
    """``N`` object arrays of ``K`` ``(M, 5) float64`` arrays ``[x1, y1, x2, y2, pred_prob]`` for true ``boxes``
    (``N`` arrays ``(k_i, 4)`` xyxy) of ``classes`` (``N`` arrays ``(k_i,)``) on ``size`` x ``size`` images;
    ``false_positives``: the mean number of low-confidence (pred_prob < 0.4) spurious boxes per image."""
    rng = np.random.default_rng(seed)
    out = []
    for bxs, cls in zip(boxes, classes):
        per_class = [[] for _ in range(n_classes)]
        for box, c in zip(np.asarray(bxs, dtype=np.float64).reshape(-1, 4), cls):
            noisy = np.clip(box + rng.normal(0, jitter, 4), 0, size)
            per_class[int(c)].append([*noisy, rng.uniform(0.96, 1.0)])
            if rng.random() < 0.3:
                other = int((c + rng.integers(1, n_classes)) % n_classes)
                per_class[other].append([*np.clip(box + rng.normal(0, jitter, 4), 0, size), rng.uniform(0.01, 0.3)])
        for _ in range(rng.poisson(false_positives)):
            x, y = rng.uniform(0, size - 8, 2)
            w, h = rng.uniform(6, 16, 2)
            per_class[int(rng.integers(n_classes))].append([x, y, min(x + w, size), min(y + h, size),
                                                            rng.uniform(0.05, 0.4)])
        prediction = np.empty(n_classes, dtype=object)
        for k in range(n_classes):
            prediction[k] = np.array(per_class[k], dtype=np.float64).reshape(-1, 5)
        out.append(prediction)
    return out


@dataclass(frozen=True)
class CorruptedBoxes:
    """labels: ``N`` cleanlab label dicts (some corrupted); kind: ``(N,)`` str, the corruption of each image
    (``""`` clean); box: ``(N,) int``, the index of the corrupted box in the *clean* image's boxes (-1 clean)."""

    labels: list
    kind: np.ndarray
    box: np.ndarray


def corrupt_boxes(boxes: list, classes: list, n_classes: int, *, fraction: float = 0.3, kinds=KINDS,
                  seed: int = 0) -> CorruptedBoxes:
    """Corrupt one box in ``fraction`` of the images (those with at least one box), cycling through ``kinds``;
    ``"badloc"`` shifts the box by half its width and height (keeping its size), ``"swapped"`` gives it another
    class at random."""
    rng = np.random.default_rng(seed)
    n = len(boxes)
    eligible = np.flatnonzero([len(b) > 0 for b in boxes])
    chosen = rng.choice(eligible, size=int(round(fraction * len(eligible))), replace=False)
    kind = np.full(n, "", dtype=object)
    which = np.full(n, -1, dtype=np.int64)
    labels = [{"bboxes": np.asarray(b, dtype=np.float64).reshape(-1, 4).copy(),
               "labels": np.asarray(c, dtype=np.int64).copy(), "image_name": f"scene_{i}"}
              for i, (b, c) in enumerate(zip(boxes, classes))]
    for j, i in enumerate(np.sort(chosen)):
        label = labels[i]
        k = int(rng.integers(len(label["labels"])))
        kind[i], which[i] = kinds[j % len(kinds)], k
        if kind[i] == "overlooked":
            keep = np.arange(len(label["labels"])) != k
            label["bboxes"], label["labels"] = label["bboxes"][keep], label["labels"][keep]
        elif kind[i] == "swapped":
            label["labels"][k] = (label["labels"][k] + rng.integers(1, n_classes)) % n_classes
        else:
            box = label["bboxes"][k]
            w, h = box[2] - box[0], box[3] - box[1]
            label["bboxes"][k] = box + np.array([w, h, w, h]) * rng.choice([-0.5, 0.5], 2).repeat(2)[[0, 2, 1, 3]]
    return CorruptedBoxes(labels, kind.astype(str), which)
