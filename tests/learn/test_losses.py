"""Exact small cases for the PU-MLC, LDR-KL/ALDR-KL, GCE and ConR losses (values computed by hand or by a plain
loop reference), plus finiteness of gradients at extreme scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labelwise.errors import ShapeError  # noqa: E402
from labelwise.learn.conr import ConRLoss, conr_loss, shot_metrics  # noqa: E402
from labelwise.learn.ldr import ALDRKLLoss, aldr_lambda, gce_loss, ldr_kl_loss, normalize_scores  # noqa: E402
from labelwise.learn.pu_mlc import hide_positives, pu_mixup_penalty, pu_mlc_loss  # noqa: E402

D = torch.float64


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ------------------------------------------------------------------------------------------------------- PU-MLC
def test_pu_mlc_all_zero_logits():
    # std = 0 -> sigma clamped to 0.05, z / sigma = 0 -> S = 0.5 everywhere; classes 0 and 1 have positives
    z = torch.zeros(4, 3, dtype=D)
    t = torch.tensor([[1, 0, 0], [0, 1, -1], [0, 0, 0], [1, 1, 0]])
    gamma = 0.55
    expected = math.log(0.5) * (3 * 0.5**gamma - 2)
    assert pu_mlc_loss(z, t, gamma=gamma).item() == pytest.approx(expected, abs=1e-12)
    assert pu_mlc_loss(z, t, gamma=gamma, reduction="mean").item() == pytest.approx(expected / 3, abs=1e-12)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_pu_mlc_two_rows_value_and_gradient(alpha):
    # z = [2, 0]: population std 1 -> sigma = min(1, alpha); S = sigmoid(z / sigma); T = [1, 0]
    z = torch.tensor([[2.0], [0.0]], dtype=D, requires_grad=True)
    t = torch.tensor([[1], [0]])
    gamma = 0.55
    sigma = min(1.0, alpha)
    s1, s2 = sig(2 / sigma), 0.5
    m = (s1 + s2) / 2
    w = m**gamma
    expected = w * math.log(m) - math.log(s1)
    loss = pu_mlc_loss(z, t, alpha=alpha, gamma=gamma)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    loss.backward()
    # sigma and w are detached: d/dz_i of w log mean S - log S_1, with S_i = sigmoid(z_i / sigma)
    g1 = (w * s1 * (1 - s1) / (s1 + s2) - (1 - s1)) / sigma
    g2 = w * s2 * (1 - s2) / (s1 + s2) / sigma
    assert z.grad[:, 0].tolist() == pytest.approx([g1, g2], abs=1e-12)


def test_pu_mlc_ignores_negatives_and_is_finite_at_extremes():
    z = torch.tensor([[60.0, -80.0], [-70.0, 90.0], [0.0, 1.0]], dtype=D, requires_grad=True)
    t_unknown = torch.tensor([[1, 0], [0, 1], [0, 0]])
    t_negative = torch.tensor([[1, -1], [-1, 1], [-1, -1]])
    a, b = pu_mlc_loss(z, t_unknown), pu_mlc_loss(z, t_negative)
    assert a.item() == b.item()  # only T == 1 is used
    a.backward()
    assert torch.isfinite(z.grad).all()


def test_pu_mlc_shape_error():
    with pytest.raises(ShapeError):
        pu_mlc_loss(torch.zeros(3, 2), torch.zeros(3, 3))


def test_pu_mixup_penalty_finite():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x = torch.randn(8, 5)
    z = model(x)
    t = (torch.rand(8, 3) < 0.3).long()
    pen = pu_mixup_penalty(model, x, z, t, generator=torch.Generator().manual_seed(0))
    pen.backward()
    assert torch.isfinite(pen) and pen.item() >= 0
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_hide_positives():
    rng = np.random.default_rng(0)
    Y = (rng.random((400, 10)) < 0.3).astype(int)
    assert (hide_positives(Y, 0.0, random_state=0) == Y).all()
    assert hide_positives(Y, 1.0, random_state=0).sum() == 0
    H = hide_positives(Y, 0.5, random_state=1)
    assert ((H == 1) <= (Y == 1)).all()  # never adds a positive
    assert 0.45 < H.sum() / Y.sum() < 0.55
    assert (H == hide_positives(Y, 0.5, random_state=1)).all()


# ------------------------------------------------------------------------------------------------------- LDR-KL
def test_ldr_kl_hand_value():
    # z = [1, 0], y = 0, lam = 1, c = 0.1: log(0.5 * (exp(0) + exp(0.1 + 0 - 1)))
    z = torch.tensor([[1.0, 0.0]], dtype=D)
    got = ldr_kl_loss(z, torch.tensor([0]), 1.0, margin=0.1, normalize="none").item()
    assert got == pytest.approx(math.log(0.5 * (1 + math.exp(-0.9))), abs=1e-12)


def test_ldr_kl_zero_margin_is_scaled_cross_entropy():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 5, generator=g, dtype=D)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    lam = 2.5
    got = ldr_kl_loss(z, y, lam, margin=0.0, normalize="none")
    ce = torch.nn.functional.cross_entropy(z / lam, y)
    assert got.item() == pytest.approx(lam * (ce.item() - math.log(5)), abs=1e-12)


def test_ldr_kl_limits():
    z = torch.tensor([[0.3, 1.2, -0.5, 0.9]], dtype=D)
    y = torch.tensor([0])
    c = 0.1
    margins = np.array([0.0, c + 0.9, c - 0.8, c + 0.6])
    small = ldr_kl_loss(z, y, 1e-4, margin=c, normalize="none").item()
    # lam -> 0: Crammer-Singer max-hinge (minus lam log K)
    assert small == pytest.approx(margins.max() - 1e-4 * math.log(4), abs=1e-6)
    big = ldr_kl_loss(z, y, 1e5, margin=c, normalize="none").item()
    assert big == pytest.approx(margins.mean(), abs=1e-4)  # lam -> inf: mean margin


def test_ldr_per_example_lambda_matches_scalar():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, 3, generator=g, dtype=D)
    y = torch.tensor([0, 1, 2, 1])
    lams = torch.tensor([0.5, 1.0, 3.0, 10.0], dtype=D)
    per = ldr_kl_loss(z, y, lams, reduction="none")
    for i in range(4):
        assert per[i].item() == pytest.approx(ldr_kl_loss(z[i:i + 1], y[i:i + 1], lams[i].item()).item(), abs=1e-12)


def test_normalize_scores():
    z = torch.tensor([[2.0, -1.0, 0.5]], dtype=D)
    assert normalize_scores(z, "l1").abs().mean().item() == pytest.approx(1.0)
    sp = normalize_scores(z, "softplus_mean")
    assert (sp > 0).all() and sp.mean().item() == pytest.approx(1.0)


def test_aldr_lambda_update():
    k, lam0, alpha = 4, 10.0, 2.0
    # equal scores, no margin: p uniform, KL = 0 -> lam = lam0
    z = torch.ones(1, k, dtype=D)
    lam = aldr_lambda(z, torch.tensor([0]), torch.tensor([lam0], dtype=D), lam0=lam0, alpha=alpha, margin=0.0,
                      normalize="none")
    assert lam.item() == pytest.approx(lam0)
    # a peaked example: p = softmax(z / lam_old); lam = lam0 (1 - KL / (alpha log K))
    z = torch.tensor([[8.0, 0.0, 0.0, 0.0]], dtype=D)
    p = np.exp([0.8, 0, 0, 0]) / np.exp([0.8, 0, 0, 0]).sum()
    kl = float((p * np.log(p * k)).sum())
    lam = aldr_lambda(z, torch.tensor([0]), torch.tensor([10.0], dtype=D), lam0=lam0, alpha=alpha, margin=0.0,
                      normalize="none")
    assert lam.item() == pytest.approx(lam0 * (1 - kl / (alpha * math.log(k))), abs=1e-12)


def test_aldr_module_state_and_bounds():
    crit = ALDRKLLoss(n_samples=10, lam0=10.0, alpha=2.0)
    z = torch.tensor([[50.0, -3.0, 0.1], [0.0, 0.0, 0.0]], dtype=torch.float32, requires_grad=True)
    idx = torch.tensor([3, 7])
    loss = crit(z, torch.tensor([0, 1]), idx)
    loss.backward()
    assert torch.isfinite(z.grad).all()
    lam = crit.lambdas
    assert (lam >= 5.0 - 1e-6).all() and (lam <= 10.0 + 1e-6).all()
    assert lam[3] < 10.0  # the peaked example got a smaller temperature
    untouched = [i for i in range(10) if i not in (3, 7)]
    assert (lam[untouched] == 10.0).all()
    assert "lambdas" in crit.state_dict()
    with pytest.raises(ValueError):
        ALDRKLLoss(5, alpha=1.0)
    with pytest.raises(ShapeError):
        crit(z, torch.tensor([0, 1]))


def test_gce_values():
    z = torch.zeros(1, 2, dtype=D)
    assert gce_loss(z, torch.tensor([0]), q=0.7).item() == pytest.approx((1 - 0.5**0.7) / 0.7)
    z = torch.tensor([[1.0, 2.0, 0.0]], dtype=D)
    p1 = math.exp(2) / (math.exp(1) + math.exp(2) + 1)
    assert gce_loss(z, torch.tensor([1]), q=1.0).item() == pytest.approx(1 - p1)


def test_ldr_gradients_finite_at_extreme_scores():
    z = torch.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    for norm in ("softplus_mean", "l1", "none"):
        z.grad = None
        ldr_kl_loss(z, torch.tensor([1, 2]), 0.5, normalize=norm).backward()
        assert torch.isfinite(z.grad).all()


# ------------------------------------------------------------------------------------------------------- ConR
def conr_reference(f, y, p, w, window, t, e, official=False):
    """Plain loops over the paper's formula."""
    n = len(f)
    q = f / np.linalg.norm(f, axis=1, keepdims=True)
    s = q @ q.T / t
    total = 0.0
    for i in range(n):
        P = [j for j in range(n) if j != i and abs(y[i] - y[j]) <= window]
        N = [j for j in range(n) if abs(y[i] - y[j]) > window and abs(p[i] - p[j]) <= window]
        if not P or not N:
            continue
        den = sum(math.exp(s[i, j]) for j in P)
        den += sum(w[i] * math.exp(e * abs(y[i] - y[j])) * math.exp(s[i, j]) for j in N)
        if official:
            den += n - len(P)
        total += w[i] * -np.mean([s[i, j] - math.log(den) for j in P])
    return total / n


