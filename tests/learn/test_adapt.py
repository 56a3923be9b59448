"""labelwise.learn.adapt: priors, the closed-form correction, the streaming prior estimate, the label shift adapter,
TENT and the streaming wrappers, on exact cases (Bayes' rule on known Gaussians, identities by construction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from torch import nn

from labelwise.audit.label_shift import mlls
from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.adapt import (
    LabelShiftAdapter,
    LabelShiftClassifier,
    LabelShiftTTA,
    StreamingPriorEstimator,
    adjust_proba,
    configure_tent,
    fit_label_shift_adapter,
    logit_adjust,
    long_tailed_prior,
    sample_long_tailed_prior,
)
from labelwise.learn.adapt.hypernetwork import adapted_logits

MEANS = np.array([-2.0, 0.0, 2.0])  # three classes, 1-D unit Gaussians: the posteriors are known exactly


def gaussian_logits(x: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(n, 3) exact log p(x, y) = log N(x; mean_y, 1) + log prior(y) (up to a constant per row)."""
    return -0.5 * (x[:, None] - MEANS) ** 2 + np.log(prior)


def gaussian_stream(prior: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(3, size=n, p=prior)
    return MEANS[y] + rng.normal(size=n), y


def test_long_tailed_prior_exact():
    np.testing.assert_allclose(long_tailed_prior(3, 4.0), np.array([1.0, 0.5, 0.25]) / 1.75)
    np.testing.assert_allclose(long_tailed_prior(3, 4.0, order=[2, 0, 1]), np.array([0.5, 0.25, 1.0]) / 1.75)
    prior = long_tailed_prior(10, 50.0)
    assert prior.max() / prior.min() == pytest.approx(50.0)
    np.testing.assert_allclose(long_tailed_prior(4, 1.0), np.full(4, 0.25))
    with pytest.raises(ParameterError):
        long_tailed_prior(3, 0.5)


def test_sampled_priors_cover_orders_and_ratios():
    rng = np.random.default_rng(0)
    draws = np.array([sample_long_tailed_prior(5, rng, rho_max=100.0) for _ in range(400)])
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    ratios = draws.max(axis=1) / draws.min(axis=1)
    assert ratios.max() <= 100.0 + 1e-9 and np.mean(np.isclose(ratios, 1.0)) > 0.1  # uniform ones too
    assert set(draws.argmax(axis=1)[ratios > 2]) == set(range(5))  # every class is sometimes the head


def test_logit_adjust_is_bayes_rule_with_the_new_prior():
    rng = np.random.default_rng(1)
    x = rng.normal(size=50) * 3
    source, target = np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.2, 0.7])
    adjusted = softmax(logit_adjust(gaussian_logits(x, source), target, source), axis=1)
    np.testing.assert_allclose(adjusted, softmax(gaussian_logits(x, target), axis=1), atol=1e-12)
    probs = softmax(gaussian_logits(x, source), axis=1)
    np.testing.assert_allclose(adjust_proba(probs, target, source), adjusted, atol=1e-12)


def test_streaming_estimate_without_momentum_is_mlls_of_the_batch():
    rng = np.random.default_rng(2)
    source = np.array([0.5, 0.3, 0.2])
    x, _ = gaussian_stream(np.array([0.2, 0.2, 0.6]), 300, rng)
    probs = softmax(gaussian_logits(x, source), axis=1)
    estimator = StreamingPriorEstimator(source, momentum=0.0, floor=0.0)
    np.testing.assert_allclose(estimator.update(probs), mlls(probs, source), atol=1e-4)


@pytest.mark.parametrize("update", ["em", "online"])
def test_streaming_estimate_converges_to_the_true_prior(update):
    rng = np.random.default_rng(3)
    source, target = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.15, 0.75])
    estimator = StreamingPriorEstimator(source, momentum=0.9, update=update)
    for _ in range(150):
        x, _ = gaussian_stream(target, 64, rng)
        estimator.update(softmax(gaussian_logits(x, source), axis=1))
    assert np.abs(estimator.prior_ - target).sum() < 0.08
    assert len(estimator.history_) == 150
    assert np.abs(estimator.history_[0] - source).sum() < np.abs(estimator.history_[0] - target).sum()


