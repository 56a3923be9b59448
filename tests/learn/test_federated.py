"""FedLabel (paper 3): the selection rule, the consistency term, FedAvg and the local update, exactly on tiny
tensors; the estimator's errors; the claim at a small budget (tests/learn/fedlabel_experiment.py, the same code
bench/fedlabel.py runs at full size)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.federated import (
    MLP,
    FedLabelClassifier,
    dirichlet_partition,
    fedavg,
    get_parameters,
    global_local_consistency,
    local_update,
    noise_augment,
    select_expert_pseudo_labels,
    set_parameters,
    sgd_momentum_step,
)


def test_selection_picks_the_more_confident_model_per_row_local_wins_ties():
    p_local = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5], [0.02, 0.98]])
    p_global = torch.tensor([[0.2, 0.8], [0.03, 0.97], [0.5, 0.5], [0.7, 0.3]])
    labels, mask, source = select_expert_pseudo_labels(p_local, p_global, threshold=0.95)
    assert labels.tolist() == [0, 1, 0, 1]
    assert source.tolist() == [0, 1, 0, 0]  # 0.9 > 0.8 local; 0.97 > 0.6 global; the tie goes to local
    assert mask.tolist() == [False, True, False, True]  # the chosen model's max >= 0.95


def test_selection_numpy_in_numpy_out_and_negative_entropy_criterion():
    p_local = np.array([[0.6, 0.2, 0.2]])  # max 0.60, entropy 0.950
    p_global = np.array([[0.55, 0.45, 0.0]])  # max 0.55, entropy 0.688
    labels, mask, source = select_expert_pseudo_labels(p_local, p_global, threshold=0.5)
    assert isinstance(labels, np.ndarray) and source.tolist() == [0] and mask.tolist() == [True]
    _, _, source = select_expert_pseudo_labels(p_local, p_global, criterion="neg_entropy")
    assert source.tolist() == [1]
    with pytest.raises(ShapeError):
        select_expert_pseudo_labels(p_local, np.ones((2, 3)) / 3)
    with pytest.raises(ParameterError):
        select_expert_pseudo_labels(p_local, p_global, criterion="margin")


def test_consistency_is_kl_from_the_global_model_on_agreeing_rows_only():
    logits = torch.zeros(2, 2, requires_grad=True)  # the student is uniform
    p_local = torch.tensor([[0.7, 0.3], [0.6, 0.4]])
    p_global = torch.tensor([[0.8, 0.2], [0.1, 0.9]], requires_grad=True)  # row 2 disagrees
    kl_row1 = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)
    per_row = global_local_consistency(logits, p_local, p_global, reduction="none")
    assert per_row.tolist() == pytest.approx([kl_row1, 0.0], abs=1e-6)
    loss = global_local_consistency(logits, p_local, p_global)
    assert float(loss.detach()) == pytest.approx(kl_row1 / 2, abs=1e-6)
    loss.backward()
    assert p_global.grad is None  # nothing flows into the frozen global model
    assert logits.grad[1].abs().sum() == 0 and logits.grad[0].abs().sum() > 0


def test_fedavg_weights_by_example_counts():
    a = [np.array([1.0, 2.0]), np.array([[0.0]])]
    b = [np.array([3.0, 6.0]), np.array([[4.0]])]
    avg = fedavg([a, b], [1, 3])
    assert avg[0].tolist() == [2.5, 5.0] and avg[1].tolist() == [[3.0]]
    with pytest.raises(ShapeError):
        fedavg([a, [np.array([1.0]), np.array([[0.0]])]], [1, 1])
    with pytest.raises(ParameterError):
        fedavg([a, b], [0, 0])


def test_dirichlet_partition_is_a_seeded_partition_with_skew():
    labels = np.repeat(np.arange(5), 200)
    parts = dirichlet_partition(labels, 4, 0.1, random_state=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(1000))
    again = dirichlet_partition(labels, 4, 0.1, random_state=3)
    assert all(np.array_equal(p, q) for p, q in zip(parts, again))
    # alpha 0.1: most of a class sits on one client; alpha 1000: close to an even split
    share = lambda ps: np.mean([max(np.mean(labels[p] == c) * len(p) for p in ps) / 200 for c in range(5)])  # noqa
    assert share(parts) > 0.7
    assert share(dirichlet_partition(labels, 4, 1000.0, random_state=3)) < 0.35


def test_local_update_without_confident_pseudo_labels_or_consistency_equals_labels_only():
    rng = np.random.default_rng(0)
    X_l, y_l, X_u = rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2]), rng.normal(size=(20, 4))
    same = lambda x, g: x  # noqa: E731  (no random draws: the two runs see the same batches)
    runs = {}
    for mode, extra in (("none", {}), ("fedlabel", {"threshold": 1.01, "lambda_c": 0.0})):
        torch.manual_seed(0)
        model = MLP(4, 3, 8)
        stats = local_update(model, X_l, y_l, X_u, pseudo_labels=mode, epochs=2, batch_size=8,
                             strong_augment=same, seed=1, **extra)
        runs[mode] = (get_parameters(model), stats)
    assert all(np.array_equal(a, b) for a, b in zip(runs["none"][0], runs["fedlabel"][0]))
    assert runs["fedlabel"][1]["mask_rate"] == 0.0 and runs["fedlabel"][1]["steps"] == 2 * 4
    # with the consistency term on, the same run moves elsewhere
    torch.manual_seed(0)
    model = MLP(4, 3, 8)
    local_update(model, X_l, y_l, X_u, pseudo_labels="fedlabel", threshold=1.01, lambda_c=1.0, epochs=2,
                 batch_size=8, strong_augment=same, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(runs["none"][0], get_parameters(model)))


def test_sgd_momentum_step_is_torch_sgd_with_momentum():
    # p0 = 1, lr 0.5, momentum 0.9, gradients 2, -1, 4: buf = 2, 0.8, 4.72; p = 0, -0.4, -2.76
    param, buf = torch.tensor([1.0], requires_grad=True), torch.zeros(1)
    frozen = torch.tensor([3.0], requires_grad=True)  # no gradient: untouched
    trajectory = []
    for grad in (2.0, -1.0, 4.0):
        param.grad = torch.tensor([grad])
        sgd_momentum_step([param, frozen], [buf, torch.zeros(1)], lr=0.5)
        trajectory.append(float(param.detach()))
    assert trajectory == pytest.approx([0.0, -0.4, -2.76]) and float(buf) == pytest.approx(4.72)
    assert float(frozen.detach()) == 3.0


def test_parameters_round_trip_and_refuse_another_shape():
    model = MLP(4, 3, 8)
    params = get_parameters(model)
    other = MLP(4, 3, 8)
    set_parameters(other, params)
    assert all(np.array_equal(a, b) for a, b in zip(params, get_parameters(other)))
    with pytest.raises(ShapeError, match="n_features"):
        set_parameters(MLP(5, 3, 8), params)


def test_classifier_checks_its_clients():
    good = {"X_l": np.zeros((2, 3)), "y_l": np.array([0, 1]), "X_u": np.zeros((4, 3))}
    with pytest.raises(ParameterError, match="X_u"):
        FedLabelClassifier(rounds=1).fit([{"X_l": good["X_l"], "y_l": good["y_l"]}])
    with pytest.raises(ShapeError, match="width"):
        FedLabelClassifier(rounds=1).fit([good, {**good, "X_u": np.zeros((4, 5))}])
    with pytest.raises(ParameterError, match="pseudo_labels"):
        FedLabelClassifier(rounds=1, pseudo_labels="both").fit([good])
    model = FedLabelClassifier(rounds=2, classes=np.array([0, 1, 2])).fit([good, good])
    assert model.predict_proba(np.zeros((3, 3))).shape == (3, 3) and len(model.history_) == 2
    with pytest.raises(ParameterError, match="duplicates"):
        FedLabelClassifier(rounds=1, classes=[0, 1, 1]).fit([good])


def test_classifier_keeps_the_class_order_it_is_given():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "b", np.where(X[:, 1] > 0, "c", "a"))
    client = {"X_l": X, "y_l": y, "X_u": X[:0]}
    model = FedLabelClassifier(rounds=15, pseudo_labels="none", classes=["c", "a", "b"]).fit([client])
    assert model.classes_.tolist() == ["c", "a", "b"]
    assert np.mean(model.predict(X) == y) > 0.9  # columns of predict_proba follow classes_


# ---- the claim at a small budget (tests/learn/fedlabel_experiment.py; bench/fedlabel.py runs it at full size) ----


@pytest.fixture(scope="module")
def small_federation():
    """Digits over 10 clients, Dirichlet(0.3), 10 % labelled with a mismatched class mix, 12 rounds, seed 0:
    FedLabel and FedAvg on the labels only, with the same data, steps and seed."""
    from tests.learn.fedlabel_experiment import Config, make_clients, strong_augment, weak_augment

    cfg = Config(rounds=12)
    clients, (X_test, y_test) = make_clients(cfg, 0)
    runs = {}
    torch.set_num_threads(1)
    for mode in ("fedlabel", "none"):
        model = FedLabelClassifier(rounds=cfg.rounds, pseudo_labels=mode, weak_augment=weak_augment,
                                   strong_augment=strong_augment, classes=np.arange(10), random_state=0)
        model.fit([{k: c[k] for k in ("X_l", "y_l", "X_u")} for c in clients], eval_set=(X_test, y_test))
        runs[mode] = model.history_
    return runs


@pytest.mark.slow
def test_the_global_model_becomes_the_expert_as_rounds_go_by(small_federation):
    history = small_federation["fedlabel"]
    # round 1: the local model (trained on the client's own mismatched labels) wins most rows; as FedAvg pools
    # every client's labels the global model wins more of them
    assert history[0]["local_share"] > 0.8
    assert history[-1]["local_share"] < history[0]["local_share"] - 0.15
    assert history[-1]["accuracy"] > 0.6 and small_federation["none"][-1]["accuracy"] > 0.6


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="FedLabel's gain over FedAvg on labels only does not reproduce on digits with "
                   "a 64-128-10 MLP (bench/fedlabel.py: 0.774 +- 0.125 vs 0.875 +- 0.005 at 40 rounds)")
def test_claim_fedlabel_beats_fedavg_on_labels_only_by_five_points(small_federation):
    assert small_federation["fedlabel"][-1]["accuracy"] >= small_federation["none"][-1]["accuracy"] + 0.05


def test_noise_augment_scales_per_feature_and_drops():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(20000, 2)
    out = noise_augment(0.5, scale=[1.0, 10.0])(x, g)
    assert out.std(dim=0).tolist() == pytest.approx([0.5, 5.0], rel=0.03)
    dropped = noise_augment(0.0, drop=0.25)(torch.ones(20000, 2), g)
    assert float((dropped == 0).float().mean()) == pytest.approx(0.25, abs=0.01)