@pytest.mark.parametrize("official", [False, True])
def test_conr_matches_loop_reference(official):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(12, 5))
    y = rng.uniform(0, 6, size=12)
    p = y + rng.normal(scale=2.0, size=12)
    w = rng.uniform(0.5, 2.0, size=12)
    got = conr_loss(torch.tensor(f), torch.tensor(y), torch.tensor(p), torch.tensor(w), window=1.0,
                    temperature=0.2, push=0.01, compat_official=official).item()
    ref = conr_reference(f, y, p, w, 1.0, 0.2, 0.01, official)
    assert ref > 0
    assert got == pytest.approx(ref, rel=1e-10)


def test_conr_three_points_by_hand():
    # y = [0, 0.5, 5], preds = [0, 0.5, 0.6], window 1: anchors 0 and 1 have each other as positive and point 2
    # as a wrong proximity; anchor 2 has no positive. Orthogonal/identical features make s_ij easy.
    f = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=D)
    y = torch.tensor([0.0, 0.5, 5.0], dtype=D)
    p = torch.tensor([0.0, 0.5, 0.6], dtype=D)
    t, e = 0.5, 0.1
    s_pos, s_neg = 1 / t, 0.0
    l0 = -(s_pos - math.log(math.exp(s_pos) + math.exp(e * 5.0) * math.exp(s_neg)))
    l1 = -(s_pos - math.log(math.exp(s_pos) + math.exp(e * 4.5) * math.exp(s_neg)))
    got = conr_loss(f, y, p, window=1.0, temperature=t, push=e).item()
    assert got == pytest.approx((l0 + l1) / 3, abs=1e-12)


