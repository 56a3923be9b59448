"""Summaries of segmentation label issues: which class swaps are common, the issues of one class, and the worst
images as pictures.

Mirrors ``cleanlab.segmentation.summary`` (2.9): ``common_label_issues`` returns the same pandas table (tested for
equality), ``filter_by_class`` the same mask. ``display_issues`` takes cleanlab's arguments but draws nothing (no
matplotlib): it returns the panels cleanlab would plot, as arrays (:class:`IssuePanel`), in cleanlab's order, for a
notebook's ``imshow``, the HTML report or an image file. This module builds pandas tables, so it sits on the
workflows floor and is not imported by ``labelwise.audit.segmentation`` itself: ``from labelwise.audit.segmentation
import summary``.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import pandas as pd

from labelwise.audit.segmentation.filter import argmax_and_max
from labelwise.errors import ShapeError

TOP = 20  # cleanlab's default number of rows / images
RED = np.array([255, 0, 0], dtype=np.uint8)


def _defaults(exclude, top) -> tuple[list, int]:
    return ([] if exclude is None else list(exclude)), (TOP if top is None else int(top))


def common_label_issues(
    issues: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    class_names: Optional[List[str]] = None,
    exclude: Optional[List[int]] = None,
    top: Optional[int] = None,
    verbose: bool = True,
) -> pd.DataFrame:
    """How often each (given class, predicted class) swap occurs among the flagged pixels, as cleanlab's.

    issues: ``(N, H, W) bool`` (from :func:`~labelwise.audit.segmentation.filter.find_label_issues` or
    :func:`~labelwise.audit.segmentation.rank.issues_from_scores`); labels: ``(N, H, W)`` int; pred_probs:
    ``(N, K, H, W)`` float (read one image at a time). class_names: K names (default the class indices as text);
    exclude: predicted classes not to count; top: rows kept (default 20); verbose: print one plain-text line per row.

    Returns a DataFrame with columns ``given_label``, ``predicted_label``, ``num_pixel_issues``, most frequent first.
    """
    shape = getattr(pred_probs, "shape", ())
    if len(shape) != 4:
        raise ShapeError(f"pred_probs must have the shape (N, K, H, W); got shape {tuple(shape)}.")
    n, k, height, width = shape
    labels = np.asarray(labels)
    issues = np.asarray(issues, dtype=bool)
    if labels.shape != (n, height, width) or issues.shape != (n, height, width):
        raise ShapeError(f"labels {labels.shape} and issues {issues.shape} must have the shape (N, H, W) = "
                         f"{(n, height, width)} of pred_probs.")
    exclude, top = _defaults(exclude, top)
    counts = np.zeros(k * k, dtype=np.int64)
    for i in np.flatnonzero(issues.any(axis=(1, 2))):
        ys, xs = np.nonzero(issues[i])
        block = np.asarray(pred_probs[i])[:, ys, xs]  # (K, m)
        predicted = block.argmax(axis=0)
        keep = ~np.isin(predicted, exclude)
        counts += np.bincount(labels[i, ys, xs][keep] * k + predicted[keep], minlength=k * k)
    names = [str(c) for c in range(k)] if class_names is None else list(class_names)
    given, predicted = np.nonzero(counts.reshape(k, k)[:len(names)])
    rows = [[names[g], names[p], counts[g * k + p]] for g, p in zip(given, predicted)]
    rows = sorted(rows, key=lambda row: row[2], reverse=True)[:top]
    table = pd.DataFrame(rows, columns=["given_label", "predicted_label", "num_pixel_issues"])
    if verbose:
        for _, row in table.iterrows():
            print(f"Class '{row['given_label']}' is potentially mislabeled as class for '{row['predicted_label']}' "
                  f"{row['num_pixel_issues']} pixels in the dataset")
    return table


def filter_by_class(class_index: int, issues: np.ndarray, labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``(N, H, W) bool``: the issues whose given class or predicted class (argmax) is ``class_index``, as
    cleanlab's."""
    issues = np.asarray(issues, dtype=bool)
    predicted = np.concatenate([argmax_and_max(np.asarray(pred_probs[i:i + 64]))[0]
                                for i in range(0, len(issues), 64)]) if len(issues) else np.zeros_like(issues)
    return issues & (np.isin(labels, class_index) | np.isin(predicted, class_index))


@dataclass(frozen=True)
class IssuePanel:
    """What cleanlab's ``display_issues`` plots for one image, as arrays.

    index: the image's index; num_pixel_issues: its flagged pixels; issues: ``(H, W) bool`` flagged pixels (given
    classes in ``exclude`` removed); given: ``(H, W, 3) uint8`` the given labels in class colours, or None without
    labels; predicted: ``(H, W, 3) uint8`` the argmax of pred_probs in class colours, or None without pred_probs;
    overlay: ``(H, W, 3) uint8`` the given labels (grey without labels) with the flagged pixels in red.
    """

    index: int
    num_pixel_issues: int
    issues: np.ndarray
    given: Optional[np.ndarray]
    predicted: Optional[np.ndarray]
    overlay: np.ndarray


def display_issues(
    issues: np.ndarray,
    *,
    labels: Optional[np.ndarray] = None,
    pred_probs: Optional[np.ndarray] = None,
    class_names: Optional[List[str]] = None,
    exclude: Optional[List[int]] = None,
    top: Optional[int] = None,
    **kwargs,
) -> List[IssuePanel]:
    """The images with the most flagged pixels, as cleanlab's ``display_issues`` orders them, returned as
    :class:`IssuePanel` arrays instead of matplotlib figures (nothing is drawn or printed).

    issues: ``(N, H, W) bool``; labels: ``(N, H, W)`` int, optional (needed for ``exclude``); pred_probs:
    ``(N, K, H, W)``, optional; class_names: accepted for cleanlab's signature (the colours of class c are
    ``class_colours(K)[c]``); exclude: given classes whose flagged pixels are not shown; top: images returned (default
    20); kwargs (cleanlab passes them to ``plt.show``) are ignored.
    """
    del class_names, kwargs
    exclude, top = _defaults(exclude, top)
    if labels is None and exclude:
        raise ShapeError("Provide labels to allow class exclusion (exclude names given classes).")
    issues = np.asarray(issues, dtype=bool)
    order = np.argsort(-np.sum(issues, axis=(1, 2)))[:min(top, len(issues))]
    if pred_probs is not None:
        k = pred_probs.shape[1]
    elif labels is not None:
        k = int(np.max(labels)) + 1
    else:
        k = 1
    colours = class_colours(k)
    panels = []
    for i in order:
        shown = issues[i] & ~np.isin(labels[i], exclude) if labels is not None and exclude else issues[i]
        given = colours[labels[i]] if labels is not None else None
        predicted = colours[np.asarray(pred_probs[i]).argmax(axis=0)] if pred_probs is not None else None
        overlay = given.copy() if given is not None else np.full(shown.shape + (3,), 128, dtype=np.uint8)
        overlay[shown] = RED
        panels.append(IssuePanel(int(i), int(issues[i].sum()), shown, given, predicted, overlay))
    return panels


def class_colours(k: int) -> np.ndarray:
    """``(k, 3) uint8`` distinct colours, one per class: hues spread around the circle, alternating brightness."""
    hues = (np.arange(k) * 0.618033988749895) % 1.0
    rgb = [colorsys.hsv_to_rgb(h, 0.75, 0.95 if c % 2 else 0.7) for c, h in enumerate(hues)]
    return (np.asarray(rgb).reshape(k, 3) * 255).round().astype(np.uint8)