def test_floor_keeps_an_absent_class_alive():
    source = np.array([0.5, 0.5])
    estimator = StreamingPriorEstimator(source, momentum=0.0)
    prior = estimator.update(np.tile([1.0, 0.0], (20, 1)))
    assert prior[1] == pytest.approx(1e-3 / 2, rel=1e-2)


def test_adapter_starts_as_the_identity():
    torch.manual_seed(0)
    head = nn.Linear(6, 4)
    h = torch.randn(5, 6)
    for rank in (0, 2):
        adapter = LabelShiftAdapter(4, 6, hidden=8, rank=rank)
        params = adapter(torch.tensor([0.7, 0.1, 0.1, 0.1]))
        torch.testing.assert_close(adapted_logits(h, head, params), head(h))
        batched = adapter(torch.full((3, 4), 0.25))
        assert batched["feat_scale"].shape == (3, 6) and batched["bias"].shape == (3, 4)
        if rank:
            assert batched["dW"].shape == (3, 4, 6)


def test_adapter_learns_the_prior_correction_of_a_bayes_model():
    """The model is the exact Bayes classifier under the source prior (one linear layer on (x, x^2)); the adapter's
    logits under a new prior must give the Bayes predictions under that prior, which the closed form gives exactly."""
    rng = np.random.default_rng(4)
    source = np.array([0.6, 0.3, 0.1])
    x, y = gaussian_stream(source, 3000, rng)
    head = nn.Linear(1, 3)
    with torch.no_grad():  # -0.5 (x - m)^2 + log p = m x - m^2 / 2 + log p (+ a term shared by the classes)
        head.weight.copy_(torch.tensor(MEANS[:, None], dtype=torch.float32))
        head.bias.copy_(torch.tensor(-MEANS**2 / 2 + np.log(source), dtype=torch.float32))
    model = nn.Sequential(head)
    adapter = fit_label_shift_adapter(model, head, x[:, None], y, source, steps=600, lr=3e-3, random_state=0)
    target = np.array([0.05, 0.25, 0.7])
    x_t, y_t = gaussian_stream(target, 2000, rng)
    with torch.no_grad():
        z = adapted_logits(torch.tensor(x_t[:, None], dtype=torch.float32), head,
                           adapter(torch.tensor(target, dtype=torch.float32))).numpy()
    bayes = gaussian_logits(x_t, target).argmax(axis=1)
    unadjusted = gaussian_logits(x_t, source).argmax(axis=1)
    assert np.mean(z.argmax(axis=1) == bayes) > 0.97
    assert np.mean(unadjusted == bayes) < 0.9  # the shift matters, so the agreement above is earned
    assert np.mean(z.argmax(axis=1) == y_t) > np.mean(unadjusted == y_t)


def bn_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).eval()


def test_tent_adapts_only_normalisation_affines_of_a_copy():
    model = bn_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tta = LabelShiftTTA(model, np.full(3, 1 / 3), method="tent", tent_lr=0.05)
    x = np.random.default_rng(5).normal(size=(32, 4))
    tta.update(x)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])  # the user's model is untouched
    changed = {k for k, v in tta.model.state_dict().items() if k in before and not torch.equal(v, before[k])}
    assert changed == {"1.weight", "1.bias"}
    assert [p.shape for p in configure_tent(bn_model())] == [torch.Size([8]), torch.Size([8])]


