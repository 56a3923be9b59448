"""LAD, label-assisted distillation (paper 8): exact small cases of the label encoding, CWD and the student's zero
channel; the estimator's input checks; and a small-budget run of the notes' digit-scene experiment
(tests/learn/lad_experiment.py, the same code bench/lad.py runs at full size)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labelwise.errors import DataError, LabelwiseError, ShapeError  # noqa: E402
from labelwise.learn.label_assisted import (  # noqa: E402
    LabelAssistedSegmenter,
    LabelAssistedTeacher,
    ZeroLabelStudent,
    channel_wise_distillation,
    encode_label_channel,
    fixed_label_values,
    mean_iou,
    teacher_soft_labels,
)
from labelwise.learn.segmentation_nets import DilatedFCN  # noqa: E402

MASKS = torch.tensor([[[0, 0, 2], [2, 2, 255]],
                      [[1, 1, 1], [0, 255, 0]]])  # (2, 2, 3): K = 3 classes, 255 = ignore


# ---- the label channel -------------------------------------------------------------------------------------------

def test_random_encoding_is_one_fresh_n01_value_per_class_and_image():
    K = 3
    gen = torch.Generator().manual_seed(7)
    channel = encode_label_channel(MASKS, K, mode="random", noise_std=0, scale=1, ignore_index=255, generator=gen)
    values = torch.randn(2, K + 1, generator=torch.Generator().manual_seed(7))  # the same draws, by hand
    idx = torch.where(MASKS == 255, K, MASKS)
    expected = torch.stack([values[b][idx[b]] for b in range(2)])[:, None]
    assert channel.shape == (2, 1, 2, 3) and channel.dtype == torch.float32
    torch.testing.assert_close(channel, expected)
    # pixels of one class share one value; ignore pixels hold the value of id K, their own
    assert channel[0, 0, 0, 0] == channel[0, 0, 0, 1] and channel[0, 0, 0, 2] == channel[0, 0, 1, 0]
    assert channel[0, 0, 1, 2] == values[0, K] != channel[0, 0, 0, 0]
    # class 0 gets a different value in the other image (fresh map per image) and in a second path
    assert channel[0, 0, 0, 0] != channel[1, 0, 1, 0]
    second = encode_label_channel(MASKS, K, mode="random", noise_std=0, scale=1, ignore_index=255, generator=gen)
    assert not torch.equal(second, channel)


def test_fixed_encoding_is_the_papers_map():
    # VOC: 21 classes + ignore -> (k - 11) / 10
    torch.testing.assert_close(fixed_label_values(21), (torch.arange(22.0) - 11) / 10)
    assert fixed_label_values(3).tolist() == pytest.approx([-0.2, -0.1, 0.0, 0.1])  # floor(4 / 2) = 2
    channel = encode_label_channel(MASKS, 3, mode="fixed", noise_std=0, ignore_index=255)  # scale 100
    expected = torch.tensor([[[-20.0, -20.0, 0.0], [0.0, 0.0, 10.0]],
                             [[-10.0, -10.0, -10.0], [-20.0, 10.0, -20.0]]])[:, None]
    torch.testing.assert_close(channel, expected)


@pytest.mark.parametrize("mode, std", [("random", 0.03), ("fixed", 0.02)])
def test_default_noise_and_scale(mode, std):
    masks = torch.zeros(1, 200, 200, dtype=torch.long)
    masks[:, 100:] = 1
    gen = torch.Generator().manual_seed(0)
    channel = encode_label_channel(masks, 2, mode=mode, generator=gen)[0, 0]
    for part in (channel[:100], channel[100:]):  # one class each: a constant value plus noise, all times 100
        assert float(part.std()) == pytest.approx(100 * std, rel=0.05)
    if mode == "fixed":
        assert float(channel[:100].mean()) == pytest.approx(-10.0, abs=0.1)  # (0 - 1) / 10 * 100
        assert float(channel[100:].mean()) == pytest.approx(0.0, abs=0.1)


def test_encoding_rejects_ids_outside_the_classes():
    with pytest.raises(DataError, match="class id 255"):
        encode_label_channel(MASKS, 3)  # 255 without ignore_index
    with pytest.raises(DataError, match="class id 3"):
        encode_label_channel(torch.tensor([[[0, 3]]]), 3)
    with pytest.raises(ShapeError):
        encode_label_channel(torch.zeros(2, 2, dtype=torch.long), 3)


# ---- channel-wise distillation -----------------------------------------------------------------------------------

def test_cwd_equals_a_hand_computed_value():
    tau = 4.0
    # channel 0: teacher spatial distribution (1/4, 3/4) at temperature tau, student uniform; channel 1 equal
    teacher = torch.tensor([[[[0.0, tau * math.log(3)]], [[1.0, 2.0]]]])  # (1, 2, 1, 2)
    student = torch.tensor([[[[5.0, 5.0]], [[1.0, 2.0]]]])
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert float(channel_wise_distillation(student, teacher, tau)) == pytest.approx(kl / (1 * 2) * tau ** 2)


def test_cwd_is_zero_for_equal_maps_and_detaches_the_teacher():
    t = torch.randn(2, 3, 4, 5, requires_grad=True)
    s = t.detach().clone().requires_grad_(True)
    loss = channel_wise_distillation(s, t)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    (channel_wise_distillation(s + torch.randn_like(s), t)).backward()
    assert t.grad is None and s.grad is not None


def test_cwd_normalises_over_space_not_over_classes():
    t = torch.randn(1, 3, 4, 4)
    per_channel = t + torch.tensor([1.0, -2.0, 3.0])[None, :, None, None]  # same spatial maps, other class mix
    per_pixel = t + torch.randn(1, 1, 4, 4) * 3  # same class mix per pixel, other spatial maps
    assert float(channel_wise_distillation(per_channel, t)) == pytest.approx(0.0, abs=1e-5)
    assert float(channel_wise_distillation(per_pixel, t)) > 0.1
    pixel_kd = torch.nn.functional.kl_div(per_channel.log_softmax(1), t.softmax(1), reduction="sum")
    assert float(pixel_kd) > 0.1  # ordinary pixel KD would see the difference CWD ignores


# ---- teacher and student -----------------------------------------------------------------------------------------

def test_teacher_label_filter_starts_small():
    torch.manual_seed(0)
    fresh = DilatedFCN(4, 3, width=8)
    torch.manual_seed(0)
    teacher = LabelAssistedTeacher(DilatedFCN(4, 3, width=8), 3, label_init_scale=0.01)
    w0, w = fresh.layers[0][0].weight, teacher.net.layers[0][0].weight
    torch.testing.assert_close(w[:, :3], w0[:, :3])
    torch.testing.assert_close(w[:, 3:], 0.01 * w0[:, 3:])


def test_student_sees_a_zero_label_channel():
    torch.manual_seed(0)
    student = ZeroLabelStudent(DilatedFCN(4, 3, width=8))
    images = torch.rand(2, 3, 6, 6)
    out = student(images)
    expected = student.net(torch.cat([images, torch.zeros(2, 1, 6, 6)], dim=1))
    torch.testing.assert_close(out, expected)
    main, aux = student.forward_with_aux(images)  # what distill_student trains: both heads on the zero channel
    torch.testing.assert_close(main, expected)
    torch.testing.assert_close(aux, student.net.forward_with_aux(torch.cat([images, torch.zeros(2, 1, 6, 6)], 1))[1])
    out.sum().backward()
    label_filter_grad = student.net.layers[0][0].weight.grad[:, 3]
    assert torch.count_nonzero(label_filter_grad) == 0  # nothing reaches the label channel's weights
    assert torch.count_nonzero(student.net.layers[0][0].weight.grad[:, :3]) > 0


def test_teacher_soft_labels_are_probabilities_and_reproducible():
    torch.manual_seed(0)
    teacher = LabelAssistedTeacher(DilatedFCN(4, 3, width=8), 3, ignore_index=255)
    images = torch.rand(2, 3, 2, 3)
    soft = teacher_soft_labels(teacher, images, MASKS, generator=torch.Generator().manual_seed(1))
    assert soft.shape == (2, 3, 2, 3) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    again = teacher_soft_labels(teacher, images, MASKS, generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(soft, again)


def test_mean_iou_exact():
    truth = np.array([[0, 0, 1, 1], [2, 2, 2, 9]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    # the pixel labelled 9 is dropped; class 0: inter 1, union 3; class 1: 2 / 3; class 2: 2 / 3
    assert mean_iou(pred, truth, 3, ignore_index=9) == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)


# ---- the estimator -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    from labelwise.testing.digit_scenes import digit_scenes

    return digit_scenes(12, size=16, glyph_px=(6, 8), seed=3)


def _tiny_model(**kw):
    return LabelAssistedSegmenter(width=8, dilations=(1, 2), stride=1, teacher_epochs=1, student_epochs=1,
                                  batch_size=6, **kw)


def test_estimator_fits_predicts_and_is_reproducible(tiny):
    calls = []
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = _tiny_model(random_state=0).fit(tiny.images, tiny.masks,
                                            progress=lambda *a: calls.append(a))
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG is untouched
    assert ("teacher", 1, 1) in calls and ("student", 1, 1) in calls
    proba = model.predict_proba(tiny.images)
    assert proba.shape == (12, model.num_classes_, 16, 16)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict(tiny.images).shape == (12, 16, 16)
    soft = model.soft_labels(tiny.images, tiny.masks)
    np.testing.assert_array_equal(soft, model.soft_labels(tiny.images, tiny.masks))
    again = _tiny_model(random_state=0).fit(tiny.images, tiny.masks)
    np.testing.assert_array_equal(again.predict_proba(tiny.images), proba)


def test_estimator_names_what_is_wrong(tiny):
    model = _tiny_model(random_state=0)
    with pytest.raises(ShapeError, match=r"\(n, H, W, C\)"):
        model.fit(tiny.images[0], tiny.masks)
    with pytest.raises(ShapeError, match="masks must be"):
        model.fit(tiny.images, tiny.masks[:, :8])
    nan = tiny.images.copy()
    nan[4, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN.*image 4"):
        model.fit(nan, tiny.masks)
    bad = tiny.masks.copy()
    bad[2, 0, 0] = 40
    with pytest.raises(DataError, match="mask 2 holds class id 40"):
        _tiny_model(num_classes=11).fit(tiny.images, bad)
    with pytest.raises(DataError, match="negative class id"):
        model.fit(tiny.images, -tiny.masks - 1)
    with pytest.raises(DataError, match="non-integer"):
        model.fit(tiny.images, tiny.masks + 0.5)
    ignored = tiny.masks.copy()
    ignored[:, :2] = 255
    fitted = _tiny_model(ignore_index=255, random_state=0).fit(tiny.images, ignored)
    assert fitted.num_classes_ == int(tiny.masks.max()) + 1
    with pytest.raises(ShapeError, match="channels"):
        fitted.predict(tiny.images[..., :2])
    assert issubclass(DataError, LabelwiseError)


# ---- the paper's claim at a small budget (tests/learn/lad_experiment.py; bench/lad.py runs it at full size) -------

# Three digits (4 classes with the background), 200 training / 100 test scenes, 10 epochs, batch 8, seed 0 (one
# seed keeps the test near a minute; the teacher's shortfall, -0.15 mIoU against the +0.05 asked, is far outside
# the seed spread, and bench/lad.py runs three seeds): small enough for a test, large enough that the CE-only
# student is far above the all-background prediction.
CLAIM = dict(n_train=200, n_test=100, teacher_epochs=10, student_epochs=10, digits=(0, 1, 2))


@pytest.fixture(scope="module")
def claim_runs():
    from tests.learn.lad_experiment import Config, run_seed

    return [run_seed(Config(**CLAIM), seed, arms=("a", "c"), log=print) for seed in (0,)]  # -s shows them


@pytest.mark.slow
def test_small_budget_experiment_learns(claim_runs):
    """The baseline the claim is measured against is a real segmenter, so the claim test below is not vacuous:
    predicting background everywhere scores about 0.2 mIoU here (one class of four, IoU ~0.8)."""
    from tests.learn.lad_experiment import Config, scenes

    _, test = scenes(Config(**CLAIM), 0)
    background_only = mean_iou(np.zeros_like(test.masks), test.masks, 11)
    assert background_only < 0.21
    for run in claim_runs:
        assert run.student["a"] > background_only + 0.12


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="LAD's claim does not reproduce at CPU scale: the LAD teacher is below the "
                                       "plain teacher and its student below the CE-only one (pytest -s prints the "
                                       "figures); see docs/learn.md, LAD")
def test_lad_teacher_and_student_beat_the_plain_ones(claim_runs):
    """The paper's claim: the label-assisted teacher is much better than a plain teacher of the same network
    (here: by at least 0.05 mIoU), and its CWD student is at least as good as a CE-only student, within 0.03: about three times the seed-to-seed std of that difference in bench/lad.py
    (0.011 over seeds 0-2). strict: if the claim starts to hold, this test fails and the docs must change."""
    for run in claim_runs:
        assert run.teacher["c"] >= run.teacher["b"] + 0.05
    assert np.mean([run.student["c"] - run.student["a"] for run in claim_runs]) >= -0.03
