"""Out-of-fold pixel class probabilities from a small per-pixel model, for an audit without a segmentation model.

Confident learning needs out-of-sample probabilities. When a user brings masks but no model,
:func:`out_of_fold_pixel_probs` trains a CPU-friendly per-pixel classifier K times, each time on the images outside
one fold, and predicts the pixels of that fold's images: no pixel is scored by a model that saw its image.

What the model sees, per pixel (:func:`pixel_features`, 54 numbers): its colour, its colour minus the image's median
colour (most pixels of an image are background, so this is "how unlike the background") and that difference's size,
Gaussian-smoothed colour at scales 1, 2 and 4 pixels, gradient magnitude, signed gradients and Laplacian of the grey
image at those scales, the local contrast, and the smoothed "unlike the background" map sampled on a 5 x 5 grid 3
pixels apart (a 13 x 13 window of context). The classifier (:func:`default_estimator`: a multinomial logistic
regression on standardised features; any scikit-learn classifier can be passed) is trained on a random subsample of
the training images' pixels; each class keeps a floor probability (``FLOOR / K``), so confident thresholds exist
for every class and a class absent from a fold is merely improbable.

What it cannot see: anything beyond a few pixels' context (object shape, layout, how one object relates to another)
and what the images' colours do not tell apart. It separates objects from background and classes that differ in
colour or texture well, so it finds shifted, missing and spurious regions; classes that differ only in shape (a 3
from an 8 in one colour) it barely tells apart, so a region given the wrong class of similar appearance is mostly
missed. With a real model's out-of-sample probabilities the audit does better (``tests/audit/
test_segmentation_pixel_model.py`` measures both); pass those as ``pred_probs`` when you have them.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import ndimage

from labelwise.errors import ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

SCALES = (1.0, 2.0, 4.0)
PATCH_STEP = 3  # the 5 x 5 grid of context samples is 3 pixels apart (a 13 x 13 window)
FLOOR = 1e-3
"""Probability mass spread evenly over the K classes: every class keeps at least ``FLOOR / K``."""


def pixel_features(images: np.ndarray) -> np.ndarray:
    """``(n, H, W, F) float32`` per-pixel features of ``images (n, H, W, 3)`` float in [0, 1] (see the module
    docstring; F = 54)."""
    images = np.asarray(images, dtype=np.float32)
    median = np.median(images.reshape(len(images), -1, 3), axis=1)[:, None, None, :]
    grey = images.mean(axis=3)
    parts = [images, images - median, np.linalg.norm(images - median, axis=3, keepdims=True)]
    for s in SCALES:
        parts.append(ndimage.gaussian_filter(images, sigma=(0, s, s, 0)))
        gy = ndimage.gaussian_filter(grey, sigma=(0, s, s), order=(0, 1, 0))
        gx = ndimage.gaussian_filter(grey, sigma=(0, s, s), order=(0, 0, 1))
        laplace = (ndimage.gaussian_filter(grey, sigma=(0, s, s), order=(0, 2, 0))
                   + ndimage.gaussian_filter(grey, sigma=(0, s, s), order=(0, 0, 2)))
        parts.append(np.stack([np.hypot(gx, gy), gx, gy, laplace], axis=3))
    contrast = ndimage.gaussian_filter(parts[2][..., 0], sigma=(0, 1, 1))
    padded = np.pad(contrast, ((0, 0), (PATCH_STEP * 2,) * 2, (PATCH_STEP * 2,) * 2), mode="edge")
    height, width = grey.shape[1:]
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            y0, x0 = PATCH_STEP * (2 + dy), PATCH_STEP * (2 + dx)
            parts.append(padded[:, y0:y0 + height, x0:x0 + width, None])
    mean = ndimage.gaussian_filter(grey, sigma=(0, 2, 2))
    square = ndimage.gaussian_filter(grey ** 2, sigma=(0, 2, 2))
    parts.append(np.sqrt(np.clip(square - mean ** 2, 0, None))[..., None])
    return np.concatenate(parts, axis=3).astype(np.float32)


def out_of_fold_pixel_probs(
    images: np.ndarray,
    masks: np.ndarray,
    num_classes: int,
    *,
    n_splits: int = 5,
    random_state: int = 0,
    progress: Optional[ProgressCallback] = None,
    max_train_pixels: int = 10000,
    estimator=None,
) -> np.ndarray:
    """``(n, K, H, W) float32`` out-of-fold class probabilities for every pixel of ``images``.

    images: ``(n, H, W, 3)`` float in [0, 1]; masks: ``(n, H, W)`` int in ``0..num_classes-1``, the given labels
    (noisy: the model learns from them, the folds keep each image's own labels out of its prediction). n_splits:
    folds over images (at most n, at least 2). max_train_pixels: pixels sampled from the training images per fold.
    estimator: a scikit-learn classifier with ``predict_proba`` (cloned per fold; default
    :func:`default_estimator`). progress: ``progress(stage, done, total)`` per fold.
    """
    from sklearn.model_selection import KFold

    images, masks = _check(images, masks, num_classes)
    n = len(images)
    if not 2 <= n_splits <= n:
        raise ParameterError(f"n_splits={n_splits} must be between 2 and the number of images ({n}): every fold "
                             f"needs images to train on and images to score.")
    features = pixel_features(images)
    rng = np.random.default_rng(random_state)
    out = np.empty((n, num_classes) + images.shape[1:3], dtype=np.float32)
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(np.arange(n))
    for fold, (train, test) in enumerate(folds):
        out[test] = _fit_predict(features[train], masks[train], features[test], num_classes, max_train_pixels,
                                 estimator, rng, random_state)
        report(progress, "pixel model: folds", fold + 1, n_splits)
    return out


def fit_predict_pixel_probs(train_images: np.ndarray, train_masks: np.ndarray, images: np.ndarray,
                            num_classes: int, *, random_state: int = 0, max_train_pixels: int = 10000,
                            estimator=None) -> np.ndarray:
    """``(n, K, H, W) float32`` probabilities for ``images (n, H, W, 3)`` from the per-pixel model trained on other
    images ``train_images (m, H', W', 3)`` with masks ``train_masks (m, H', W')`` (e.g. a clean, checked subset).
    Arguments as in :func:`out_of_fold_pixel_probs`."""
    train_images, train_masks = _check(train_images, train_masks, num_classes)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 3:
        raise ShapeError(f"images must have the shape (n, H, W, 3) (RGB in [0, 1]); got shape {images.shape}.")
    return _fit_predict(pixel_features(train_images), train_masks, pixel_features(images), num_classes,
                        max_train_pixels, estimator, np.random.default_rng(random_state), random_state)


def _fit_predict(train_features, train_masks, features, num_classes, max_train_pixels, estimator, rng,
                 random_state) -> np.ndarray:
    """(n, K, H, W) float32 probabilities of ``features (n, H, W, F)`` from a model fit on a pixel sample of
    ``train_features (m, H', W', F)`` / ``train_masks (m, H', W')``, floored at ``FLOOR / K``."""
    from sklearn.base import clone

    if estimator is None:
        estimator = default_estimator()
    n, height, width, n_features = features.shape
    x = train_features.reshape(-1, n_features)
    y = train_masks.reshape(-1)
    if len(y) > max_train_pixels:
        pick = rng.choice(len(y), size=max_train_pixels, replace=False)
        x, y = x[pick], y[pick]
    probs = np.zeros((n * height * width, num_classes), dtype=np.float64)
    if len(np.unique(y)) == 1:
        probs[:, y[0]] = 1.0
    else:
        model = clone(estimator).fit(x, y)
        probs[:, model.classes_] = model.predict_proba(features.reshape(-1, n_features))
    probs = (1 - FLOOR) * probs + FLOOR / num_classes
    return probs.reshape(n, height, width, num_classes).transpose(0, 3, 1, 2).astype(np.float32)


def default_estimator():
    """The default per-pixel classifier: standardised features into a multinomial logistic regression (on a loaded
    2-core machine a gradient-boosting model was 3x slower and no better on digit scenes)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))


def _check(images, masks, num_classes) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    masks = np.asarray(masks)
    if images.ndim != 4 or images.shape[3] != 3:
        raise ShapeError(f"images must have the shape (n, H, W, 3) (RGB in [0, 1]); got shape {images.shape}.")
    if masks.shape != images.shape[:3]:
        raise ShapeError(f"masks {masks.shape} must have the shape (n, H, W) = {images.shape[:3]} of the images.")
    if not np.issubdtype(masks.dtype, np.integer) or (masks.size and (masks.min() < 0 or
                                                                       masks.max() >= num_classes)):
        raise ShapeError(f"masks must hold integer class indices in 0..{num_classes - 1}.")
    return images, masks
