"""labelwise.learn.unlearn: LAF's losses by hand, the attack on known members, the model left untouched, any module
split by attribute, and the notes' claim (section 19.4) on digits at a small budget (tests/learn/laf_experiment.py;
full size: bench/laf_unlearning.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.unlearn import (LabelAgnosticForgetting, SplitMLP, alignment_loss, extractor_unlearning_loss,
                                     fit_classifier, membership_inference, predict_proba, psi, random_labels)
from tests.learn.laf_experiment import Config, run


def test_psi_is_bounded_and_exact():
    r = torch.tensor([0.0, 1.0, 3.0, 1e6])
    assert torch.allclose(psi(r), torch.tensor([1.0, math.exp(0.5), math.exp(0.75), math.e]), atol=1e-5)


def test_extractor_unlearning_loss_by_hand():
    loss = extractor_unlearning_loss(torch.tensor([0.0, 1.0]), torch.tensor([3.0]))
    assert loss.item() == pytest.approx(1 + math.exp(0.5) - math.exp(0.75), abs=1e-6)


def test_alignment_loss_by_hand():
    e_r, e0_r = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    e_u, e0_u = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    d_r = np.array([0.0, 1 - 1 / math.sqrt(2)])
    d_u = np.array([1.0, 0.0])
    T = 5.0
    expected = (d_r - math.log(np.exp(d_u / T).sum())).sum()  # T divides the forget term only
    assert alignment_loss(e_r, e0_r, e_u, e0_u, T).item() == pytest.approx(expected, abs=1e-6)


def test_membership_inference_tells_confident_members_from_unsure_rows():
    rng = np.random.default_rng(0)

    def probs(top, n):
        p = np.full((n, 4), 0.0)
        p[:, 0] = np.clip(top + rng.normal(0, 0.02, n), 0.3, 0.999)
        p[:, 1:] = ((1 - p[:, 0]) / 3)[:, None]
        return p

    members, unseen = probs(0.98, 200), probs(0.7, 200)
    rate_members, rate_unseen, auc = membership_inference(members, unseen, probs(0.98, 50))
    assert rate_members > 0.9 and rate_unseen < 0.1 and auc > 0.95
    assert membership_inference(members, unseen, probs(0.7, 50))[0] < 0.1
    with pytest.raises(ShapeError):
        membership_inference(members[:3], unseen, members)


def test_random_labels_moves_the_forget_row_to_another_class_and_keeps_the_rest():
    X = np.eye(4, dtype=np.float32)
    y = np.arange(4)
    net = fit_classifier(SplitMLP(4, 4, (16,), ()), X, y, epochs=100, lr=1e-2)
    relabelled = random_labels(net, X[:1], y[:1], X[1:], y[1:], 4, epochs=100, lr=1e-2)
    assert predict_proba(net, X).argmax(1).tolist() == [0, 1, 2, 3]
    assert predict_proba(relabelled, X).argmax(1).tolist()[1:] == [1, 2, 3]
    assert predict_proba(relabelled, X[:1]).argmax() != 0
    with pytest.raises(ParameterError, match="n_classes >= 2"):  # not numpy's 'high <= 0'
        random_labels(net, X[:1], y[:1], X[1:], y[1:], 1)
    with pytest.raises(ParameterError, match="y_forget in 0-3"):
        random_labels(net, X[:1], [4], X[1:], y[1:], 4)


class _UserModel(torch.nn.Module):
    """A user's own model: the extractor and the head under other names, the extractor nested."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Module()
        self.backbone.features = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.classifier(self.backbone.features(x))


def test_laf_changes_only_a_copy_of_the_extractor_of_any_module():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    model = fit_classifier(_UserModel(), X, y, epochs=20, lr=1e-2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    laf = LabelAgnosticForgetting(extractor="backbone.features", head="classifier", epochs=2, vae_epochs=3,
                                  batch_size=16)
    new = laf.fit_transform(model, X[:20], X[20:])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the input model untouched
    assert torch.equal(new.classifier.weight, model.classifier.weight)  # LAF moves the extractor only
    assert not torch.equal(new.backbone.features[0].weight, model.backbone.features[0].weight)
    again = LabelAgnosticForgetting(extractor="backbone.features", head="classifier", epochs=2, vae_epochs=3,
                                    batch_size=16).fit_transform(model, X[:20], X[20:])
    assert torch.equal(again.backbone.features[0].weight, new.backbone.features[0].weight)  # same seed, same model
    refit = laf.refit_head(new, X[20:40], y[20:40], epochs=3)
    assert torch.equal(refit.backbone.features[0].weight, new.backbone.features[0].weight)
    assert not torch.equal(refit.classifier.weight, new.classifier.weight)
    with pytest.raises(ParameterError, match="no submodule 'encoder'"):
        LabelAgnosticForgetting().fit_transform(model, X[:20], X[20:])
    with pytest.raises(ShapeError):
        laf.fit_transform(model, X[:20, :5], X[20:])


SMALL = Config(epochs=30, laf_epochs=4, vae_epochs=15, n_classes_limit=5)


@pytest.mark.slow
def test_laf_forgets_a_class_without_labels_and_keeps_the_rest():
    """The notes' task A at a small budget (digits 0-4): LAF drives the forgotten class's test accuracy to about
    chance or below, keeps the other classes within 3 points, and forgets far more than the label-free naive
    baseline (fine-tuning on the model's own pseudo-labels), which barely forgets."""
    r = run("class", 0, SMALL, methods=("original", "pseudo_finetune", "laf"))
    orig, laf, naive = r["original"], r["laf"], r["pseudo_finetune"]
    assert orig["test_accuracy_forgotten"] > 0.95
    assert laf["test_accuracy_forgotten"] <= 0.1 and laf["forget_accuracy"] <= 0.1
    assert laf["test_accuracy_retained"] >= orig["test_accuracy_retained"] - 0.03
    assert naive["test_accuracy_forgotten"] >= 0.8
