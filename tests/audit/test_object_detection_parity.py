"""labelwise.audit.object_detection against cleanlab 2.9's object_detection module: the same flags, per-box scores
and image scores (equal to float tolerance) on hand-made cases and on box scenes with corrupted labels and simulated
predictions; an exact hand-computed case; the input checks."""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest

from labelwise.audit import object_detection as od
from labelwise.audit.object_detection import summary
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.box_noise import corrupt_boxes, simulate_predictions
from labelwise.testing.box_scenes import shape_scenes
from labelwise.testing.serial_pool import SerialPool


@pytest.fixture(scope="module")
def cl():
    """cleanlab.object_detection (filter, rank, summary), the reference, its process pools run serially."""
    pytest.importorskip("cleanlab", reason="cleanlab is the reference implementation (pip install -e '.[dev]')")
    from cleanlab.object_detection import filter, rank, summary
    mp = pytest.MonkeyPatch()
    mp.setattr(filter, "Pool", SerialPool)
    mp.setattr(summary, "Pool", SerialPool)
    yield filter, rank, summary
    mp.undo()


def quiet(fn, *args, **kwargs):
    """cleanlab's result without its prints and warnings."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def scenes(n=40, seed=0, fraction=0.4, dtype=np.float64):
    data = shape_scenes(n, seed=seed)
    predictions = simulate_predictions(data.boxes, data.classes, 3, seed=seed + 1)
    if dtype != np.float64:
        for p in predictions:
            for k in range(len(p)):
                p[k] = p[k].astype(dtype)
    return corrupt_boxes(data.boxes, data.classes, 3, fraction=fraction, seed=seed + 2), predictions


def hand_made():
    """Five images: a swapped box, an overlooked object, a shifted box, an image without labels, one without
    predictions; two label boxes of different classes on one place (the overlap check); equal scores (ties)."""
    box = np.array([[0.0, 0.0, 10.0, 10.0]])
    e = np.zeros((0, 5))

    def pred(*per_class):
        out = np.empty(3, dtype=object)
        for k, rows in enumerate(per_class):
            out[k] = np.array(rows, dtype=np.float64).reshape(-1, 5)
        return out

    labels = [
        {"bboxes": box, "labels": np.array([0])},
        {"bboxes": np.array([[0.0, 0.0, 10.0, 10.0], [30, 30, 40, 40]]), "labels": np.array([0, 2])},
        {"bboxes": np.array([[3.0, 3.0, 13.0, 13.0]]), "labels": np.array([1])},
        {"bboxes": np.zeros((0, 4)), "labels": np.zeros(0, dtype=int)},
        {"bboxes": np.array([[5.0, 5.0, 20.0, 20.0], [5.2, 5.0, 20.0, 20.0]]), "labels": np.array([1, 2])},
        {"bboxes": box, "labels": np.array([2])},
    ]
    predictions = [
        pred(e, [[0, 0, 10, 10, 0.99]], e),
        pred([[0, 0, 10, 10, 0.97], [20, 0, 30, 10, 0.99]], [[31, 30, 40, 41, 0.6]], [[30, 30, 40, 40, 0.98]]),
        pred([[0, 0, 9, 9, 0.3]], [[0, 0, 10, 10, 0.9], [1, 1, 11, 11, 0.9]], e),
        pred([[2, 2, 8, 8, 0.99]], e, [[4, 4, 9, 9, 0.2]]),
        pred(e, [[5, 5, 20, 20, 0.99]], [[5, 5, 20, 20, 0.99]]),
        pred(e, e, e),
    ]
    return labels, predictions


def cases():
    labels, predictions = hand_made()
    yield "hand-made", labels, predictions
    for seed in (0, 1):
        corrupted, preds = scenes(seed=seed)
        yield f"scenes seed {seed}", corrupted.labels, preds
    corrupted, preds = scenes(seed=2, dtype=np.float32)
    yield "float32 predictions", corrupted.labels, preds
    labels32 = [dict(label, bboxes=(label["bboxes"] + 0.37).astype(np.float32)) for label in corrupted.labels]
    yield "float32 label boxes", labels32, preds
    corrupted, preds = scenes(seed=3)
    for p in preds:  # equal scores within and across images: the AP's sort order on ties
        for k in range(len(p)):
            p[k][:, 4] = np.round(p[k][:, 4], 1)
    yield "rounded scores", corrupted.labels, preds
    e = np.zeros((0, 5))
    int_labels = [{"bboxes": np.array([[0, 0, 10, 10], [5, 5, 30, 30]]), "labels": np.array([1, 0])},
                  {"bboxes": np.array([[2, 2, 8, 8]]), "labels": np.array([0])}]
    yield "integer boxes", int_labels, [[np.array([[5, 5, 29, 31, .97]]), np.array([[1, 1, 10, 10, .99]])],
                                        [np.array([[40, 40, 50, 50, .99]]), e]]
    yield "no predicted boxes", int_labels, [[e, e], [e, e]]
    yield "no label boxes", [{"bboxes": np.zeros((0, 4)), "labels": np.zeros(0, dtype=int)}] * 2, \
        [[np.array([[0, 0, 5, 5, .99]]), e], [e, np.array([[1, 1, 9, 9, .98]])]]


CASES = {name: (labels, predictions) for name, labels, predictions in cases()}


def tolerance(case):
    """cleanlab converts predictions to float64 but computes with float32 label boxes as given: then only float32
    agreement (1e-7 relative measured)."""
    return 1e-5 if case == "float32 label boxes" else 1e-12


def same_list(ours, theirs, rtol=1e-12):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("check", [True, False])
def test_find_label_issues_same_images_as_cleanlab(cl, case, check):
    labels, predictions = CASES[case]
    theirs = quiet(cl[0].find_label_issues, labels, predictions, overlapping_label_check=check)
    ours = od.find_label_issues(labels, predictions, overlapping_label_check=check)
    assert ours.dtype == bool and ours.shape == (len(labels),)
    assert np.array_equal(ours, theirs.astype(bool))
    if case.startswith(("hand-made", "scenes")):
        assert ours.any() and not ours.all()


@pytest.mark.parametrize("case", CASES)
def test_ranked_indices_follow_cleanlabs_definition(cl, case):
    """cleanlab 2.9's own ranked branch calls np.in1d, gone in numpy 2.4; its definition: the flagged images in the
    order of issues_from_scores(get_label_quality_scores(...), threshold=1.0)."""
    labels, predictions = CASES[case]
    flagged = quiet(cl[0].find_label_issues, labels, predictions)
    order = cl[1].issues_from_scores(quiet(cl[1].get_label_quality_scores, labels, predictions), threshold=1.0)
    ours = od.find_label_issues(labels, predictions, return_indices_ranked_by_score=True)
    assert np.array_equal(ours, order[np.asarray(flagged, bool)[order]])


@pytest.mark.parametrize("case", CASES)
def test_label_quality_scores_equal_cleanlabs(cl, case):
    labels, predictions = CASES[case]
    theirs = quiet(cl[1].get_label_quality_scores, labels, predictions)
    ours = od.get_label_quality_scores(labels, predictions, verbose=False)
    np.testing.assert_allclose(ours, theirs, rtol=tolerance(case))
    weights = {"overlooked": 0.6, "swap": 0.3, "badloc": 0.1}
    theirs = quiet(cl[1].get_label_quality_scores, labels, predictions, aggregation_weights=weights,
                   overlapping_label_check=False)
    ours = od.get_label_quality_scores(labels, predictions, aggregation_weights=weights, overlapping_label_check=False)
    np.testing.assert_allclose(ours, theirs, rtol=tolerance(case))


PER_BOX = {
    "overlooked": ("compute_overlooked_box_scores", {"alpha": 0.7, "high_probability_threshold": 0.5}),
    "badloc": ("compute_badloc_box_scores", {"alpha": 0.5, "low_probability_threshold": 0.2}),
    "swap": ("compute_swap_box_scores", {"alpha": 0.8, "high_probability_threshold": 0.9,
                                         "overlapping_label_check": False}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", PER_BOX)
def test_per_box_scores_equal_cleanlabs(cl, case, kind):
    labels, predictions = CASES[case]
    name, options = PER_BOX[kind]
    rtol = tolerance(case)
    same_list(getattr(od, name)(labels=labels, predictions=predictions),
              getattr(cl[1], name)(labels=labels, predictions=predictions), rtol)
    same_list(getattr(od, name)(labels=labels, predictions=predictions, **options),
              getattr(cl[1], name)(labels=labels, predictions=predictions, **options), rtol)
    aux = cl[1]._get_valid_inputs_for_compute_scores(0.9, labels, predictions)  # cleanlab's auxiliary_inputs
    same_list(getattr(od, name)(auxiliary_inputs=aux), getattr(cl[1], name)(auxiliary_inputs=aux), rtol)


def test_pool_box_scores_per_image_equals_cleanlabs(cl):
    rng = np.random.default_rng(0)
    scores = [rng.random(int(n)) for n in rng.integers(0, 6, 30)] + [np.array([np.nan, 0.3]), np.array([np.nan])]
    for temperature in (None, 0.5, 0.0):
        np.testing.assert_allclose(od.pool_box_scores_per_image(scores, temperature=temperature),
                                   cl[1].pool_box_scores_per_image(scores, temperature=temperature), rtol=1e-12)


def test_issues_from_scores_equals_cleanlabs(cl):
    scores = np.random.default_rng(1).random(50)
    for threshold in (0.1, 0.5, 1.0):
        assert np.array_equal(od.issues_from_scores(scores, threshold=threshold),
                              cl[1].issues_from_scores(scores, threshold=threshold))
    with pytest.raises(ValueError, match="threshold"):
        od.issues_from_scores(scores, threshold=1.5)


NAMES = {"0": "square", "1": "ring", "2": "digit"}


@pytest.mark.parametrize("case", CASES)
def test_summary_counts_sizes_and_classes_equal_cleanlabs(cl, case):
    labels, predictions = CASES[case]
    theirs = cl[2]
    for name in ("object_counts_per_image", "get_sorted_bbox_count_idxs"):
        assert getattr(summary, name)(labels, predictions) == getattr(theirs, name)(labels, predictions)
    for options in ({}, {"class_names": NAMES}, {"class_names": {"0": "a", "2": "c"}, "sort": True}):
        ours = summary.bounding_box_size_distribution(labels, predictions, **options)
        ref = theirs.bounding_box_size_distribution(labels, predictions, **options)
        for a, b in zip(ours, ref):
            assert list(a) == list(b)  # same classes in the same order
            for key in a:
                np.testing.assert_allclose(a[key], b[key], rtol=tolerance(case))
    for options in ({}, {"class_names": NAMES}):
        ours = summary.class_label_distribution(labels, predictions, **options)
        ref = theirs.class_label_distribution(labels, predictions, **options)
        assert ours == ref and [list(d) for d in ours] == [list(d) for d in ref]
    aux = cl[1]._get_valid_inputs_for_compute_scores(0.9, labels, predictions)
    assert summary.object_counts_per_image(auxiliary_inputs=aux) == theirs.object_counts_per_image(
        auxiliary_inputs=aux)


@pytest.mark.parametrize("case", CASES)
def test_summary_per_class_metrics_equal_cleanlabs(cl, case):
    labels, predictions = CASES[case]
    theirs = cl[2]
    for options in ({}, {"class_names": NAMES}):
        ours = summary.get_average_per_class_confusion_matrix(labels, predictions, **options)
        assert ours == theirs.get_average_per_class_confusion_matrix(labels, predictions, **options)
        ours = summary.calculate_per_class_metrics(labels, predictions, **options)
        ref = quiet(theirs.calculate_per_class_metrics, labels, predictions, **options)
        assert list(ours) == list(ref)
        for key in ours:
            np.testing.assert_array_equal(list(ours[key].values()), list(ref[key].values()))


def test_hand_computed_scores():
    """Two images, one box each: image 0's label says class 0 where a confident class-1 box is (swapped); image
    1's class-0 object is 20 px away from a confident class-0 box that overlaps nothing (overlooked)."""
    box = np.array([[0.0, 0.0, 10.0, 10.0]])
    labels = [{"bboxes": box, "labels": np.array([0])}, {"bboxes": box, "labels": np.array([0])}]
    predictions = [np.array([np.zeros((0, 5)), np.array([[0, 0, 10, 10, 0.99]])], dtype=object),
                   np.array([np.array([[20.0, 0, 30, 10, 0.99]]), np.zeros((0, 5))], dtype=object)]
    far = 0.1 * math.exp(-2.0)  # 0.9 * IoU 0 + 0.1 * exp(-0.1 * 20 px)
    swap = od.compute_swap_box_scores(labels=labels, predictions=predictions)
    assert swap[0][0] == pytest.approx(far) and swap[1][0] == 1.0  # 1 - similarity 1, floored at the min similarity
    overlooked = od.compute_overlooked_box_scores(labels=labels, predictions=predictions)
    assert np.isnan(overlooked[0][0]) and overlooked[1][0] == pytest.approx(far)
    badloc = od.compute_badloc_box_scores(labels=labels, predictions=predictions)
    assert badloc[0][0] == 1.0 and badloc[1][0] == 1.0  # no overlapping same-class box
    scores = od.get_label_quality_scores(labels, predictions)
    np.testing.assert_allclose(scores, [far ** (1 / 3), far ** (1 / 3)])


