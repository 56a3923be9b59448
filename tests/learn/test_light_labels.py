"""HeLlO's label projector (paper 10): storage by hand, exact small cases, and the claim on digits at a small budget.
The full-size figures come from bench/hello_light_labels.py (docs/learn.md, "HeLlO")."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn.light_labels import (  # noqa: E402
    FeatureAugmenter,
    LightLabelProjector,
    OnlineLabelStudent,
    augmented_views,
    class_prototypes,
    heavy_soft_labels,
    refine_synthetic,
    stored_soft_label_bytes,
)

IDENTITY = FeatureAugmenter(noise=0.0, mixup_prob=0.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_heavy_storage_is_the_papers_count():
    # ImageNet-1K, 1 image per class, 300 epochs, float16: 572 MiB (the paper's IPC=1 figure)
    assert stored_soft_label_bytes(1000, 1000, 300) == 600_000_000
    assert round(600_000_000 / 2 ** 20) == 572
    assert stored_soft_label_bytes(50, 10, 300, dtype_bytes=4) == 600_000
    with pytest.raises(ParameterError):
        stored_soft_label_bytes(0, 10, 300)


def test_class_prototypes_by_hand():
    X = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 4.0], [4.0, 4.0]])
    P = class_prototypes(X, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(P, [[2 ** -0.5, 2 ** -0.5], [0.6, 0.8]], atol=1e-6)
    with pytest.raises(ShapeError, match="class 1 has no row"):
        class_prototypes(X, np.array([0, 0, 2, 2]))


def test_augmenter_mixes_exactly_and_repeats_under_a_seed():
    X = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    views, partner, lam = FeatureAugmenter(noise=0.0, mixup_prob=1.0)(X, torch.Generator().manual_seed(3))
    torch.testing.assert_close(views, lam[:, None] * X + (1 - lam[:, None]) * X[partner])
    assert bool(((lam >= 0.5) & (lam <= 1)).all())
    again = FeatureAugmenter(noise=0.2, mixup_prob=0.5)
    a, b = (again(X, torch.Generator().manual_seed(7))[0] for _ in range(2))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(IDENTITY(X, torch.Generator())[0], X)


def test_projector_storage_counts_the_factors_only():
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    T = _softmax(X[:, :3])
    for adapter, params in ((True, 3 * 2 + 5 * 2 + 5 * 2 + 2 * 5 + 3 + 1), (False, 3 * 2 + 5 * 2 + 3 + 1)):
        p = LightLabelProjector(rank=2, adapter=adapter, epochs=1, random_state=0).fit(X, T)
        assert p.n_stored_params_ == params
        assert p.storage_bytes() == 2 * params and p.storage_bytes(dtype_bytes=4) == 4 * params


def test_factors_are_the_stored_bytes_and_reload_the_projector():
    rng = np.random.default_rng(6)
    X, W = rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=(3, 6)).astype(np.float32)
    p = LightLabelProjector(W, rank=2, epochs=3, random_state=0).fit(X, _softmax(X[:, :3] * 3))
    f16 = p.factors()
    assert sum(a.nbytes for a in f16.values()) == p.storage_bytes()
    exact = LightLabelProjector.from_factors(p.factors(np.float32), W)
    np.testing.assert_allclose(exact.predict_proba(X), p.predict_proba(X), atol=1e-6)
    half = LightLabelProjector.from_factors(f16, W)
    np.testing.assert_allclose(half.predict_proba(X), p.predict_proba(X), atol=2e-2)
    with pytest.raises(ShapeError, match="do not fit"):
        LightLabelProjector.from_factors(f16, np.ones((3, 7)))
    with pytest.raises(ParameterError, match="rank are read from the factors"):  # was a TypeError
        LightLabelProjector.from_factors(f16, W, rank=2)
    with pytest.raises(ShapeError, match=r"\(K, d\)"):  # was an IndexError
        LightLabelProjector.from_factors(f16, W[0])


def test_unfitted_projector_is_the_zero_shot_head():
    rng = np.random.default_rng(1)
    X, W = rng.normal(size=(30, 6)).astype(np.float32), rng.normal(size=(4, 6)).astype(np.float32)
    p = LightLabelProjector(W, rank=3, temperature=0.1, lr=0.0, epochs=1, random_state=0).fit(X, _softmax(X[:, :4]))
    np.testing.assert_allclose(p.predict_proba(X), _softmax(_unit(X) @ _unit(W).T / 0.1), atol=1e-5)


def test_projector_recovers_a_teacher_of_its_own_form():
    """A teacher ``softmax(5 cos(x, w_k))`` with the projector's head: rank 0 fits it exactly (scale 1/0.07 -> 5)."""
    rng = np.random.default_rng(2)
    X, W = rng.normal(size=(400, 8)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    T = _softmax(5.0 * _unit(X) @ _unit(W).T)
    p = LightLabelProjector(W, rank=0, epochs=60, batch_size=100, lr=0.05, random_state=0).fit(X, T)
    assert float(p.model_.log_scale.exp()) == pytest.approx(5.0, rel=0.02)
    np.testing.assert_allclose(p.predict_proba(X), T, atol=5e-3)


def test_stored_labels_and_the_online_teacher_train_the_same_student():
    rng = np.random.default_rng(3)
    Xs = rng.normal(size=(12, 4)).astype(np.float32)
    teacher = torch.nn.Linear(4, 3)
    aug = FeatureAugmenter(noise=0.1, mixup_prob=1.0)
    stored = heavy_soft_labels(Xs, teacher, augment=aug, epochs=5, random_state=4, dtype=np.float32)
    assert stored.shape == (5, 12, 3)
    views = [v for v, _, _ in augmented_views(Xs, aug, 5, 4)]
    with torch.no_grad():
        np.testing.assert_allclose(stored[2], torch.softmax(teacher(views[2]), 1).numpy(), atol=1e-6)
    kw = dict(epochs=5, batch_size=4, augment=aug, random_state=4)
    a = OnlineLabelStudent(**kw).fit(Xs, stored)
    b = OnlineLabelStudent(**kw).fit(Xs, teacher)
    np.testing.assert_allclose(a.predict_proba(Xs), b.predict_proba(Xs), atol=1e-5)
    with pytest.raises(ShapeError, match="stored per view"):
        OnlineLabelStudent(**{**kw, "epochs": 6}).fit(Xs, stored)


def test_refinement_moves_rows_towards_agreement_and_fidelity_holds_them():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    teacher = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    p = LightLabelProjector(rank=1, adapter=False, epochs=3, augment=IDENTITY, random_state=0).fit(X, teacher)
    Xs = X[:20]

    def gap(rows):
        with torch.no_grad():
            t = torch.log_softmax(teacher(torch.from_numpy(rows)), 1)
        q = torch.log_softmax(torch.from_numpy(p.decision_function(rows)).float(), 1)
        return float((t.exp() * (t - q)).sum(1).mean())

    moved = refine_synthetic(Xs, p, teacher, augment=IDENTITY, steps=50, fidelity=0.0, random_state=0)
    assert gap(moved) < 0.5 * gap(Xs)
    np.testing.assert_array_equal(refine_synthetic(Xs, p, teacher, steps=0), Xs)
    held = refine_synthetic(Xs, p, teacher, augment=IDENTITY, steps=50, fidelity=1e4, random_state=0)
    assert np.abs(held - Xs).max() < 0.2 * np.abs(moved - Xs).max()


def test_bad_inputs_say_what_to_fix():
    X = np.zeros((4, 3), dtype=np.float32) + 1
    with pytest.raises(ShapeError, match=r"init_head must be a finite \(K, 3\)"):
        LightLabelProjector(np.ones((2, 5))).fit(X, np.full((4, 2), 0.5))
    with pytest.raises(ShapeError, match="teacher gives 2"):
        LightLabelProjector(np.eye(3)).fit(X, np.full((4, 2), 0.5))
    with pytest.raises(ShapeError, match=r"\(4, K\)"):
        LightLabelProjector().fit(X, np.full((3, 2), 0.5))
    with pytest.raises(ParameterError, match="rank"):
        LightLabelProjector(rank=-1).fit(X, np.full((4, 2), 0.5))
    for broken in (np.nan, 0.0):  # a NaN or an all-zero row made the loss NaN without a word
        soft = np.full((4, 2), 0.5)
        soft[2] = broken
        with pytest.raises(ShapeError, match="row 2"):
            LightLabelProjector(epochs=1).fit(X, soft)
    with pytest.raises(ParameterError, match="epochs"):
        OnlineLabelStudent(epochs=0).fit(X, np.array([0, 1, 0, 1]))
    with pytest.raises(ShapeError, match="hard labels"):
        OnlineLabelStudent().fit(X, np.array([0.5, 1, 0, 1]))


@pytest.mark.slow
def test_claim_digits_small_budget():
    """The notes' experiment on digits at a small budget (IPC 5, 100 student epochs, a 10-epoch teacher): the
    projector's labels train a student about as well as the stored per-view soft labels (within 0.03) at under 2 %
    of their bytes, and the low-rank fit brings the projector closer to the teacher than the prototype head alone.
    That soft labels beat hard ones needs the full size (bench/hello_light_labels.py: 300 epochs, 3 seeds, IPC 1
    and 5); at this budget hard labels are as good, so it is not asserted here."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from labelwise.learn.estimators import NoisyLabelClassifier
    from tests.learn.hello_experiment import run_arms

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0,
                                          stratify=y)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        teacher = NoisyLabelClassifier(hidden=(256,), epochs=10, random_state=0).fit(Xtr, ytr)
        row = run_arms(Xtr, ytr, Xte, yte, teacher.model_, ipc=5, ranks=(0, 4), refine_ranks=(), epochs=100,
                       projector_epochs=5, seed=0)
    finally:
        torch.set_num_threads(before)
    assert row["heavy_bytes"] == 100 * 50 * 10 * 2
    assert row["rank4_bytes"] < 0.02 * row["heavy_bytes"], row
    assert abs(row["rank4_acc"] - row["heavy_acc"]) <= 0.03, row
    assert row["rank4_agree"] > row["head_agree"], row


def test_refined_rows_store_a_prototype_head_but_not_a_given_one():
    """The experiment's accounting: prototypes of the rows before refinement cannot be recomputed from the refined
    rows, so the refined arm stores them (K x d float16); a head given from class names stays free."""
    from tests.learn.hello_experiment import run_arms

    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.arange(60) % 3
    X[np.arange(60), y] += 3.0
    teacher = torch.nn.Linear(4, 3)
    kw = dict(ipc=2, ranks=(1,), refine_ranks=(1,), epochs=1, projector_epochs=1, refine_steps=1)
    row = run_arms(X, y, X, y, teacher, **kw)
    assert row["rank1_refined_bytes"] == row["rank1_bytes"] + 3 * 4 * 2
    given = run_arms(X, y, X, y, teacher, head=np.eye(3, 4, dtype=np.float32), **kw)
    assert given["rank1_refined_bytes"] == given["rank1_bytes"]
