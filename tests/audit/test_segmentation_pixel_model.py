"""The out-of-fold pixel model: folds by image, floors, and an audit of digit scenes with known corrupted masks
(shifted digits, wrong digit class, missing digit, spurious blob) that ranks the corrupted images first and lands
its flags on the corrupted pixels; with true probabilities the same audit does better."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from labelwise.audit.segmentation import find_label_issues, get_label_quality_scores
from labelwise.audit.segmentation.pixel_model import FLOOR, out_of_fold_pixel_probs
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.digit_scenes import NUM_CLASSES, digit_scenes
from labelwise.testing.mosaics import split_digits
from labelwise.testing.segmentation_noise import corrupt_masks


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One BLAS thread (several oversubscribe a busy machine: 40 times slower here). Module scope, so that it is in
    place before the module's other fixtures."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def audit_set():
    """60 digit scenes (32 x 32), 30 % of the masks corrupted (the four kinds in turn), and the out-of-fold probs."""
    data = digit_scenes(60, size=32, pool=split_digits()[1], seed=11)
    noisy = corrupt_masks(data.masks, NUM_CLASSES, fraction=0.3, seed=2)
    probs = out_of_fold_pixel_probs(data.images, noisy.masks, NUM_CLASSES, n_splits=4)
    return data, noisy, probs


def true_probs(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    """What a good segmentation model trained on clean masks outputs: the clean one-hot masks, blurred at the
    edges, with multiplicative noise, normalised."""
    onehot = (clean[:, None] == np.arange(NUM_CLASSES)[None, :, None, None]).astype(np.float64)
    probs = ndimage.gaussian_filter(onehot, sigma=(0, 0, 1, 1)) + 0.02
    probs *= np.exp(0.5 * np.random.default_rng(seed).normal(size=probs.shape))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def audit_figures(noisy, probs) -> dict:
    issues = find_label_issues(noisy.masks, probs)
    image_scores, _ = get_label_quality_scores(noisy.masks, probs)
    hits = np.count_nonzero(issues & noisy.changed)
    return {"auroc": roc_auc_score(noisy.corrupted, -image_scores),
            "precision": hits / max(1, np.count_nonzero(issues)),
            "recall": hits / np.count_nonzero(noisy.changed)}


def test_probabilities_are_floored_distributions(audit_set):
    _, _, probs = audit_set
    assert probs.shape == (60, NUM_CLASSES, 32, 32) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert probs.min() >= FLOOR / NUM_CLASSES * 0.999


def test_an_image_is_never_scored_by_a_model_that_saw_its_labels():
    data = digit_scenes(8, size=16, seed=3)
    probs = out_of_fold_pixel_probs(data.images, data.masks, NUM_CLASSES, n_splits=4, max_train_pixels=1500)
    changed = data.masks.copy()
    changed[5] = np.where(changed[5] > 0, 0, 1)  # image 5's labels scrambled
    again = out_of_fold_pixel_probs(data.images, changed, NUM_CLASSES, n_splits=4, max_train_pixels=1500)
    assert np.array_equal(again[5], probs[5])  # its own probabilities cannot depend on its labels
    assert not np.array_equal(again, probs)  # the other folds' models learnt from them


def test_audit_with_out_of_fold_probs_finds_the_corrupted_masks(audit_set):
    _, noisy, probs = audit_set
    figures = audit_figures(noisy, probs)
    base_rate = noisy.changed.mean()
    # measured (tests' seeds): AUROC 0.78, precision 0.11 (base rate 0.023), recall 0.74
    assert figures["auroc"] > 0.7
    assert figures["precision"] > 3 * base_rate
    assert figures["recall"] > 0.6


def test_true_probabilities_do_better_than_the_pixel_model(audit_set):
    data, noisy, probs = audit_set
    model = audit_figures(noisy, probs)
    truth = audit_figures(noisy, true_probs(data.masks))
    # measured: AUROC 0.78 -> 1.0, precision 0.11 -> 0.98; recall is similar (0.74 vs 0.68): the pixel model flags
    # many more pixels, correct ones among them
    assert truth["auroc"] > model["auroc"] + 0.1 and truth["precision"] > 2 * model["precision"]


def test_bad_inputs():
    data = digit_scenes(4, size=16, seed=1)
    with pytest.raises(ShapeError, match=r"\(n, H, W, 3\)"):
        out_of_fold_pixel_probs(data.images[..., 0], data.masks, NUM_CLASSES)
    with pytest.raises(ShapeError, match="0..10"):
        out_of_fold_pixel_probs(data.images, data.masks + 11, NUM_CLASSES)
    with pytest.raises(ParameterError, match="n_splits=5"):
        out_of_fold_pixel_probs(data.images, data.masks, NUM_CLASSES)
