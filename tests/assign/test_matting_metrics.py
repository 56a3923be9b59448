"""The five matting errors on cases computed by hand, the vectorised connectivity error against a loop written
straight from the definition (ZIM's eval code: per threshold, largest 4-connected component), and the input checks."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import label

from labelwise.assign.matting_metrics import conn_error, grad_error, mad, matting_metrics, mse, sad
from labelwise.errors import ShapeError


def test_sad_mse_mad_by_hand():
    pred = np.array([[0.0, 1.0], [0.5, 0.5]])
    gt = np.zeros((2, 2))
    assert sad(pred, gt) == pytest.approx(2.0 / 1000)
    assert mse(pred, gt) == pytest.approx((1 + 0.25 + 0.25) / 4 * 1e3)
    assert mad(pred, gt) == pytest.approx(2.0 / 4 * 1e3)


def test_several_images_are_averaged_and_a_mask_restricts_the_pixels():
    pred = np.stack([np.full((2, 2), 1.0), np.zeros((2, 2))])
    gt = np.zeros((2, 2, 2))
    assert mad(pred, gt) == pytest.approx(500.0)  # (1000 + 0) / 2
    assert sad(pred, gt) == pytest.approx(2.0 / 1000)  # (4 + 0) / 2 / 1000
    mask = np.array([[True, False], [False, False]])
    one = np.array([[0.2, 0.9], [0.9, 0.9]])
    assert mse(one, np.zeros((2, 2)), mask) == pytest.approx(0.04 * 1e3)
    assert sad(one, np.zeros((2, 2)), mask) == pytest.approx(0.2 / 1000)
    per_image = np.stack([mask, np.zeros((2, 2), bool)])  # the second image has no pixel in the region: left out
    assert mad(np.stack([one, one]), np.zeros((2, 2, 2)), per_image) == pytest.approx(200.0)


def test_grad_of_one_bright_pixel_by_hand():
    pred = np.zeros((3, 3))
    pred[1, 1] = 1.0
    gt = np.zeros((3, 3))
    # Sobel over a zero border: the four edge neighbours see 2, the four corners sqrt(2), the centre 0; every
    # magnitude carries sqrt(. + 1e-8), so a flat gt has 1e-4 everywhere
    floor = 1e-4
    expected = (4 * (np.sqrt(4 + 1e-8) - floor) + 4 * (np.sqrt(2 + 1e-8) - floor) + 0) / 9 * 1e3
    assert grad_error(pred, gt) == pytest.approx(expected, rel=1e-9)
    assert grad_error(gt, pred) == pytest.approx(expected, rel=1e-9)


def test_conn_by_hand():
    gt = np.array([[1.0, 1.0, 0.0, 1.0]])
    pred = np.array([[1.0, 1.0, 0.0, 0.5]])
    # at every threshold the largest component of both maps is pixels 0-1 (level 1); pixels 2 and 3 leave it at 0.1
    # (level 0): d = [0, 0, 0, 0.5] and [0, 0, 0, 1] -> phi = [1, 1, 1, 0.5] and [1, 1, 1, 0]
    assert conn_error(pred, gt) == pytest.approx(0.5 / 1000)
    assert conn_error(gt, gt) == 0.0
    # a pixel with d < 0.15 counts as phi = 1: pred 0.1 on a level-0 pixel changes nothing
    assert conn_error(np.array([[1.0, 1.0, 0.1, 1.0]]), gt) == 0.0


def _conn_loop(pred: np.ndarray, gt: np.ndarray) -> float:
    """The definition, one threshold at a time (as ZIM's eval code does it)."""
    level = np.full(pred.shape, -1.0)
    steps = np.arange(11) / 10
    for i in range(1, 11):
        both = ((pred >= steps[i]) & (gt >= steps[i])).astype(int)
        labels = label(both, connectivity=1)
        if labels.max() == 0:
            omega = np.zeros(pred.shape, bool)
        else:
            omega = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
        level[(level == -1) & ~omega] = steps[i - 1]
    level[level == -1] = 1.0
    d_pred, d_gt = pred - level, gt - level
    return np.abs((1 - d_pred * (d_pred >= 0.15)) - (1 - d_gt * (d_gt >= 0.15))).sum() / 1000


def test_vectorised_conn_matches_the_loop_on_random_mattes_with_many_components_and_ties():
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for k in range(12):
        size = (9, 13) if k % 2 else (16, 16)
        gt = np.round(rng.random(size) * 10) / 10  # quantised: values on the thresholds, many equal-size parts
        pred = np.clip(gt + rng.normal(0, 0.3, size), 0, 1)
        if k == 3:
            pred = np.zeros(size)  # empty maps at every threshold
        assert conn_error(pred, gt) == pytest.approx(_conn_loop(pred, gt), abs=1e-12)
        if size == (16, 16):
            preds.append(pred), gts.append(gt)
    batch = conn_error(np.stack(preds), np.stack(gts))
    assert batch == pytest.approx(np.mean([_conn_loop(p, g) for p, g in zip(preds, gts)]), abs=1e-12)


def test_matting_metrics_returns_all_five_and_zero_for_a_perfect_matte():
    rng = np.random.default_rng(1)
    gt = rng.random((2, 8, 8))
    out = matting_metrics(gt, gt)
    assert set(out) == {"sad", "mse", "mad", "grad", "conn"}
    assert all(v == 0 for v in out.values())
    worse = matting_metrics(np.clip(gt + 0.2, 0, 1), gt)
    assert all(v > 0 for v in worse.values())


@pytest.mark.parametrize("pred, gt, mask, words", [
    (np.zeros((2, 2)), np.zeros((2, 3)), None, "same shape"),
    (np.zeros(4), np.zeros(4), None, "(H, W)"),
    (np.full((2, 2), np.nan), np.zeros((2, 2)), None, "finite"),
    (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2), bool), "no pixel"),
    (np.zeros((2, 2)), np.zeros((2, 2)), np.ones((3, 3), bool), "mask must be"),
    (np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2)), "bool"),
])
def test_bad_inputs_raise_shape_errors(pred, gt, mask, words):
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        mse(pred, gt, mask)
