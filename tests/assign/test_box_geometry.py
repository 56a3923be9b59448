"""Box geometry: exact hand-computed cases for formats, IoU, GIoU and oriented boxes."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.assign.box_geometry import (box_area, box_convert, box_iou, generalized_box_iou, oriented_box_corners,
                                           oriented_box_iou)
from labelwise.errors import ShapeError


def test_formats_round_trip_and_agree():
    xyxy = np.array([[1.0, 2.0, 5.0, 8.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "xywh"), [[1, 2, 4, 6], [0, 0, 0, 0]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "cxcywh"), [[3, 5, 4, 6], [0, 0, 0, 0]])
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(box_convert(box_convert(xyxy, "xyxy", fmt), fmt, "xyxy"), xyxy)
    np.testing.assert_array_equal(box_area(xyxy), [24, 0])


def test_iou_exact_cases():
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [2, 2, 4, 4], [5, 5, 6, 6], [0.5, 0.5, 1.5, 1.5]])
    # identical 1; half overlap: 2 / (4 + 4 - 2) = 1/3; touching corners 0; apart 0; inside: 1 / 4
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 0, 0, 0.25]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 5)


def test_giou_exact_cases():
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [3, 0, 5, 2]])
    # identical: 1. half overlap: hull 3 x 2 = 6, union 6: GIoU = IoU = 1/3.
    # apart by 1 along x: IoU 0, hull 5 x 2 = 10, union 8 -> -(10 - 8) / 10 = -0.2
    np.testing.assert_allclose(generalized_box_iou(a, b), [[1, 1 / 3, -0.2]])


def test_zero_area_boxes_have_iou_zero_not_nan():
    point = np.array([[1, 1, 1, 1]])
    assert box_iou(point, point)[0, 0] == 0
    assert np.isfinite(generalized_box_iou(point, point)).all()


@pytest.mark.parametrize("bad, words", [
    (np.zeros((3, 3)), "(n, 4)"),
    (np.array([[0, 0, np.nan, 1]]), "NaN"),
    (np.array([[2, 0, 1, 1]]), "x2 >= x1"),
])
def test_bad_boxes_say_what_is_wrong(bad, words):
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        box_iou(bad, np.zeros((1, 4)))


def test_oriented_corners_of_a_turned_box():
    # a 4 x 2 box centred at (10, 10), turned by 90 degrees: its width now runs along y
    corners = oriented_box_corners([[10, 10, 4, 2, np.pi / 2]])[0]
    np.testing.assert_allclose(np.sort(corners[:, 0]), [9, 9, 11, 11], atol=1e-12)
    np.testing.assert_allclose(np.sort(corners[:, 1]), [8, 8, 12, 12], atol=1e-12)


def test_oriented_iou_at_angle_zero_is_the_axis_aligned_iou():
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(0, 10, (20, 2)), rng.uniform(1, 5, (20, 2)), np.zeros(20)])
    b = np.column_stack([rng.uniform(0, 10, (15, 2)), rng.uniform(1, 5, (15, 2)), np.zeros(15)])
    to_xyxy = lambda o: box_convert(o[:, :4], "cxcywh", "xyxy")  # noqa: E731
    np.testing.assert_allclose(oriented_box_iou(a, b), box_iou(to_xyxy(a), to_xyxy(b)), atol=1e-12)


def test_oriented_iou_exact_cases_and_rotation_invariance():
    square = np.array([[0, 0, 2, 2, 0.0]])
    # the same square turned by 45 degrees: intersection is a regular octagon of area 8 (sqrt 2 - 1) for side 2
    turned = np.array([[0, 0, 2, 2, np.pi / 4]])
    octagon = 8 * (np.sqrt(2) - 1)
    np.testing.assert_allclose(oriented_box_iou(square, turned), [[octagon / (8 - octagon)]])
    np.testing.assert_allclose(oriented_box_iou(square, [[0, 0, 2, 2, np.pi / 2]]), [[1.0]])
    # turning both boxes about the origin by the same angle keeps their IoU
    rng = np.random.default_rng(1)
    a = np.column_stack([rng.uniform(-3, 3, (8, 2)), rng.uniform(1, 4, (8, 2)), rng.uniform(0, np.pi, 8)])
    b = np.column_stack([rng.uniform(-3, 3, (6, 2)), rng.uniform(1, 4, (6, 2)), rng.uniform(0, np.pi, 6)])

    def turn(o, t):
        c, s = np.cos(t), np.sin(t)
        return np.column_stack([c * o[:, 0] - s * o[:, 1], s * o[:, 0] + c * o[:, 1], o[:, 2], o[:, 3], o[:, 4] + t])

    base = oriented_box_iou(a, b)
    assert (base > 0).any() and (base < 1).all()
    np.testing.assert_allclose(oriented_box_iou(turn(a, 0.7), turn(b, 0.7)), base, atol=1e-9)
    np.testing.assert_allclose(oriented_box_iou(b, a), base.T, atol=1e-9)
