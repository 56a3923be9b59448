"""Chart key points: Gaussian targets, peak decoding, axis calibration and bar decoding, by hand."""

import math

import numpy as np
import pytest

from labelwise.assign.chart_keypoints import (bar_values, heatmap_peaks, keypoint_targets, rows_to_values,
                                              values_to_rows)
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.charts import STYLE_A, bar_charts


def test_gaussian_targets_by_hand():
    heat, cells, offsets = keypoint_targets([np.array([[2.3, 1.6], [9.0, 9.0]]), np.zeros((0, 2))], (4, 5), 1.0)
    assert heat.shape == (2, 4, 5) and heat.dtype == np.float32
    assert heat[0, 1, 2] == 1.0  # the point's cell (row floor(1.6), column floor(2.3))
    assert heat[0, 1, 3] == pytest.approx(math.exp(-0.5))
    assert heat[0, 0, 0] == pytest.approx(math.exp(-(1 + 4) / 2))
    assert heat[0, 3, 4] == pytest.approx(math.exp(-(4 + 4) / 2))
    assert not heat[1].any()  # no points of the second type; the point at (9, 9) is off the grid and dropped
    assert cells.tolist() == [[0, 1, 2]]
    assert offsets == pytest.approx(np.array([[0.3, 0.6]]))
    # two points of one type: the maximum, not the sum; sigma 2 widens
    two, _, _ = keypoint_targets([np.array([[0.5, 0.5], [2.5, 0.5]])], (1, 3), 2.0)
    assert two[0, 0].tolist() == pytest.approx([1.0, math.exp(-1 / 8), 1.0])
    with pytest.raises(ParameterError):
        keypoint_targets([np.zeros((1, 2))], (2, 2), 0.0)


def test_peaks_by_hand():
    heat = np.zeros((5, 6))
    heat[1, 1], heat[1, 2], heat[3, 4], heat[4, 0] = 0.9, 0.5, 0.7, 0.2
    offsets = np.zeros((2, 5, 6))
    offsets[:, 3, 4] = (0.25, 0.75)
    peaks = heatmap_peaks(heat, offsets, threshold=0.3)
    assert peaks.tolist() == [[1.0, 1.0, 0.9], [4.25, 3.75, 0.7]]  # 0.5 is not a local maximum, 0.2 under threshold
    assert heatmap_peaks(heat, threshold=0.1, max_peaks=1).tolist() == [[1.0, 1.0, 0.9]]
    with pytest.raises(ShapeError):
        heatmap_peaks(np.zeros((1, 2, 2)))


def test_axis_calibration():
    axis = (0.0, 50.0, 60.0, 10.0)  # value 0 at row 60, value 50 at row 10
    assert rows_to_values([60.0, 10.0, 35.0], axis).tolist() == [0.0, 50.0, 25.0]
    assert values_to_rows([25.0], axis).tolist() == [35.0]
    assert rows_to_values(values_to_rows([3.3, 47.1], axis), axis) == pytest.approx([3.3, 47.1])
    with pytest.raises(ParameterError):
        rows_to_values([1.0], (0.0, 1.0, 5.0, 5.0))
    with pytest.raises(ShapeError):
        rows_to_values([1.0], (0.0, 1.0))


def test_bar_values_by_hand():
    axis = (0.0, 10.0, 50.0, 0.0)  # 5 pixels per unit
    centers = np.array([[30.0, 40.0], [10.0, 45.0]])
    tl = np.array([[8.0, 40.2], [27.0, 30.0]])
    tr = np.array([[33.0, 29.8]])
    p_left = np.array([[0.1, 0.9], [0.8, 0.2]])
    p_right = np.array([[0.7], [0.4]])
    xs, values = bar_values(centers, tl, tr, p_left, p_right, axis)
    # sorted by x: the second centre owns (8, 40.2) only; the first owns both corners: top row 29.9
    assert xs.tolist() == pytest.approx([10.0, (30.0 + 30.0) / 2])
    assert values.tolist() == pytest.approx([(50 - 40.2) / 5, (50 - 29.9) / 5])
    # nothing grouped: the centre's row reflected about the baseline (row 50): top = 2 * 45 - 50 = 40
    xs, values = bar_values(centers[1:], tl, tr, np.zeros((1, 2)), np.zeros((1, 1)), axis)
    assert values.tolist() == pytest.approx([2.0])


def test_decoding_a_perfect_heatmap_gives_back_the_table():
    charts = bar_charts(4, styles=STYLE_A, random_state=11)
    for kp, table, axis in zip(charts.keypoints, charts.tables, charts.axes):
        found = {}
        for name in ("top_left", "top_right", "center"):
            heat, cells, offs = keypoint_targets([kp[name]], (64, 64), 1.0)
            offset_map = np.zeros((2, 64, 64))
            offset_map[:, cells[:, 1], cells[:, 2]] = offs.T
            found[name] = heatmap_peaks(heat[0], offset_map, threshold=0.5)[:, :2]
        assert len(found["center"]) == len(table)

        def own(keys):  # perfect grouping: a corner belongs to the centre whose bar spans its column
            half = np.abs(kp["top_right"][0, 0] - kp["top_left"][0, 0]) / 2
            return (np.abs(keys[None, :, 0] - found["center"][:, None, 0]) <= half + 1e-6).astype(float)

        xs, values = bar_values(found["center"], found["top_left"], found["top_right"], own(found["top_left"]),
                                own(found["top_right"]), axis)
        assert values == pytest.approx(table["value"].to_numpy(), abs=1e-4)
        assert xs == pytest.approx(table["x"].to_numpy(), abs=1e-4)
