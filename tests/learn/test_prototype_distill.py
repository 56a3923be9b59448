"""PrototypeDistiller (CLIP2Scene, paper 36): exact loss terms, the self-training switch, frozen prototypes, and a
student that learns a teacher's labels from another view of the same items."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn.prototype_distill import (PrototypeDistiller, alignment_loss, prototype_logits,  # noqa: E402
                                               semantic_consistency_loss, switchable_targets)

PROTOS = torch.tensor([[1.0, 0.0], [0.0, 1.0]])


def test_prototype_logits_are_cosines_over_tau():
    g = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    expected = torch.tensor([[1.0, 0.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]]) / 0.5
    assert torch.allclose(prototype_logits(g, PROTOS * 4, tau=0.5), expected)


def test_semantic_consistency_loss_exact():
    g = torch.tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    # cosines [[1, 0], [0, 1]]: each row's CE is log(1 + exp(-1 / tau)); the third row (-1) is left out
    targets = torch.tensor([0, 1, -1])
    assert semantic_consistency_loss(g, PROTOS, targets, tau=1.0).item() == pytest.approx(math.log1p(math.exp(-1)))
    assert semantic_consistency_loss(g, PROTOS, targets, tau=0.5).item() == pytest.approx(math.log1p(math.exp(-2)))
    wrong = torch.tensor([1, 0, -1])  # both rows on the other prototype: log(1 + exp(1 / tau))
    assert semantic_consistency_loss(g, PROTOS, wrong, tau=1.0).item() == pytest.approx(math.log1p(math.e))
    assert semantic_consistency_loss(g, PROTOS, torch.tensor([-1, -1, -1])).item() == 0.0


def test_alignment_loss_exact():
    g = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert alignment_loss(g, f).item() == pytest.approx((0.0 + (1 - 1 / math.sqrt(2))) / 2)


def test_switchable_targets():
    teacher = torch.tensor([2, -1, 0])
    logits = torch.tensor([[0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert switchable_targets(teacher, logits, self_training=False, switch=True).tolist() == [2, -1, 0]
    assert switchable_targets(teacher, logits, self_training=True, switch=False).tolist() == [2, 0, 0]  # unpaired row
    assert switchable_targets(teacher, logits, self_training=True, switch=True).tolist() == [1, 0, 2]  # student's own


def _views(n=600, seed=0):
    """Three classes; the teacher sees them through noisy prototypes, the student through another noisy view."""
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(3, 16))
    y = rng.integers(0, 3, n)
    teacher = P[y] + 0.9 * rng.normal(size=(n, 16))  # a teacher that is right on most rows, not all
    student = np.c_[np.eye(3)[y] @ rng.normal(size=(3, 6)) + 0.4 * rng.normal(size=(n, 6)), rng.normal(size=(n, 4))]
    return P, y, teacher, student


def test_student_learns_the_teachers_labels_from_its_own_view():
    P, y, T, X = _views()
    teacher_labels = (T @ (P / np.linalg.norm(P, axis=1, keepdims=True)).T).argmax(1)  # the nearest prototype
    model = PrototypeDistiller(P, hidden=32, epochs=15, batch_size=64, random_state=0).fit(X[:400], T[:400])
    assert np.array_equal(model.teacher_labels_, teacher_labels[:400])
    held = model.predict(X[400:])
    assert (held == teacher_labels[400:]).mean() > 0.8
    assert (held == y[400:]).mean() >= (teacher_labels[400:] == y[400:]).mean() - 0.1  # near the teacher, unlabelled
    proba = model.predict_proba(X[400:])
    assert proba.shape == (200, 3) and np.allclose(proba.sum(1), 1) and np.array_equal(proba.argmax(1), held)
    emb = model.transform(X[400:])
    assert emb.shape == (200, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    # the same seed gives the same student
    again = PrototypeDistiller(P, hidden=32, epochs=15, batch_size=64, random_state=0).fit(X[:400], T[:400])
    assert np.array_equal(again.transform(X[400:]), emb)


def test_prototypes_stay_frozen_and_untouched():
    P, _, T, X = _views(200)
    given = P.copy()
    model = PrototypeDistiller(P, hidden=16, epochs=2, random_state=0).fit(X, T)
    assert np.array_equal(P, given)
    assert np.allclose(model.prototypes_, P / np.linalg.norm(P, axis=1, keepdims=True))
    assert all(p.shape != (3, 16) for p in model.model_.parameters())  # no trainable copy of the prototypes


def test_self_training_switches_on_only_after_the_warm_up():
    P, _, T, X = _views(200)
    on = PrototypeDistiller(P, hidden=16, epochs=6, batch_size=20, self_training=True, self_train_after=0.5,
                            self_train_prob=0.5, random_state=0).fit(X, T)
    switched = [h["switched"] for h in on.history_]
    assert switched[:3] == [0.0, 0.0, 0.0] and 0 < np.mean(switched[3:]) < 1
    off = PrototypeDistiller(P, hidden=16, epochs=6, batch_size=20, self_training=False, random_state=0).fit(X, T)
    assert all(h["switched"] == 0.0 for h in off.history_)
    no_align = PrototypeDistiller(P, hidden=16, epochs=2, lambda_align=0.0, random_state=0).fit(X, T)
    assert all(h["alignment"] == 0.0 for h in no_align.history_)


def test_rows_without_a_teacher_feature_are_left_out():
    P, _, T, X = _views(100)
    T[:10] = np.nan
    model = PrototypeDistiller(P, hidden=8, epochs=1, random_state=0).fit(X, T)
    assert (model.teacher_labels_[:10] == -1).all() and (model.teacher_labels_[10:] >= 0).all()
    labels_only = PrototypeDistiller(P, hidden=8, epochs=1, lambda_align=0.0, random_state=0)
    labels_only.fit(X, teacher_labels=np.zeros(100, dtype=int))
    assert labels_only.predict(X).shape == (100,)


def test_input_errors():
    P, _, T, X = _views(50)
    with pytest.raises(ShapeError, match="teacher_feats must be"):
        PrototypeDistiller(P).fit(X, T[:, :5])
    with pytest.raises(ShapeError, match="prototypes must be"):
        PrototypeDistiller(P[:1]).fit(X, T)
    with pytest.raises(ParameterError, match="lambda_align > 0 needs teacher_feats"):
        PrototypeDistiller(P).fit(X, teacher_labels=np.zeros(50, dtype=int))
    with pytest.raises(ShapeError, match="teacher_labels must be"):
        PrototypeDistiller(P, lambda_align=0).fit(X, teacher_labels=np.full(50, 3))
    with pytest.raises(ParameterError, match="tau"):
        PrototypeDistiller(P, tau=0).fit(X, T)
    model = PrototypeDistiller(P, hidden=8, epochs=1, random_state=0).fit(X, T)
    with pytest.raises(ShapeError, match="features"):
        model.predict(X[:, :3])