def test_tta_none_and_closed_form_are_exact():
    model = bn_model()
    source = np.array([0.5, 0.3, 0.2])
    x = np.random.default_rng(6).normal(size=(40, 4))
    with torch.no_grad():
        logits = model(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(LabelShiftTTA(model, source, method="none").update(x), softmax(logits, axis=1),
                               atol=1e-6)
    tta = LabelShiftTTA(model, source, method="closed_form")
    out = tta.update(x)
    np.testing.assert_allclose(out, softmax(logit_adjust(logits, tta.prior_, source), axis=1), atol=1e-5)
    assert tta.priors_.shape == (1, 3)
    with pytest.raises(ParameterError):
        LabelShiftTTA(model, source, method="adapter")
    with pytest.raises(ParameterError):
        LabelShiftTTA(nn.Sequential(nn.Linear(4, 3)), source, method="tent")


def test_label_shift_classifier_matches_the_closed_form_and_sklearn_conventions():
    rng = np.random.default_rng(7)
    source, target = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.1, 0.8])
    x, y = gaussian_stream(source, 600, rng)
    names = np.array(["a", "b", "c"])
    model = LogisticRegression().fit(np.c_[x, x**2], names[y])
    wrapper = LabelShiftClassifier(model, momentum=0.5)
    assert clone(wrapper).get_params()["momentum"] == 0.5
    wrapper.fit(np.c_[x, x**2], names[y])
    np.testing.assert_allclose(wrapper.source_prior_, np.bincount(y) / len(y))
    precomputed = LabelShiftClassifier("precomputed", classes=names, momentum=0.5)
    precomputed.fit(model.predict_proba(np.c_[x, x**2]), names[y])
    for _ in range(10):
        x_t, y_t = gaussian_stream(target, 100, rng)
        out = wrapper.update(np.c_[x_t, x_t**2])
        np.testing.assert_allclose(precomputed.update(model.predict_proba(np.c_[x_t, x_t**2])), out)
    assert np.abs(wrapper.prior_ - target).sum() < np.abs(wrapper.source_prior_ - target).sum() / 2
    assert np.mean(wrapper.predict(np.c_[x_t, x_t**2]) == names[y_t]) >= np.mean(model.predict(np.c_[x_t, x_t**2])
                                                                                 == names[y_t])
    assert wrapper.priors_.shape == (10, 3)
    with pytest.raises(ShapeError, match="'z'"):
        LabelShiftClassifier(model).fit(np.c_[x, x**2][:2], ["a", "z"])
    with pytest.raises(ShapeError, match="no row of class"):
        LabelShiftClassifier(model).fit(np.c_[x, x**2][:2], ["a", "a"])


def test_a_class_the_source_never_shows_stays_impossible():
    """A zero source prior gives -inf in the logit form (as adjust_proba gives 0), never +inf."""
    source, target = np.array([0.5, 0.5, 0.0]), np.array([0.3, 0.3, 0.4])
    logits = np.zeros((2, 3))
    adjusted = logit_adjust(logits, target, source)
    assert np.all(np.isneginf(adjusted[:, 2])) and np.all(np.isfinite(adjusted[:, :2]))
    np.testing.assert_allclose(softmax(adjusted, axis=1), adjust_proba(softmax(logits, axis=1), target, source))
    tta = LabelShiftTTA(bn_model(), source, method="closed_form")
    out = tta.update(np.random.default_rng(8).normal(size=(16, 4)))
    assert np.all(np.isfinite(out)) and np.all(out[:, 2] == 0.0)


def test_an_empty_or_broken_batch_does_not_poison_the_estimate():
    estimator = StreamingPriorEstimator(np.array([0.5, 0.5]), momentum=0.5)
    estimator.update(np.tile([0.9, 0.1], (8, 1)))
    before = estimator.prior_.copy()
    for update in ("em", "online"):
        estimator.update_rule = update
        np.testing.assert_allclose(estimator.update(np.empty((0, 2))), before)
    assert len(estimator.history_) == 3
    with pytest.raises(ShapeError, match="row 1"):
        estimator.update(np.array([[0.5, 0.5], [np.nan, 0.5]]))
    np.testing.assert_allclose(estimator.prior_, before)
    with pytest.raises(ParameterError, match="floor"):
        StreamingPriorEstimator(np.array([0.5, 0.5]), floor=0.6)


def test_label_shift_classifier_refits_checks_fitted_and_rejects_nan():
    from sklearn.exceptions import NotFittedError

    wrapper = LabelShiftClassifier()
    for method in ("predict", "predict_proba", "partial_fit", "update"):
        with pytest.raises(NotFittedError):
            getattr(wrapper, method)(np.full((2, 3), 1 / 3))
    wrapper.fit(np.full((3, 3), 1 / 3), [0, 1, 2])
    wrapper.fit(np.full((2, 2), 0.5), [0, 1])  # a new fit forgets the old classes
    assert wrapper.classes_.tolist() == [0, 1] and wrapper.priors_.shape == (0, 2)
    with pytest.raises(ShapeError, match="row 1"):
        wrapper.partial_fit(np.array([[0.5, 0.5], [np.nan, 0.5]]))
    with pytest.raises(ShapeError, match="row 0"):
        LabelShiftClassifier().fit(np.array([[np.inf, 0.5], [0.5, 0.5]]), [0, 1])
