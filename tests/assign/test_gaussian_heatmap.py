"""GGHL's label assignment (paper 33): long-side boxes, ORC, OLA, the centre-point baseline and the JOL loss, on
hand-computed cases and the notes' checks (section 4a)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelwise.assign.box_geometry import oriented_box_corners
from labelwise.assign.gaussian_heatmap import (CentrePointAssigner, JointOptimizationLoss, OrientedGaussianAssigner,
                                               centre_radius, min_area_rectangle, orc_to_poly, poly_to_longside,
                                               poly_to_orc, refine_labels, stack_targets)
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.box_scenes import oriented_scenes


def _cells(mask):
    return {(int(j), int(i)) for j, i in zip(*np.nonzero(mask))}


# -- long-side boxes and ORC


def test_longside_recovers_rectangles_in_any_vertex_order():
    rng = np.random.default_rng(0)
    boxes = np.column_stack([rng.uniform(20, 80, 50), rng.uniform(20, 80, 50), rng.uniform(10, 40, 50),
                             rng.uniform(2, 9.9, 50), rng.uniform(0, np.pi, 50)])
    polys = oriented_box_corners(boxes)
    for variant in (polys, polys[:, ::-1], np.roll(polys, 1, axis=1), np.roll(polys[:, ::-1], 3, axis=1)):
        np.testing.assert_allclose(poly_to_longside(variant), boxes, atol=1e-9)
    # a box given with h > w is the same box: w, h swapped and the angle turned by 90 degrees
    swapped = np.column_stack([boxes[:, :2], boxes[:, 3], boxes[:, 2], boxes[:, 4] + np.pi / 2])
    np.testing.assert_allclose(poly_to_longside(oriented_box_corners(swapped)), boxes, atol=1e-9)


def test_longside_degrees_and_square():
    poly = oriented_box_corners(np.array([[0, 0, 10, 4, np.radians(150)]]))[0]
    assert poly_to_longside(poly, degrees=True)[4] == pytest.approx(150)
    square = oriented_box_corners(np.array([[5, 5, 6, 6, np.radians(120)]]))[0]
    assert poly_to_longside(square, degrees=True)[4] == pytest.approx(30)  # defined modulo 90: taken in [0, 90)
    axis = oriented_box_corners(np.array([[5, 5, 6, 2, np.pi - 1e-15]]))[0]
    assert poly_to_longside(axis)[4] == pytest.approx(0, abs=1e-9)


def test_orc_hand_case():
    # a rotated square's corners at the midpoints of its 4 x 2 HBB: a = 0.5 everywhere, r = 0.5
    poly = np.array([[2.0, 0.0], [4.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
    orc = poly_to_orc(poly)
    np.testing.assert_allclose(orc["hbb"], [0, 0, 4, 2])
    np.testing.assert_allclose(orc["a"], [0.5, 0.5, 0.5, 0.5])
    assert orc["r"] == pytest.approx(0.5) and not orc["approximated"]
    # a1 = (x_top - xmin) / w, a2 = (y_right - ymin) / h, a3 = (xmax - x_bottom) / w, a4 = (ymax - y_left) / h
    poly = np.array([[1.0, 0.0], [4.0, 0.5], [3.0, 2.0], [0.0, 1.5]])
    np.testing.assert_allclose(poly_to_orc(poly[[2, 1, 0, 3]])["a"], [0.25, 0.25, 0.25, 0.25])


def test_orc_round_trip_on_quads_with_a_vertex_on_each_side():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(300):
        x1, y1 = rng.uniform(0, 50, 2)
        w, h = rng.uniform(2, 40, 2)
        a = rng.uniform(0.02, 0.98, 4)
        hbb = np.array([x1, y1, x1 + w, y1 + h])
        quad = orc_to_poly(hbb, a)
        orc = poly_to_orc(np.roll(quad, int(rng.integers(4)), axis=0)[:: int(rng.choice([-1, 1]))])
        if orc["r"] > 0.9:
            np.testing.assert_array_equal(orc["a"], 0)  # nearly axis-aligned: the HBB itself
            continue
        np.testing.assert_allclose(orc_to_poly(orc["hbb"], orc["a"]), quad, atol=1e-9)
        checked += 1
    assert checked > 250
    # rotated rectangles too (every vertex lies on the HBB)
    boxes = np.array([[30, 30, 20, 5, t] for t in np.linspace(0.1, 3.0, 12)])
    for poly in oriented_box_corners(boxes):
        orc = poly_to_orc(poly)
        np.testing.assert_allclose(orc_to_poly(orc["hbb"], orc["a"]), orc["vertices"], atol=1e-9)


def test_orc_nearly_axis_aligned_is_its_hbb_and_odd_quads_are_approximated():
    poly = oriented_box_corners(np.array([[10, 10, 8, 4, 0.02]]))[0]
    orc = poly_to_orc(poly)
    assert orc["r"] > 0.9
    np.testing.assert_array_equal(orc["a"], 0)
    np.testing.assert_allclose(orc_to_poly(orc["hbb"], orc["a"]), [[orc["hbb"][0], orc["hbb"][1]],
                                                                  [orc["hbb"][2], orc["hbb"][1]],
                                                                  [orc["hbb"][2], orc["hbb"][3]],
                                                                  [orc["hbb"][0], orc["hbb"][3]]])
    odd = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [2.0, 8.0]])  # (2, 8) lies on no side of the HBB
    orc = poly_to_orc(odd)
    assert orc["approximated"]
    rect = min_area_rectangle(odd)
    np.testing.assert_allclose(orc_to_poly(orc["hbb"], orc["a"]), poly_to_orc(oriented_box_corners(rect[None])[0])
                               ["vertices"], atol=1e-9)
    assert rect[2] * rect[3] >= 0.5 * 100 - 1e-9  # holds the quad (area 84): at least the quad's HBB half


def test_min_area_rectangle_of_a_rectangle_is_itself():
    box = np.array([12.0, 7.0, 9.0, 3.0, 0.4])
    np.testing.assert_allclose(min_area_rectangle(oriented_box_corners(box[None])[0]), box, atol=1e-9)


# -- OLA


def test_ola_hand_case():
    # cx 34, cy 33, 16 x 8, angle 0 at stride 4: centre cell (8, 8), half sides r_w = 2, r_h = 1 cells
    assigner = OrientedGaussianAssigner(img_size=64, strides=(4,))
    level = assigner.assign(np.array([[34.0, 33.0, 16.0, 8.0, 0.0]]), [1], n_classes=2)[0]
    e_w = 2 / 2 ** 0.7  # 2 / r_w^(1 - tau)
    expected = {(8, 8): 1.0, (8, 7): math.exp(-e_w ** 2 / 2), (8, 9): math.exp(-e_w ** 2 / 2),
                (7, 8): math.exp(-2.0), (7, 7): math.exp(-e_w ** 2 / 2 - 2), (7, 9): math.exp(-e_w ** 2 / 2 - 2)}
    # (8, 6) and (8, 10) have Gaussian 0.048 < 0.05; row 9's centre (y = 38) lies outside the HBB (29..37),
    # as does column 6's (x = 26 on the HBB's left side)
    assert _cells(level["mask"]) == set(expected)
    for (j, i), v in expected.items():
        assert level["heat"][j, i, 1] == pytest.approx(v, rel=1e-6)
        assert level["gauss"][j, i] == pytest.approx(v, rel=1e-6)
    assert level["heat"][..., 0].max() == 0 and level["heat"][8, 8, 1] == 1.0
    np.testing.assert_allclose(level["ltrb"][8, 8], [8, 5, 8, 3])  # cell centre (34, 34); HBB 26, 29, 42, 37
    np.testing.assert_allclose(level["hbb"][7, 9], [26, 29, 42, 37])
    np.testing.assert_allclose(level["orc"][8, 8], 0)  # axis-aligned: r = 1 > 0.9
    assert level["ratio"][8, 8] == pytest.approx(1.0)
    assert level["area_weight"][8, 8] == pytest.approx(math.log(2) / math.log(math.sqrt(2) + 1), rel=1e-6)
    assert level["positives"].tolist() == [6] and (level["object"][level["mask"]] == 0).all()
    assert (level["cls"][level["mask"]] == 1).all() and (level["object"][~level["mask"]] == -1).all()


def test_ola_gaussian_exponent_one_minus_tau():
    # small half side (r < 1): 1 - tau widens the Gaussian; large (r > 1): narrows it
    sharp, paper = OrientedGaussianAssigner(tau=0.0), OrientedGaussianAssigner(tau=0.3)
    for r, tau0, tau3 in ((0.5, math.exp(-8), math.exp(-(2 / 0.5 ** 0.7) ** 2 / 2)),
                          (4.0, math.exp(-0.125), math.exp(-(2 / 4 ** 0.7) ** 2 / 2))):
        assert sharp.gaussian([1, 0], 0.0, (r, 1)) == pytest.approx(tau0)
        assert paper.gaussian([1, 0], 0.0, (r, 1)) == pytest.approx(tau3)
    assert paper.gaussian([1, 0], 0.0, (0.5, 1)) > sharp.gaussian([1, 0], 0.0, (0.5, 1))
    assert paper.gaussian([1, 0], 0.0, (4, 1)) < sharp.gaussian([1, 0], 0.0, (4, 1))
    # so a long object gets fewer positives with tau = 0.3 than with tau = 0
    big = np.array([[32.0, 32.0, 30.0, 12.0, 0.5]])
    kw = dict(img_size=64, strides=(4,))
    assert (OrientedGaussianAssigner(tau=0.3, **kw).assign(big, [0], 1)[0]["positives"][0]
            < OrientedGaussianAssigner(tau=0.0, **kw).assign(big, [0], 1)[0]["positives"][0])


@pytest.mark.parametrize("length, height", [(80, 16), (200, 40)])
def test_ola_principal_axis_follows_the_angle(length, height):
    """The notes' check: the heat-weighted covariance of the positive cells has its long axis at the box's angle
    (within 2 degrees) on the paper's 800 px, three-level setting; objects covering 10+ cells."""
    assigner = OrientedGaussianAssigner(img_size=800)
    for degrees in np.arange(0, 180, 7.5):
        levels = assigner.assign(np.array([[400.3, 399.6, length, height, np.radians(degrees)]]), [0], 1)
        level = next(lv for lv in levels if lv["mask"].any())
        jj, ii = np.nonzero(level["mask"])
        w = level["gauss"][jj, ii].astype(float)
        pts = np.column_stack([ii, jj]).astype(float)
        d = pts - (w[:, None] * pts).sum(0) / w.sum()
        cov = (w[:, None, None] * d[:, :, None] * d[:, None, :]).sum(0)
        vec = np.linalg.eigh(cov)[1][:, 1]
        axis = np.degrees(np.mod(np.arctan2(vec[1], vec[0]), np.pi))
        assert abs((axis - degrees + 90) % 180 - 90) < 2.0, (degrees, axis)


