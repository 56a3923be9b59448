"""The classical mask -> matte baselines: exact small cases (a box blur under a flat guide, the trimap's bands) and
the properties each one promises (feathering is symmetric, the guided filter moves an edge onto the image's colour
edge, closed-form matting recovers a crisp object from a segment that misses its border)."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.assign.matte_baselines import closed_form_matte, feather_matte, guided_filter_matte, trimap_from_segment
from labelwise.assign.matting_metrics import mse
from labelwise.errors import ParameterError, ShapeError


def square(size: int = 24, lo: int = 8, hi: int = 16) -> np.ndarray:
    seg = np.zeros((size, size))
    seg[lo:hi, lo:hi] = 1.0
    return seg


def painted(seg: np.ndarray, fg=(0.9, 0.2, 0.1), bg=(0.1, 0.3, 0.8)) -> np.ndarray:
    return np.where(seg[..., None] > 0, np.array(fg), np.array(bg)).astype(np.float32)


def test_feathering_keeps_flat_regions_is_symmetric_and_soft_at_the_edge():
    seg = square(32, 6, 26)
    out = feather_matte(seg, sigma=1.5)
    assert out.dtype == np.float32 and out.shape == seg.shape
    assert out[16, 16] == pytest.approx(1.0, abs=1e-6) and out[0, 0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(feather_matte(1 - seg, sigma=1.5), 1 - out, atol=1e-6)  # linear, border repeated
    assert out[6, 16] == pytest.approx(1 - out[5, 16], abs=1e-6)  # the edge lies halfway between pixels 5 and 6
    assert 0.5 < out[6, 16] < 0.8
    assert feather_matte(np.ones((5, 5))).min() == pytest.approx(1.0)


def test_guided_filter_under_a_flat_guide_is_two_box_means():
    seg = np.zeros((7, 7))
    seg[3, 3] = 1.0
    out = guided_filter_matte(np.full((7, 7, 3), 0.5), seg, radius=1, eps=1e-3)
    # a flat guide has no variance: a = 0, b = box mean of p, output = box mean of b. At the centre every one of the
    # nine windows holds the pixel (mean 1/9); two columns away, three of the nine windows do
    assert out[3, 3] == pytest.approx(1 / 9, abs=1e-6)
    assert out[3, 5] == pytest.approx(3 / 81, abs=1e-6)
    assert out[3, 6] == pytest.approx(0.0, abs=1e-6)


def test_guided_filter_keeps_an_edge_the_image_shows_and_moves_a_wrong_one_onto_it():
    truth = square()
    image = painted(truth)
    assert np.abs(guided_filter_matte(image, truth, radius=3) - truth).max() < 0.02
    shifted = np.roll(truth, 1, axis=1)  # the segment misses the object by one column
    out = guided_filter_matte(image, shifted, radius=3, eps=1e-4)
    assert mse(out, truth) < 0.5 * mse(shifted, truth)


def test_trimap_bands_by_hand():
    trimap = trimap_from_segment(square(24, 8, 16), band=2)
    row = trimap[12]
    # the segment is columns 8..15: eroded by 2 -> 10..13 sure, dilated by 2 -> 6..17 possible
    assert row[10:14].tolist() == [1.0] * 4
    assert row[6:10].tolist() == [0.5] * 4 and row[14:18].tolist() == [0.5] * 4
    assert row[:6].tolist() == [0.0] * 6 and row[18:].tolist() == [0.0] * 6


def test_closed_form_recovers_a_crisp_object_from_a_segment_that_misses_its_border():
    truth = square(32, 8, 24)
    image = painted(truth)
    seg = square(32, 9, 23)  # one pixel short on every side
    out = closed_form_matte(image, seg, band=3)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert mse(out, truth) < 0.1 * mse(seg, truth)
    trimap = trimap_from_segment(seg, 3)
    known = trimap != 0.5
    np.testing.assert_array_equal(out[known], trimap[known])  # pixels outside the band keep the trimap


def test_closed_form_on_an_empty_or_full_segment_returns_it_and_refuses_oversized_problems():
    image = np.random.default_rng(0).random((16, 16, 3))
    assert closed_form_matte(image, np.zeros((16, 16))).max() == 0
    assert closed_form_matte(image, np.ones((16, 16))).min() == 1
    with pytest.raises(ParameterError, match="max_pixels"):
        closed_form_matte(painted(square()), square(), max_pixels=100)


@pytest.mark.parametrize("call, error", [
    (lambda: feather_matte(np.zeros((2, 2, 2))), ShapeError),
    (lambda: feather_matte(np.zeros((4, 4)), sigma=0), ParameterError),
    (lambda: guided_filter_matte(np.zeros((4, 5, 3)), np.zeros((4, 4))), ShapeError),
    (lambda: guided_filter_matte(np.zeros((4, 4, 3)), np.zeros((4, 4)), radius=0), ParameterError),
    (lambda: guided_filter_matte(np.zeros((4, 4, 3)), np.zeros((4, 4)), eps=0), ParameterError),
    (lambda: trimap_from_segment(np.zeros((4, 4)), band=0), ParameterError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()
