"""Box scenes: the boxes are the objects' true extent and obey the stated ranges."""

import numpy as np

from labelwise.assign.box_geometry import box_iou, oriented_box_iou
from labelwise.testing.box_scenes import oriented_scenes, shape_scenes


def test_shape_scenes_boxes_are_tight_and_in_range():
    scenes = shape_scenes(40, size=48, seed=3)
    assert scenes.images.shape == (40, 48, 48, 3) and scenes.images.dtype == np.float32
    counts = [len(b) for b in scenes.boxes]
    assert min(counts) >= 1 and max(counts) <= 3
    classes = np.concatenate(scenes.classes)
    assert set(classes.tolist()) == {0, 1, 2}
    for boxes in scenes.boxes:
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 48).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        iou = box_iou(boxes, boxes) - np.eye(len(boxes))
        assert iou.max() <= 0.3 + 1e-9
    # a lone square's box is exactly the set of pixels that differ from the untouched background
    one = next(s for s in (shape_scenes(1, size=48, objects=(1, 1), noise=0.0, seed=k) for k in range(50))
               if s.classes[0][0] == 0)
    changed = np.abs(one.images[0] - one.images[0, 0, 0]).sum(axis=-1) > 1e-6
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    assert one.boxes[0][0].tolist() == [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_shape_scenes_are_reproducible():
    a, b = shape_scenes(5, seed=7), shape_scenes(5, seed=7)
    assert np.array_equal(a.images, b.images)
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))


def test_oriented_scenes_follow_the_long_side_convention():
    scenes = oriented_scenes(30, size=64, seed=5)
    boxes = np.vstack(scenes.boxes)
    assert (boxes[:, 2] >= boxes[:, 3]).all()
    assert ((boxes[:, 4] >= 0) & (boxes[:, 4] < np.pi)).all()
    assert (boxes[:, 2] / boxes[:, 3] <= 6 + 1e-9).all() and (boxes[:, 2] / boxes[:, 3]).max() > 3
    for b in scenes.boxes:
        assert (oriented_box_iou(b, b) - np.eye(len(b))).max() <= 0.1 + 1e-9
    # the object's pixels lie inside its oriented box
    one = oriented_scenes(1, size=64, objects=(1, 1), noise=0.0, seed=2)
    cx, cy, w, h, angle = one.boxes[0][0]
    changed = np.abs(one.images[0] - one.images[0, 0, 0]).sum(axis=-1) > 1e-6
    ys, xs = np.nonzero(changed)
    u = (xs + 0.5 - cx) * np.cos(angle) + (ys + 0.5 - cy) * np.sin(angle)
    v = -(xs + 0.5 - cx) * np.sin(angle) + (ys + 0.5 - cy) * np.cos(angle)
    assert (np.abs(u) <= w / 2 + 1e-9).all() and (np.abs(v) <= h / 2 + 1e-9).all()