def test_input_errors_name_the_image():
    labels, predictions = hand_made()
    with pytest.raises(ParameterError, match="length needs to match"):
        od.find_label_issues(labels[:2], predictions)
    with pytest.raises(ShapeError, match=r"predictions\[2\]\[0\]"):
        od.get_label_quality_scores(labels, predictions[:2] + [[np.zeros((1, 4))] * 3] + predictions[3:])
    bad = [dict(label) for label in labels]
    bad[1] = {"bboxes": labels[1]["bboxes"], "labels": np.array([0, 5])}
    with pytest.raises(ShapeError, match=r"labels\[1\].*class 5"):
        od.find_label_issues(bad, predictions)
    bad[1] = {"bboxes": labels[1]["bboxes"], "labels": np.array([0.0, 1.5])}
    with pytest.raises(ShapeError, match=r"labels\[1\]\['labels'\] must hold integer class ids"):
        od.get_label_quality_scores(bad, predictions)
    bad[1] = {"bboxes": labels[1]["bboxes"], "labels": np.array([0.0, 2.0])}  # whole floats are class ids
    assert od.find_label_issues(bad, predictions).shape == (len(labels),)
    bad[1] = {"bboxes": np.array([[0, 0, np.nan, 1]]), "labels": np.array([0])}
    with pytest.raises(ShapeError, match=r"labels\[1\] holds NaN"):
        od.compute_swap_box_scores(labels=bad, predictions=predictions)
    with pytest.raises(ParameterError, match="non-negative and must sum to 1"):
        od.get_label_quality_scores(labels, predictions, aggregation_weights={"overlooked": 1, "swap": 1,
                                                                                "badloc": 1})
    with pytest.raises(ShapeError, match=r"predictions\[1\] has 2 class arrays"):
        od.find_label_issues(labels, [predictions[0], predictions[1][:2]] + predictions[2:])