def test_ola_positives_grow_with_area_and_every_kept_object_has_one():
    scenes = oriented_scenes(150, seed=3)
    assigner = OrientedGaussianAssigner(img_size=64, strides=(4,), max_window=(8,))
    areas, counts = [], []
    for boxes, classes in zip(scenes.boxes, scenes.classes):
        level = assigner.assign(boxes, classes, 2)[0]
        hbb = oriented_box_corners(boxes)
        kept = [assigner._kept(np.r_[p.min(0), p.max(0)]) for p in hbb]
        assert all(n >= 1 for n, k in zip(level["positives"], kept) if k)
        areas.extend(boxes[:, 2] * boxes[:, 3] / 16)
        counts.extend(level["positives"])
    areas, counts = np.array(areas), np.array(counts)
    bins = np.quantile(areas, [0, 0.25, 0.5, 0.75, 1])
    means = [counts[(areas >= lo) & (areas <= hi)].mean() for lo, hi in zip(bins[:-1], bins[1:])]
    assert all(b > a for a, b in zip(means, means[1:])), means
    assert np.corrcoef(areas, counts)[0, 1] > 0.8


def test_ola_overlap_rule_is_per_class_channel():
    # A (24 long, centre cell 7) reaches cell 8 with Gaussian 0.651, B (16 long, centre cell 9) with 0.469
    a, b = [30.0, 34.0, 24.0, 8.0, 0.0], [38.0, 34.0, 16.0, 8.0, 0.0]
    v_a = math.exp(-(2 / 3 ** 0.7) ** 2 / 2)
    v_b = math.exp(-(2 / 2 ** 0.7) ** 2 / 2)
    assigner = OrientedGaussianAssigner(img_size=64, strides=(4,))
    same = assigner.assign(np.array([a, b]), [0, 0], 2)[0]
    assert same["heat"][8, 8, 0] == pytest.approx(v_a) and same["object"][8, 8] == 0  # the higher Gaussian wins
    assert same["object"][8, 9] == 1 and same["heat"][8, 9, 0] == 1.0  # B's centre
    other = assigner.assign(np.array([a, b]), [0, 1], 2)[0]
    assert other["heat"][8, 8, 0] == pytest.approx(v_a) and other["heat"][8, 8, 1] == pytest.approx(v_b)
    assert other["object"][8, 8] == 1 and other["cls"][8, 8] == 1  # the later object's targets
    assert other["positives"].sum() == other["mask"].sum()
    assert same["positives"].sum() == same["mask"].sum()


