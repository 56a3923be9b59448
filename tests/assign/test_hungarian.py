"""Hungarian one-to-one assignment: the matching cost by hand, the optimum against brute force, torch inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from labelwise.assign.hungarian import hungarian_assign, matching_cost
from labelwise.errors import ParameterError, ShapeError


def test_matching_cost_by_hand():
    # logit 0 -> p = 0.5: focal pos 0.25 * 0.25 * ln 2, neg 0.75 * 0.25 * ln 2 -> cls = -0.125 ln 2, x 2.
    # L1: |0.5 - 1| = 0.5, x 5 = 2.5. GIoU: IoU 0.25 / 0.5 = 0.5, the hull is the union -> 0.5, x -2 = -1.
    cost = matching_cost(np.array([[0.0, 3.0]]), np.array([[0, 0, 0.5, 0.5]]), np.array([0]),
                         np.array([[0, 0, 0.5, 1.0]]))
    assert cost.shape == (1, 1)
    assert cost[0, 0] == pytest.approx(2 * -0.125 * math.log(2) + 2.5 - 1.0)


def test_matching_cost_reads_the_ground_truth_class_column():
    logits = np.array([[5.0, -5.0]])
    box = np.array([[0, 0, 1, 1.0]])
    right = matching_cost(logits, box, np.array([0]), box)[0, 0]
    wrong = matching_cost(logits, box, np.array([1]), box)[0, 0]
    assert right < wrong
    only_cls = dict(l1_w=0.0, giou_w=0.0)
    p = 1 / (1 + math.exp(-5.0))
    expected = 2 * (0.25 * (1 - p) ** 2 * -math.log(p) - 0.75 * p ** 2 * -math.log(1 - p))
    assert matching_cost(logits, box, np.array([0]), box, **only_cls)[0, 0] == pytest.approx(expected)


def test_hungarian_beats_greedy_and_matches_brute_force():
    # L1 costs (before x 5): q0-gt0 0.04, q0-gt1 0.16, q1-gt0 0.08, q1-gt1 0.28. Greedy (best pair first) takes
    # q0-gt0 and leaves gt1 to q1: 0.32. The optimum gives gt0 q1 and gt1 q0: 0.24. q2 is far from both.
    gt = np.array([[0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2]])
    boxes = np.array([[0.02, 0.0, 0.22, 0.2], [-0.04, 0.0, 0.16, 0.2], [0.9, 0.9, 1.0, 1.0]])
    logits = np.zeros((3, 1))
    q, j = hungarian_assign(logits, boxes, np.array([0, 0]), gt, cls_w=0.0, giou_w=0.0)
    np.testing.assert_array_equal(j, [0, 1])
    np.testing.assert_array_equal(q, [1, 0])
    cost = matching_cost(logits, boxes, np.array([0, 0]), gt, cls_w=0.0, giou_w=0.0)
    assert cost[q, j].sum() == pytest.approx(5 * 0.24)


def test_random_cases_agree_with_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, m, c = 5, 3, 2
        xy = rng.uniform(0, 0.6, (n + m, 2))
        wh = rng.uniform(0.05, 0.4, (n + m, 2))
        all_boxes = np.column_stack([xy, xy + wh])
        logits, labels = rng.normal(size=(n, c)), rng.integers(0, c, m)
        cost = matching_cost(logits, all_boxes[:n], labels, all_boxes[n:])
        q, j = hungarian_assign(logits, all_boxes[:n], labels, all_boxes[n:])
        brute = min(cost[list(p), range(m)].sum() for p in itertools.permutations(range(n), m))
        assert cost[q, j].sum() == pytest.approx(brute)
        assert len(set(q.tolist())) == m


def test_more_ground_truth_than_queries_and_none():
    boxes = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]])
    gt = np.array([[0.5, 0.5, 1, 1], [0, 0, 0.5, 0.5], [0.2, 0.2, 0.3, 0.3]])
    q, j = hungarian_assign(np.zeros((2, 1)), boxes, np.zeros(3, dtype=int), gt)
    assert len(q) == len(j) == 2 and {(int(a), int(b)) for a, b in zip(q, j)} == {(1, 0), (0, 1)}
    q, j = hungarian_assign(np.zeros((2, 1)), boxes, np.zeros(0, dtype=int), np.zeros((0, 4)))
    assert q.shape == j.shape == (0,)


def test_torch_inputs_give_the_numpy_answer():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 0.5, (6, 2))
    boxes = np.column_stack([xy, xy + 0.3])
    logits, labels = rng.normal(size=(4, 3)), np.array([2, 0])
    expected = hungarian_assign(logits, boxes[:4], labels, boxes[4:])
    got = hungarian_assign(torch.tensor(logits, requires_grad=True), torch.tensor(boxes[:4]), torch.tensor(labels),
                           torch.tensor(boxes[4:]))
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_say_what_is_wrong():
    box = np.array([[0, 0, 1, 1.0]])
    with pytest.raises(ShapeError, match="class ids in 0..1"):
        matching_cost(np.zeros((1, 2)), box, np.array([2]), box)
    with pytest.raises(ShapeError, match="N = 1 queries"):
        matching_cost(np.zeros((1, 2)), np.zeros((2, 4)), np.array([0]), box)
    with pytest.raises(ShapeError, match="NaN"):
        matching_cost(np.full((1, 2), np.nan), box, np.array([0]), box)
    with pytest.raises(ParameterError, match="unknown keyword"):
        hungarian_assign(np.zeros((1, 2)), box, np.array([0]), box, l2_w=1.0)