def test_conr_zero_without_wrong_proximity_and_detached_preds():
    f = torch.randn(6, 3, dtype=D, requires_grad=True)
    y = torch.tensor([0.0, 0.1, 5.0, 5.1, 10.0, 10.2], dtype=D)
    preds = y.clone().requires_grad_(True)  # predictions far apart where labels are: no negatives
    loss = ConRLoss(window=1.0)(f, y, preds)
    assert loss.item() == 0.0
    preds2 = torch.zeros(6, dtype=D, requires_grad=True)  # all predictions close: every far pair is a negative
    loss2 = conr_loss(f, y, preds2, window=1.0)
    loss2.backward()
    assert loss2.item() > 0 and torch.isfinite(f.grad).all() and preds2.grad is None


def test_conr_linear_push_and_multidim_labels():
    rng = np.random.default_rng(3)
    f = torch.tensor(rng.normal(size=(8, 4)))
    y2 = torch.tensor(rng.uniform(0, 3, size=(8, 2)))
    assert torch.isfinite(conr_loss(f, y2, y2 * 0, push_fn="linear", push=0.2))
    with pytest.raises(ShapeError):
        conr_loss(f, y2[:, 0], y2)


def test_shot_metrics():
    y_train = np.array([0.2] * 150 + [1.5] * 50 + [2.5] * 5)
    y_true = np.array([0.5, 1.5, 2.5, 2.7])
    y_pred = np.array([0.0, 2.5, 0.5, 2.7])
    m = shot_metrics(y_true, y_pred, y_train)
    assert m["many"] == pytest.approx(0.5)
    assert m["median"] == pytest.approx(1.0)
    assert m["few"] == pytest.approx(1.0)  # (2.0 + 0.0) / 2
    assert m["all"] == pytest.approx(3.5 / 4) and m["n_few"] == 2