def test_level_choice_and_its_scaling_with_image_size():
    assigner = OrientedGaussianAssigner(img_size=800)  # T0 = 48 / 0.7 = 68.6, T1 = 192 / 0.7 = 274.3
    assert [assigner.levels_for(v) for v in (60, 75, 100, 300, 400)] == [[0], [0, 1], [1], [1, 2], [2]]
    assert OrientedGaussianAssigner(img_size=400).levels_for(40) == [0, 1]  # bounds halve: T0 = 34.3
    assert OrientedGaussianAssigner(img_size=64, strides=(4,)).levels_for(500) == [0]
    box = np.array([[400.0, 400.0, 75.0, 10.0, 0.0]])  # HBB long side 75: levels 0 and 1
    assert [lv["positives"][0] > 0 for lv in assigner.assign(box, [0], 1)] == [True, True, False]


@pytest.mark.parametrize("assigner", [OrientedGaussianAssigner, CentrePointAssigner])
def test_a_box_centred_off_the_image_uses_the_nearest_cells(assigner):
    # a box cut by the left and top edges (centre at -2, -3): its centre cell is clipped to (0, 0), nothing wraps
    level = assigner(img_size=64, strides=(4,)).assign(np.array([[-2.0, -3.0, 20.0, 12.0, 0.0]]), [0], 1)[0]
    assert level["mask"][0, 0] and level["object"][0, 0] == 0
    assert not level["mask"][:, 8:].any() and not level["mask"][8:, :].any()


