"""Rendered charts: the ground truth comes from matplotlib's transforms and matches the pixels."""

import numpy as np
import pytest

from labelwise.assign.chart_keypoints import rows_to_values
from labelwise.errors import ParameterError
from labelwise.testing.charts import STYLE_A, bar_charts, line_charts


def test_bar_truth_matches_the_pixels_to_a_tenth_of_a_pixel():
    charts = bar_charts(6, noise=0.0, random_state=3)
    assert charts.images.shape == (6, 64, 64, 3) and charts.images.dtype == np.float32
    for img, kp, table in zip(charts.images, charts.keypoints, charts.tables):
        colour = None
        for (x0, top), (x1, _) in zip(kp["top_left"], kp["top_right"]):
            col = int(np.floor((x0 + x1) / 2))
            if colour is None:  # the bar's colour: a pixel well inside the bar
                colour = img[int(top) + 3, col]
            channel = int(np.argmax(1.0 - colour))  # the channel that differs most from the white background
            coverage = (1.0 - img[:, col, channel]) / (1.0 - colour[channel])
            r = int(np.floor(top))
            # rows above the top are background, rows below fully bar, the top row partly covered
            assert coverage[r - 2] == pytest.approx(0.0, abs=0.02) and coverage[r + 1] == pytest.approx(1.0, abs=0.02)
            assert r + 1 - coverage[r] == pytest.approx(top, abs=0.1)
        assert np.allclose(table["x"], kp["center"][:, 0])


def test_key_points_and_axis_give_back_the_table_exactly():
    charts = bar_charts(5, styles=STYLE_A, random_state=1)
    for kp, table, axis in zip(charts.keypoints, charts.tables, charts.axes):
        assert np.allclose(rows_to_values(kp["top_left"][:, 1], axis), table["value"], rtol=0, atol=1e-9)
        assert np.allclose(kp["top_left"][:, 1], kp["top_right"][:, 1])
        assert np.allclose(rows_to_values(kp["center"][:, 1], axis), table["value"] / 2, atol=1e-9)
        assert axis[0] == 0 and axis[2] > axis[3]  # value 0 at the bottom; image rows grow downward
    lines = line_charts(4, random_state=2)
    for kp, table, axis in zip(lines.keypoints, lines.tables, lines.axes):
        assert np.allclose(rows_to_values(kp["point"][:, 1], axis), table["value"], atol=1e-9)
        assert np.all(np.diff(kp["point"][:, 0]) > 0)


def test_styles_seeds_and_counts():
    a, b = bar_charts(4, styles=STYLE_A, random_state=7), bar_charts(4, styles=STYLE_A, random_state=7)
    assert np.array_equal(a.images, b.images) and a.styles == b.styles
    assert not np.array_equal(a.images, bar_charts(4, styles=STYLE_A, random_state=8).images)
    every = bar_charts(3, styles={"grid": 1, "labels": 1, "whiskers": 1}, hatched=True, n_bars=(5, 5))
    assert all(s == {"grid", "labels", "whiskers", "hatched"} for s in every.styles)
    assert all(len(t) == 5 for t in every.tables)
    assert all(s == frozenset() for s in bar_charts(3).styles)
    # decorations change the pixels, never the truth
    plain = bar_charts(2, noise=0.0, random_state=5)
    assert plain.subset([1]).tables[0].equals(plain.tables[1])
    with pytest.raises(ParameterError, match="unknown chart styles"):
        bar_charts(1, styles={"shadow": 0.5})
    with pytest.raises(ParameterError, match="probability"):
        bar_charts(1, styles={"grid": 2})
    with pytest.raises(ParameterError, match="lo <= hi"):
        line_charts(1, n_points=(5, 2))
