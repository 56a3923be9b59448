"""StageInteractor's cross-stage label assignment and multi-hot focal loss (paper 2): exact hand-built cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelwise.assign.stage_interactor import (candidate_stages, cross_stage_assign, focal_normalizer,
                                               sigmoid_focal_multi_hot)
from labelwise.errors import ParameterError, ShapeError

torch = pytest.importorskip("torch")

GT = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)  # gt 0: class 0; gt 1: class 1
LABELS = np.array([0, 1])
FAR = [40, 40, 45, 45]
# IoU with gt 0 ([0, 0, 10, 10], area 100) of [0, 0, w, 10] is w / 10: 1.0, 0.6, 0.4, 0.3 for w = 10, 6, 4, 3.
STAGE_BOXES = [
    np.array([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 4, 10], FAR], dtype=float),  # stage 0
    np.array([[0, 0, 3, 10], [20, 20, 30, 30], [0, 0, 6, 10], FAR], dtype=float),  # stage 1
    np.array([[0, 0, 3, 10], [20, 20, 30, 30], [0, 0, 10, 10], FAR], dtype=float),  # stage 2
]
# (query_idx, gt_idx): stages 0 and 1 matched gt 0 to query 0, stage 2 matched it to query 2; gt 1 -> query 1.
MATCHES = [(np.array([0, 1]), np.array([0, 1])), (np.array([0, 1]), np.array([0, 1])),
           (np.array([2, 1]), np.array([0, 1]))]


def positives(target: np.ndarray) -> set:
    return {(int(q), int(c)) for q, c in zip(*np.nonzero(target))}


def test_the_notes_hand_built_three_stage_case():
    targets = cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, num_classes=2)
    assert [t.shape for t in targets] == [(4, 2)] * 3 and all(t.dtype == np.float32 for t in targets)
    # stage 0: own matches (IoU 1); stage 2's query 2 has IoU 0.4 with stage 0's box: not added.
    assert positives(targets[0]) == {(0, 0), (1, 1)}
    # stage 1: own match query 0 has IoU 0.3 -> dropped; stage 2's match (query 2) has IoU 0.6 with stage 1's box
    # -> class 0 added to query 2.
    assert positives(targets[1]) == {(1, 1), (2, 0)}
    # stage 2: own matches; stage 1 (its only candidate) matched query 0, IoU 0.3 at stage 2 -> not added.
    assert positives(targets[2]) == {(2, 0), (1, 1)}


def test_iou_comes_from_this_stages_box_not_the_matching_stages():
    # Stage 2's box of query 2 fits gt 0 perfectly (IoU 1), but stage 0 sees its own box of query 2 (IoU 0.4).
    # Make stage 0's box of query 2 fit (IoU 0.6): now stage 0 gains the pair.
    boxes = [b.copy() for b in STAGE_BOXES]
    boxes[0][2] = [0, 0, 6, 10]
    assert positives(cross_stage_assign(boxes, MATCHES, GT, LABELS, 2)[0]) == {(0, 0), (1, 1), (2, 0)}
    # ...and a stage whose own box of query 2 overlaps less than 0.5 never gains it, however well stage 2 fits.
    boxes[0][2] = [0, 0, 4.9, 10]
    assert positives(cross_stage_assign(boxes, MATCHES, GT, LABELS, 2)[0]) == {(0, 0), (1, 1)}


def test_own_matches_below_the_threshold_are_dropped_unless_filter_own_is_off():
    kept = cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 2, filter_own=False)
    assert positives(kept[1]) == {(0, 0), (1, 1), (2, 0)}  # the own IoU-0.3 match stays
    assert positives(kept[0]) == {(0, 0), (1, 1)}
    # iou_thr 0.25 keeps it too (0.3 >= 0.25) and adds stage 2's query 2 at stage 0 (0.4)
    low = cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 2, iou_thr=0.25)
    assert positives(low[1]) == {(0, 0), (1, 1), (2, 0)}
    assert positives(low[0]) == {(0, 0), (1, 1), (2, 0)}
    # a threshold exactly at an IoU keeps it (>=)
    assert (2, 0) in positives(cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 2, iou_thr=0.6)[1])


def test_candidate_stages():
    assert [candidate_stages(l, 4) for l in range(4)] == [[1, 2, 3], [0, 2, 3], [1, 3], [2]]
    assert candidate_stages(1, 3, "all") == [0, 2] and candidate_stages(1, 3, "none") == []
    assert candidate_stages(0, 3, lambda l, n: [l - 5, l, 2]) == [2]
    with pytest.raises(ParameterError, match="candidates must be one of"):
        candidate_stages(0, 3, "later")


def test_the_last_stage_gathers_from_the_previous_stage_only():
    # Stage 0 matched gt 0 to query 3; stage 2's box of query 3 fits gt 0 (IoU 1). Stage 2's candidates are {1}:
    # not added; with candidates="all" it is.
    boxes = [b.copy() for b in STAGE_BOXES]
    boxes[2][3] = [0, 0, 10, 10]
    matches = [(np.array([3, 1]), np.array([0, 1]))] + MATCHES[1:]
    assert (3, 0) not in positives(cross_stage_assign(boxes, matches, GT, LABELS, 2)[2])
    assert (3, 0) in positives(cross_stage_assign(boxes, matches, GT, LABELS, 2, candidates="all")[2])
    # with no candidates every stage keeps its own matches above the threshold only
    own = cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 2, candidates="none")
    assert positives(own[1]) == {(1, 1)}


def test_a_query_can_carry_two_classes():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 8]], dtype=float)  # class 0 and class 1, overlapping
    query = [0, 0, 10, 9]  # IoU 0.9 with gt 0, 80 / 90 with gt 1
    boxes = [np.array([query, FAR], dtype=float)] * 2
    matches = [(np.array([0, 1]), np.array([0, 1])), (np.array([1, 0]), np.array([0, 1]))]
    targets = cross_stage_assign(boxes, matches, gt, np.array([0, 1]), 3)
    np.testing.assert_array_equal(targets[0], [[1, 1, 0], [0, 0, 0]])  # own class 0 + stage 1's class 1
    np.testing.assert_array_equal(targets[1], [[1, 1, 0], [0, 0, 0]])  # own class 1 + stage 0's class 0


def test_torch_inputs_and_no_ground_truth():
    targets = cross_stage_assign([torch.tensor(b) for b in STAGE_BOXES],
                                 [tuple(torch.tensor(v) for v in m) for m in MATCHES], torch.tensor(GT),
                                 torch.tensor(LABELS), 2)
    assert positives(targets[1]) == {(1, 1), (2, 0)}
    empty = (np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    none = cross_stage_assign(STAGE_BOXES, [empty] * 3, np.zeros((0, 4)), np.zeros(0, dtype=int), 2)
    assert all(t.shape == (4, 2) and t.sum() == 0 for t in none)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ShapeError, match="one \\(query_idx, gt_idx\\) pair per stage"):
        cross_stage_assign(STAGE_BOXES, MATCHES[:2], GT, LABELS, 2)
    with pytest.raises(ShapeError, match="class ids in 0..0"):
        cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 1)
    with pytest.raises(ShapeError, match="stage 1's matches"):
        cross_stage_assign(STAGE_BOXES, [MATCHES[0], (np.array([7, 1]), np.array([0, 1])), MATCHES[2]], GT, LABELS, 2)
    with pytest.raises(ShapeError, match="same queries"):
        cross_stage_assign([STAGE_BOXES[0], STAGE_BOXES[1][:3], STAGE_BOXES[2]], MATCHES, GT, LABELS, 2)
    with pytest.raises(ParameterError, match="iou_thr"):
        cross_stage_assign(STAGE_BOXES, MATCHES, GT, LABELS, 2, iou_thr=1.5)


def test_multi_hot_focal_loss_by_hand():
    # z = 0 (p = 0.5) positive: 0.25 * 0.5^2 * ln 2; z = ln 3 (p = 0.75) negative: 0.75 * 0.75^2 * ln 4;
    # z = 0 positive in the second column of the same row (multi-hot).
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), -100.0]])
    targets = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    pos = 0.25 * 0.25 * math.log(2)
    neg = 0.75 * 0.75 ** 2 * math.log(4)
    total = 2 * pos + neg  # the z = -100 negative contributes ~0
    assert float(sigmoid_focal_multi_hot(logits, targets)) == pytest.approx(total / 2, rel=1e-6)  # sum(targets) = 2
    assert float(sigmoid_focal_multi_hot(logits, targets, normalizer=5.0)) == pytest.approx(total / 5, rel=1e-6)
    assert float(sigmoid_focal_multi_hot(logits, targets, alpha=0.5, gamma=0.0, normalizer=1.0)) == pytest.approx(
        0.5 * (2 * math.log(2) + math.log(4)), rel=1e-5)  # gamma 0, alpha 0.5: half the BCE


def test_normaliser_never_shrinks_below_the_matches():
    assert focal_normalizer(np.ones(3), n_matches=5) == 5.0  # positives dropped by the threshold
    assert focal_normalizer(np.ones(7), n_matches=5) == 7.0  # positives added across stages
    assert focal_normalizer(np.zeros(3), n_matches=0) == 1.0
    with pytest.raises(ShapeError, match="same shape"):
        sigmoid_focal_multi_hot(torch.zeros(2, 3), torch.zeros(2, 2))


def test_focal_loss_gradient_flows_to_the_logits():
    logits = torch.zeros(3, 2, requires_grad=True)
    sigmoid_focal_multi_hot(logits, torch.tensor([[1.0, 0], [0, 0], [0, 1]])).backward()
    assert logits.grad[0, 0] < 0 < logits.grad[1, 0]  # positives pushed up, negatives down