def test_tiny_objects_are_skipped():
    assigner = OrientedGaussianAssigner(img_size=64, strides=(4,))
    level = assigner.assign(np.array([[20.0, 20.0, 4.0, 4.0, 0.0], [40.0, 40.0, 6.0, 3.0, 0.0]]), [0, 0], 1)[0]
    assert level["positives"].tolist()[0] == 0 and level["positives"][1] >= 1


def test_assigner_input_errors():
    assigner = OrientedGaussianAssigner(img_size=64, strides=(4,))
    with pytest.raises(ShapeError):
        assigner.assign(np.zeros((2, 4)), [0, 0], 1)
    with pytest.raises(ShapeError):
        assigner.assign(np.array([[10.0, 10, 8, 4, 0]]), [0, 1], 2)
    with pytest.raises(ParameterError):
        assigner.assign(np.array([[10.0, 10, 8, 4, 0]]), [2], 2)
    with pytest.raises(ParameterError):
        OrientedGaussianAssigner(strides=(8, 16)).assign(np.array([[10.0, 10, 8, 4, 0]]), [0], 1)
    empty = assigner.assign(np.zeros((0, 5)), np.zeros(0, int), 2)[0]
    assert empty["heat"].shape == (16, 16, 2) and not empty["mask"].any()


# -- the centre-point baseline


def test_centre_radius_hand_value():
    # h 10, w 20, IoU 0.7: roots 28.77 (moved), 55.69 (shrunk), (-42 + sqrt(42^2 + 4 * 2.8 * 60)) / 2 = 3.678 (grown)
    assert float(centre_radius(10, 20, 0.7)) == pytest.approx((-42 + math.sqrt(42 ** 2 + 4 * 2.8 * 60)) / 2)
    assert float(centre_radius(10, 20, 0.7)) == pytest.approx(3.678, abs=1e-3)


def test_centre_point_assigner_one_positive_and_isotropic_heat():
    box = np.array([[34.0, 33.0, 40.0, 36.0, 0.0]])  # HBB 10 x 9 cells: radius 2, sigma 5 / 6
    level = CentrePointAssigner(img_size=64, strides=(4,)).assign(box, [0], 1)[0]
    assert _cells(level["mask"]) == {(8, 8)} and level["positives"].tolist() == [1]
    radius = int(centre_radius(9, 10, 0.7))
    assert radius == 2
    sigma = 5 / 6
    assert level["heat"][8, 10, 0] == pytest.approx(math.exp(-4 / (2 * sigma ** 2)), rel=1e-6)
    assert level["heat"][10, 8, 0] == level["heat"][8, 10, 0]  # isotropic
    assert level["heat"][8, 11, 0] == 0  # outside the radius
    np.testing.assert_allclose(level["ltrb"][8, 8], [20, 19, 20, 17])  # HBB 14, 15, 54, 51


