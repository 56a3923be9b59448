"""FILTER's kd_kl_loss and the teacher ensemble on cases computed by hand (paper 17)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn.self_teaching import ensemble_logits, ensemble_soft_labels, kd_kl_loss  # noqa: E402

D = torch.float64
KL_08 = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)  # KL([.8, .2] || [.5, .5])


def test_one_position_by_hand_logits_and_probabilities():
    student = torch.zeros(1, 2, dtype=D)
    assert kd_kl_loss(student, torch.tensor([[math.log(4.0), 0.0]], dtype=D)).item() == pytest.approx(KL_08, abs=1e-12)
    assert kd_kl_loss(student, torch.tensor([[0.8, 0.2]], dtype=D), teacher_is_probs=True).item() == pytest.approx(
        KL_08, abs=1e-12)


def test_temperature_softens_both_and_scales_by_t_squared():
    student = torch.zeros(1, 2, dtype=D)
    # teacher logits [2 ln 4, 0] at T = 2 -> softmax([ln 4, 0]) = [.8, .2]; loss = 4 KL
    z = torch.tensor([[2 * math.log(4.0), 0.0]], dtype=D)
    assert kd_kl_loss(student, z, temperature=2.0).item() == pytest.approx(4 * KL_08, abs=1e-12)
    # probabilities [.8, .2] at T = 2 -> [sqrt .8, sqrt .2] normalised = [2/3, 1/3]
    kl = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    got = kd_kl_loss(student, torch.tensor([[0.8, 0.2]], dtype=D), temperature=2.0, teacher_is_probs=True).item()
    assert got == pytest.approx(4 * kl, abs=1e-12)
    # the student is tempered too: logits [2, 0] at T = 2 equal logits [1, 0] at T = 1 (times T^2 = 4)
    s2, p = torch.tensor([[2.0, 0.0]], dtype=D), torch.tensor([[0.8, 0.2]], dtype=D)
    q = torch.softmax(torch.tensor([1.0, 0.0], dtype=D), 0)
    want = 4 * float((p[0] * (p[0].log() - q.log())).sum())
    assert kd_kl_loss(s2, torch.log(p) * 2, temperature=2.0).item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("t", [0.5, 1.0, 3.0])
def test_probabilities_and_logits_give_the_same_loss(t):
    g = torch.Generator().manual_seed(0)
    s, z = torch.randn(2, 5, 4, generator=g, dtype=D), torch.randn(2, 5, 4, generator=g, dtype=D)
    a = kd_kl_loss(s, z, temperature=t)
    b = kd_kl_loss(s, torch.softmax(z, -1), temperature=t, teacher_is_probs=True)
    assert a.item() == pytest.approx(b.item(), abs=1e-10)
    assert a.item() > 0


def test_zero_when_student_equals_teacher():
    z = torch.randn(3, 7, 5, generator=torch.Generator().manual_seed(1), dtype=D)
    assert abs(kd_kl_loss(z, z.clone(), temperature=2.0).item()) < 1e-12
    assert abs(kd_kl_loss(z, torch.softmax(z, -1), teacher_is_probs=True).item()) < 1e-12


def test_mask_averages_over_kept_positions_only():
    student = torch.zeros(2, 3, 2, dtype=D)
    teacher = torch.full((2, 3, 2), 0.5, dtype=D)
    teacher[0, 0] = torch.tensor([0.8, 0.2])
    teacher[1, 2] = torch.tensor([0.2, 0.8])
    teacher[0, 1] = torch.tensor([1.0, 0.0])  # masked: it would add KL([1, 0] || [.5, .5]) = ln 2
    mask = torch.tensor([[True, False, True], [False, False, True]])
    got = kd_kl_loss(student, teacher, mask, teacher_is_probs=True).item()
    assert got == pytest.approx((KL_08 + 0 + KL_08) / 3, abs=1e-12)  # mean over the 3 kept positions
    assert kd_kl_loss(student, teacher, torch.zeros(2, 3, dtype=torch.bool), teacher_is_probs=True).item() == 0.0


def test_gradient_reaches_the_student_only():
    # d/dz_s [T^2 KL(p || softmax(z_s / T))] = T (softmax(z_s / T) - p), divided by the number of positions
    student = torch.zeros(1, 2, dtype=D, requires_grad=True)
    teacher = torch.tensor([[math.log(4.0), 0.0]], dtype=D, requires_grad=True)
    kd_kl_loss(student, teacher).backward()
    assert torch.allclose(student.grad, torch.tensor([[-0.3, 0.3]], dtype=D), atol=1e-12)
    assert teacher.grad is None
    student.grad = None
    kd_kl_loss(student, teacher * 2, temperature=2.0).backward()
    assert torch.allclose(student.grad, torch.tensor([[-0.6, 0.6]], dtype=D), atol=1e-12)


def test_ensemble_averages_logits_then_softens():
    z1, z2 = torch.tensor([[2.0, 0.0]], dtype=D), torch.tensor([[0.0, 0.0]], dtype=D)
    assert torch.equal(ensemble_logits([z1, z2]), torch.tensor([[1.0, 0.0]], dtype=D))
    e = math.e
    assert torch.allclose(ensemble_soft_labels([z1, z2]), torch.tensor([[e / (e + 1), 1 / (e + 1)]], dtype=D))
    assert torch.allclose(ensemble_soft_labels([z1, z2], temperature=0.5),
                          torch.tensor([[e**2 / (e**2 + 1), 1 / (e**2 + 1)]], dtype=D))
    # soft labels at T = 1 used as probabilities give the loss of the averaged logits, at any loss temperature
    s = torch.tensor([[0.3, -0.2]], dtype=D)
    assert kd_kl_loss(s, ensemble_soft_labels([z1, z2]), temperature=3.0, teacher_is_probs=True).item() == \
        pytest.approx(kd_kl_loss(s, ensemble_logits([z1, z2]), temperature=3.0).item(), abs=1e-12)


def test_errors_are_one_line_and_typed():
    with pytest.raises(ShapeError, match="same shape"):
        kd_kl_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ShapeError, match="mask"):
        kd_kl_loss(torch.zeros(2, 3), torch.zeros(2, 3), mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ParameterError, match="temperature"):
        kd_kl_loss(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(ShapeError, match="teacher 1"):
        ensemble_logits([torch.zeros(2, 3), torch.zeros(3, 3)])
    with pytest.raises(ParameterError):
        ensemble_logits([])
