"""ChartReader's learned derenderer (paper 15): the focal loss by hand, the training targets, the estimator's
conventions, and the claim at a small budget (it beats the column-scan heuristic on styled bar charts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.chart_derenderer import KeypointDerenderer, keypoint_focal_loss


def _logit(p):
    p = torch.tensor(p, dtype=torch.float64)
    return torch.log(p / (1 - p))


def test_focal_loss_by_hand():
    target = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    p = [[0.8, 0.3], [0.1, 0.6]]
    # positives: (1 - p)^2 log p; others: (1 - y)^4 p^2 log(1 - p); summed, negated, over N = 2 positives
    expected = -(0.2 ** 2 * math.log(0.8) + 0.4 ** 2 * math.log(0.6)
                 + 0.5 ** 4 * 0.3 ** 2 * math.log(0.7) + 1.0 * 0.1 ** 2 * math.log(0.9)) / 2
    assert float(keypoint_focal_loss(_logit(p), target)) == pytest.approx(expected, rel=1e-12)
    # other exponents; no positive at all: N counts as 1
    expected = -(0.7 ** 3 * 0.3 ** 1 * math.log(0.7) + 0.1 * math.log(0.9)) / 1
    value = keypoint_focal_loss(_logit([[0.3, 0.1]]), torch.tensor([[0.3, 0.0]], dtype=torch.float64), 1.0, 3.0)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    # the (1 - y)^beta factor: a miss next to a true point costs less than the same miss far from it
    near = keypoint_focal_loss(_logit([[0.5]]), torch.tensor([[0.9]], dtype=torch.float64))
    far = keypoint_focal_loss(_logit([[0.5]]), torch.tensor([[0.0]], dtype=torch.float64))
    assert float(near) == pytest.approx(float(far) * 0.1 ** 4)


def test_targets_and_grouping_pairs():
    kp = {"top_left": np.array([[2.5, 3.5], [10.2, 6.0]]), "top_right": np.array([[5.5, 3.5], [13.2, 6.0]]),
          "center": np.array([[4.0, 9.0], [11.7, 10.5]])}
    t = KeypointDerenderer().targets([kp, {"point": np.array([[1.0, 1.0]])}], (16, 16))
    assert t["key"].shape == (2, 3, 16, 16) and t["center"].shape == (2, 1, 16, 16)
    assert t["key"][0, 0, 3, 2] == 1.0 and t["key"][0, 1, 6, 13] == 1.0 and t["key"][1, 2, 1, 1] == 1.0
    assert t["center_cells"].tolist() == [[0, 0, 9, 4], [0, 0, 10, 11]]
    assert t["key_offsets"][:4] == pytest.approx(np.array([[0.5, 0.5], [0.2, 0.0], [0.5, 0.5], [0.2, 0.0]]))
    # pairs: chart, centre, key, key type (0 top-left, 1 top-right), label: each centre owns its two corners
    assert t["pairs"].tolist() == [[0, 0, 0, 0, 1], [0, 0, 1, 0, 0], [0, 0, 2, 1, 1], [0, 0, 3, 1, 0],
                                   [0, 1, 0, 0, 0], [0, 1, 1, 0, 1], [0, 1, 2, 1, 0], [0, 1, 3, 1, 1]]


def test_estimator_conventions():
    est = KeypointDerenderer(epochs=3, random_state=4)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict_values(np.zeros((1, 16, 16, 3)), np.zeros((1, 4)))
    with pytest.raises(ShapeError):
        est.fit(np.zeros((2, 16, 16)), [{}, {}])
    with pytest.raises(ShapeError):
        est.fit(np.zeros((2, 18, 16, 3)), [{}, {}])
    with pytest.raises(ShapeError):
        est.fit(np.zeros((2, 16, 16, 3)), [{}])
    with pytest.raises(ParameterError):
        KeypointDerenderer(epochs=0).fit(np.zeros((1, 16, 16, 3)), [{}])


def test_fit_is_reproducible_and_leaves_the_global_rng_alone():
    from labelwise.testing.charts import bar_charts

    charts = bar_charts(6, size=32, random_state=0)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = KeypointDerenderer(epochs=1, batch_size=3, random_state=1).fit(charts.images, charts.keypoints)
    assert torch.rand(1) == before
    b = KeypointDerenderer(epochs=1, batch_size=3, random_state=1).fit(charts.images, charts.keypoints)
    assert a.loss_curve_ == b.loss_curve_
    out = a.predict_values(charts.images, charts.axes)
    assert len(out) == 6 and all(o["kind"] in ("bar", "line") and len(o["x"]) == len(o["value"]) for o in out)
    with pytest.raises(ShapeError):
        a.predict_values(charts.images, charts.axes[:2])


@pytest.mark.slow
def test_claim_learned_derenderer_beats_the_column_scan_on_styled_bar_charts():
    """The notes' claim at a small budget (300 training charts of style mix A, 8 epochs: 300 steps; the bench trains
    1,000 for 6 epochs): on styled charts (gridlines in the bars' hue, value-label blobs, whiskers) the column scan
    loses many bars, the learned derenderer does not. ``bench/chartreader.py --claim-test`` runs this setting over
    seeds 0-2: learned 0.995 / 0.985 / 0.991 vs the tuned scan's best 0.760 / 0.720 / 0.675 (at 4 epochs the learned
    model was not reliable: 0.677 on seed 2). The scan runs with the colour tolerances the bench tuned on training
    charts (0.1 for the top-most run, 0.2-0.25 for the run on the baseline), and the best of its four settings on
    this test set counts (in the scan's favour)."""
    from labelwise.generate.charts import ColumnScanDerenderer, derender_charts, relaxed_cell_accuracy
    from labelwise.testing.charts import STYLE_A, bar_charts

    train = bar_charts(300, styles=STYLE_A, random_state=1000)
    test = bar_charts(100, styles=STYLE_A, random_state=3000)
    learned = KeypointDerenderer(epochs=8, random_state=0).fit(train.images, train.keypoints)

    def scores(model):
        return relaxed_cell_accuracy(derender_charts(test.images, test.axes, model), test.tables, test.axes)

    ours = scores(learned)
    scan = max(scores(ColumnScanDerenderer(run=run, color_tol=tol))["relaxed_cell_accuracy"]
               for run, tol in (("top", 0.1), ("top", 0.15), ("baseline", 0.2), ("baseline", 0.25)))
    assert ours["relaxed_cell_accuracy"] >= 0.9
    assert ours["relaxed_cell_accuracy"] >= scan + 0.15
    assert ours["count_accuracy"] >= 0.9