# -- JOL


def _one_cell_case(pred_logits=0.0):
    """A 1 x 2 grid at stride 4: cell 0 a positive (class 1, Gaussian 0.5), cell 1 a negative; predicted boxes equal
    to the targets (quality 1)."""
    target = {"stride": 4, "mask": torch.tensor([[[True, False]]]), "gauss": torch.tensor([[[0.5, 0.0]]]),
              "heat": torch.tensor([[[[0.0, 0.5], [0.0, 0.0]]]]), "cls": torch.tensor([[[1, -1]]]),
              "ltrb": torch.tensor([[[[1.0, 1.0, 2.0, 2.0], [0, 0, 0, 0]]]]),
              "hbb": torch.tensor([[[[1.0, 1.0, 4.0, 4.0], [0, 0, 0, 0]]]]),
              "orc": torch.tensor([[[[0.2, 0.3, 0.2, 0.3], [0, 0, 0, 0]]]]),
              "ratio": torch.tensor([[[0.6, 0.0]]]), "area_weight": torch.tensor([[[0.8, 0.0]]])}
    pred = {"obj": torch.full((1, 1, 2), pred_logits), "cls": torch.full((1, 1, 2, 2), pred_logits),
            "ltrb": target["ltrb"].clone(), "orc": target["orc"].clone(), "ratio": target["ratio"].clone()}
    return pred, target


def test_jol_hand_case():
    pred, target = _one_cell_case()
    loss = JointOptimizationLoss()(pred, target, img_size=8)
    ln2 = math.log(2)
    # objectness: positive focal BCE 0.5^2 ln2 weighted by (0.5 + 1) / 2; negative 0.5^2 ln2 (no heat); x 2
    # class: BCE at p = 0.5 is ln2 whatever the label (sigmoid(0) * q = 0.5 for class 1, sigmoid(0) for class 0),
    # x area weight 0.8; box terms 0
    expected = 2 * (0.75 * 0.25 * ln2 + 0.25 * ln2) + 0.8 * 2 * ln2
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    no_refine = JointOptimizationLoss(refine=False)(pred, target, img_size=8)
    assert float(no_refine) == pytest.approx(expected - 2 * 0.25 * 0.25 * ln2, rel=1e-5)  # weight gauss = 0.5
    # class logits 2 at the positive: p = sigmoid(2), q = 1; label heat 0.5 * 0.99 + 0.005 = 0.5 for class 1,
    # 0.005 for class 0; the one-hot label is 0.99 and 0.005
    pred["cls"] = torch.full((1, 1, 2, 2), 2.0)
    p = 1 / (1 + math.exp(-2))

    def bce(p, t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    parts = {}
    for soft, t_true in ((True, 0.5), (False, 0.99)):
        loss_fn = JointOptimizationLoss(soft_class_targets=soft)
        loss_fn(pred, target, img_size=8)
        parts[soft] = loss_fn.parts["cls"]
        assert parts[soft] == pytest.approx(0.8 * (bce(p, t_true) + bce(p, 0.005)), rel=1e-5)


def test_jol_couples_the_class_score_with_localisation():
    pred, target = _one_cell_case()
    pred["ltrb"] = (target["ltrb"] + torch.tensor([1.0, 0, 0, 0])).requires_grad_(True)
    loss_fn = JointOptimizationLoss(obj_weight=0, giou_weight=0, orc_weight=0, ratio_weight=0, smooth_l1_weight=0)
    loss_fn(pred, target, img_size=8).backward()
    assert pred["ltrb"].grad[0, 0, 0].abs().sum() > 0  # only the class term is on: it trains the box
    assert pred["ltrb"].grad[0, 0, 1].abs().sum() == 0  # nothing at the negative
    assert refine_labels(np.array([0.2]), np.array([1.0]))[0] == pytest.approx(0.6)


def test_stack_targets_batches_one_level():
    assigner = OrientedGaussianAssigner(img_size=32, strides=(4,))
    per_image = [assigner.assign(np.array([[16.0, 16.0, 12.0, 5.0, 0.3]]), [0], 2) for _ in range(3)]
    batch = stack_targets(per_image)
    assert batch["heat"].shape == (3, 8, 8, 2) and batch["mask"].dtype == torch.bool and batch["stride"] == 4
