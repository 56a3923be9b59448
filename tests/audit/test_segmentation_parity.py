"""labelwise.audit.segmentation against cleanlab 2.9's segmentation module: identical masks, scores equal to float
tolerance, on random inputs and on digit scenes with corrupted masks; plus the input checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from labelwise.audit import segmentation as seg
from labelwise.audit.segmentation import summary
from labelwise.audit.segmentation.filter import lowest
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.digit_scenes import NUM_CLASSES, digit_scenes
from labelwise.testing.segmentation_noise import corrupt_masks


@pytest.fixture(scope="module")
def cl():
    """cleanlab.segmentation, the reference implementation."""
    pytest.importorskip("cleanlab", reason="cleanlab is the reference implementation (pip install -e '.[dev]')")
    from cleanlab.segmentation import filter, rank, summary
    return filter, rank, summary


def random_inputs(n=12, k=5, h=16, w=16, noise=0.15, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, (n, h, w))
    logits = rng.normal(0, 1, (n, k, h, w)) + 2.5 * (np.arange(k)[None, :, None, None] == truth[:, None])
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random((n, h, w)) < noise, rng.integers(0, k, (n, h, w)), truth)
    return labels, probs.astype(dtype)


def blurred_probs(masks, k, sigma=1.0, noise=0.0, seed=0):
    """(n, K, H, W) float32 'model' probabilities: the one-hot masks blurred, floored and normalised; without noise,
    flat regions give many equal scores (ties at cleanlab's cut)."""
    onehot = (masks[:, None] == np.arange(k)[None, :, None, None]).astype(np.float64)
    probs = ndimage.gaussian_filter(onehot, sigma=(0, 0, sigma, sigma)) + 0.02
    if noise:
        probs *= np.exp(noise * np.random.default_rng(seed).normal(size=probs.shape))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def scenes():
    """Digit scenes whose masks are 40 % corrupted, with probabilities blurred from the clean masks."""
    data = digit_scenes(16, size=32, seed=5)
    noisy = corrupt_masks(data.masks, NUM_CLASSES, fraction=0.4, seed=1)
    return noisy.masks, data.masks


def assert_parity(cl, labels, probs, **kwargs):
    filter_, rank, _ = cl
    theirs = filter_.find_label_issues(labels, probs, verbose=False, n_jobs=1, **kwargs)
    ours = seg.find_label_issues(labels, probs, **kwargs)
    assert ours.dtype == bool and ours.shape == labels.shape
    assert np.array_equal(ours, theirs), f"{(ours != theirs).sum()} pixels differ ({theirs.sum()} flagged)"
    return ours


CASES = {
    "default": {},
    "one image per batch": {"batch_size": 1},
    "three images per batch": {"batch_size": 5 * 16 * 16 * 3},
    "one batch": {"batch_size": 10 ** 8},
    "downsample 2": {"downsample": 2},
    "downsample 4, small batches": {"downsample": 4, "batch_size": 200},
}


@pytest.mark.parametrize("case", CASES)
def test_find_label_issues_same_masks_as_cleanlab_on_random_inputs(cl, case):
    labels, probs = random_inputs()
    flagged = assert_parity(cl, labels, probs, **CASES[case])
    assert flagged.any()


def test_float64_and_edge_cases_same_as_cleanlab(cl):
    labels, probs = random_inputs(seed=2, dtype=np.float64)
    assert_parity(cl, labels, probs)
    labels, probs = random_inputs(n=1, seed=3)  # one image
    assert_parity(cl, labels, probs)
    labels, probs = random_inputs(n=9, k=6, seed=4)
    labels[labels == 3] = 0  # class 3 given nowhere (its threshold is cleanlab's missing-class value)
    assert_parity(cl, labels, probs)
    assert_parity(cl, labels, probs, batch_size=1)
    labels, probs = random_inputs(n=6, k=2, h=8, w=12, noise=0.0, seed=5)  # clean labels: few or no issues
    assert_parity(cl, labels, probs)


@pytest.mark.parametrize("noise", [0.0, 0.3])
@pytest.mark.parametrize("kwargs", [{}, {"downsample": 2}, {"batch_size": 40000}])
def test_same_masks_on_digit_scenes_with_corrupted_masks(cl, scenes, noise, kwargs):
    noisy, clean = scenes
    probs = blurred_probs(clean, NUM_CLASSES, noise=noise)
    flagged = assert_parity(cl, noisy, probs, **kwargs)
    if not kwargs:  # the flags land on the corrupted pixels
        changed = noisy != clean
        assert (flagged & changed).sum() > 0.5 * flagged.sum()


def test_ties_at_the_cut_resolved_as_argsort():
    scores = np.array([0.5, 0.1, 0.3, 0.3, 0.3, 0.9, 0.3], dtype=np.float32)
    for count in range(len(scores) + 1):
        expected = np.zeros(len(scores), bool)
        expected[np.argsort(scores)[:count]] = True
        assert np.array_equal(lowest(scores, count), expected)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_softmin_scores_same_as_cleanlab(cl, scenes, temperature):
    _, rank, _ = cl
    noisy, clean = scenes
    probs = blurred_probs(clean, NUM_CLASSES, noise=0.3)
    theirs = rank.get_label_quality_scores(noisy, probs, verbose=False, temperature=temperature)
    ours = seg.get_label_quality_scores(noisy, probs, temperature=temperature)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    assert np.array_equal(ours[1], theirs[1]) and ours[1].dtype == theirs[1].dtype
    corrupted = (noisy != clean).any(axis=(1, 2))
    assert ours[0][corrupted].mean() < ours[0][~corrupted].mean()


@pytest.mark.parametrize("downsample", [1, 2])
def test_num_pixel_issues_scores_same_as_cleanlab(cl, downsample):
    _, rank, _ = cl
    labels, probs = random_inputs(seed=7)
    theirs = rank.get_label_quality_scores(labels, probs, method="num_pixel_issues", verbose=False, n_jobs=1,
                                           downsample=downsample)
    ours = seg.get_label_quality_scores(labels, probs, method="num_pixel_issues", downsample=downsample)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_issues_from_scores_same_as_cleanlab(cl):
    _, rank, _ = cl
    labels, probs = random_inputs(seed=8)
    image_scores, pixel_scores = seg.get_label_quality_scores(labels, probs)
    for threshold in (0.0, 0.2, np.median(image_scores), 1.0):
        assert np.array_equal(seg.issues_from_scores(image_scores, threshold=threshold),
                              rank.issues_from_scores(image_scores, threshold=threshold))
        assert np.array_equal(seg.issues_from_scores(image_scores, pixel_scores, threshold=threshold),
                              rank.issues_from_scores(image_scores, pixel_scores, threshold=threshold))
    with pytest.raises(ParameterError, match="threshold"):
        seg.issues_from_scores(image_scores, threshold=1.5)


def test_memmap_input_gives_the_same_mask(tmp_path):
    labels, probs = random_inputs(n=10, seed=9)
    path = tmp_path / "probs.npy"
    np.save(path, probs)
    mapped = np.load(path, mmap_mode="r")
    assert np.array_equal(seg.find_label_issues(labels, mapped), seg.find_label_issues(labels, probs))
    assert np.array_equal(seg.get_label_quality_scores(labels, mapped)[0],
                          seg.get_label_quality_scores(labels, probs)[0])


def test_progress_reaches_the_number_of_images():
    labels, probs = random_inputs(n=5)
    seen = []
    seg.find_label_issues(labels, probs, progress=lambda stage, done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5)


def test_summary_same_as_cleanlab(cl, scenes):
    _, _, theirs = cl
    noisy, clean = scenes
    probs = blurred_probs(clean, NUM_CLASSES, noise=0.3)
    issues = seg.find_label_issues(noisy, probs)
    names = [f"c{i}" for i in range(NUM_CLASSES)]
    for kwargs in ({}, {"class_names": names, "top": 5}, {"exclude": [0]}):
        expected = theirs.common_label_issues(issues, noisy, probs, verbose=False, **kwargs)
        got = summary.common_label_issues(issues, noisy, probs, verbose=False, **kwargs)
        assert got.to_dict("list") == expected.to_dict("list")
    for c in (0, 3):
        assert np.array_equal(summary.filter_by_class(c, issues, noisy, probs),
                              theirs.filter_by_class(c, issues, noisy, probs))


@pytest.mark.parametrize("labels, probs, match", [
    (np.zeros((2, 4)), np.full((2, 3, 4, 4), 1 / 3), r"labels must have the shape \(N, H, W\)"),
    (np.zeros((2, 4, 4), int), np.full((2, 4, 4), 0.5), r"pred_probs must have the shape \(N, K, H, W\)"),
    (np.zeros((2, 4, 5), int), np.full((2, 3, 4, 4), 1 / 3), "must match in N, H and W"),
    (np.full((2, 4, 4), 3), np.full((2, 3, 4, 4), 1 / 3), r"labels\[0, 0, 0\] = 3: class indices must be in 0..2"),
    (np.full((2, 4, 4), 0.5), np.full((2, 3, 4, 4), 1 / 3), "integer class indices"),
    (np.zeros((2, 4, 4), int), np.full((2, 3, 4, 4), 1.0), r"pred_probs\[0, :, 0, 0\] sums to 3"),
])
def test_bad_inputs_raise_shape_errors(labels, probs, match):
    with pytest.raises(ShapeError, match=match):
        seg.find_label_issues(labels, probs)
    with pytest.raises(ShapeError, match=match):
        seg.get_label_quality_scores(labels, probs)


def test_nan_negative_and_bad_parameters_are_named():
    labels, probs = random_inputs(n=3)
    bad = probs.copy()
    bad[2, 1, 3, 4] = np.nan
    with pytest.raises(ShapeError, match=r"pred_probs\[2, :, 3, 4\] holds NaN"):
        seg.find_label_issues(labels, bad)
    bad = probs.copy()
    bad[1, :2, 0, 0] = (1.5, -0.5 - bad[1, 2:, 0, 0].sum())
    with pytest.raises(ShapeError, match="negative"):
        seg.find_label_issues(labels, bad)
    with pytest.raises(ParameterError, match="not divisible by downsample=3"):
        seg.find_label_issues(labels, probs, downsample=3)
    with pytest.raises(ParameterError, match="batch_size must be greater than 0"):
        seg.find_label_issues(labels, probs, batch_size=0)
    with pytest.raises(ParameterError, match="Unknown keyword"):
        seg.find_label_issues(labels, probs, downsampl=2)
    with pytest.raises(ParameterError, match="method must be one of"):
        seg.get_label_quality_scores(labels, probs, method="mean")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg.get_label_quality_scores(labels, probs, downsample=2)
    assert any("num_pixel_issues" in str(w.message) for w in caught)
