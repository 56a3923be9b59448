"""LaSO (paper 35): the label algebra, the analytic priors, pair sampling, augmentation, and the notes' redesigned
check on digit mosaics (self-supervised backbone, LaSO trained on seen digits only, compared with the prior)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn import (  # noqa: E402
    LaSO,
    LaSOAugmenter,
    LaSOClassifier,
    LinearProbe,
    SoftConPretrainer,
    analytic_set_op,
    label_set_op,
)
from labelwise.learn.laso import _sample_pairs  # noqa: E402
from labelwise.testing.mosaics import digit_mosaics, load_digit_pool, split_digits  # noqa: E402


def test_label_algebra_exact():
    ya = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
    yb = np.array([[0, 1, 1, 0], [1, 0, 0, 0]])
    assert label_set_op(ya, yb, "union").tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert label_set_op(ya, yb, "intersection").tolist() == [[0, 1, 0, 0], [0, 0, 0, 0]]
    assert label_set_op(ya, yb, "subtraction").tolist() == [[1, 0, 0, 0], [0, 0, 0, 0]]
    assert label_set_op(yb, ya, "subtraction").tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    with pytest.raises(ParameterError):
        label_set_op(ya, yb, "xor")
    with pytest.raises(ShapeError):
        label_set_op(ya, yb[:, :3], "union")


def test_priors_exact_and_untrained_laso_is_the_prior():
    a = np.array([[1.0, 0.0, 2.0], [0.5, 3.0, 0.0]], dtype=np.float32)
    b = np.array([[0.0, 1.0, 1.0], [1.5, 1.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(analytic_set_op(a, b, "union"), a + b)
    np.testing.assert_array_equal(analytic_set_op(a, b, "intersection"), [[0, 0, 1], [0.5, 1, 0]])
    np.testing.assert_array_equal(analytic_set_op(a, b, "subtraction"), [[1, 0, 1], [0, 2, 0]])
    np.testing.assert_array_equal(analytic_set_op(torch.tensor(a), torch.tensor(b), "subtraction").numpy(),
                                  [[1, 0, 1], [0, 2, 0]])
    torch.manual_seed(0)
    laso = LaSO(3)
    for op in ("union", "intersection", "subtraction"):
        np.testing.assert_allclose(laso.synthesize(a, b, op), analytic_set_op(a, b, op), atol=1e-6)


def test_pair_sampling():
    rng = np.random.default_rng(0)
    T = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0], [0, 1, 0]])
    ia, ib = _sample_pairs(T, 300, "overlap", rng)
    assert (ia != ib).all()
    shares = (T[ia] & T[ib]).any(1)
    assert shares[T[ia].any(1)].all()  # every row with a label is paired with a row sharing one
    # "rare": rows drawn in proportion to 1 / count of their rarest label (unlabelled rows: the smallest weight)
    R = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [1, 1], [0, 0]])  # label 0 in 5 rows, label 1 in row 4 only
    ia, _ = _sample_pairs(R, 20000, "rare", rng)
    share = np.bincount(ia, minlength=6) / 20000
    np.testing.assert_allclose(share, np.array([1, 1, 1, 1, 5, 1]) / 10, atol=0.015)


def test_augmenter_labels_and_prior_features():
    rng = np.random.default_rng(1)
    X = rng.random((12, 5)).astype(np.float32)
    Y = (rng.random((12, 4)) < 0.4).astype(int)
    aug = LaSOAugmenter("prior", op="intersection", n_pairs=30, pair_sampler="overlap", random_state=0)
    Xg, Yg = aug.fit_resample(X, Y)
    assert Xg.shape == (42, 5) and Yg.shape == (42, 4)
    np.testing.assert_array_equal(Xg[:12], X)
    ia, ib = aug.pairs_.T
    np.testing.assert_array_equal(Yg[12:], label_set_op(Y[ia], Y[ib], "intersection"))
    np.testing.assert_allclose(Xg[12:], np.minimum(X[ia], X[ib]))
    with pytest.raises(ParameterError):
        LaSOAugmenter("laso").fit_resample(X, Y)


def test_classifier_contract():
    rng = np.random.default_rng(2)
    X = rng.random((80, 6)).astype(np.float32)
    Y = (X[:, :3] > 0.6).astype(int)
    kw = dict(laso_epochs=2, n_pairs=40, random_state=0, n_threads=1)
    clf = LaSOClassifier(**kw).fit(X, Y)
    P = clf.predict_proba(X)
    assert P.shape == (80, 3) and ((P >= 0) & (P <= 1)).all()
    state = torch.random.get_rng_state()
    np.testing.assert_allclose(LaSOClassifier(**kw).fit(X, Y).predict_proba(X), P)  # random_state repeats
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X), P)
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    with pytest.raises(NotFittedError):
        LaSOClassifier().predict(X)
    with pytest.raises(ShapeError):
        clf.predict_proba(X[:, :4])


def _map(Y, P):
    keep = Y.sum(0) > 0
    return average_precision_score(Y[:, keep], P[:, keep], average="macro")


@pytest.mark.slow
def test_set_operations_against_the_prior_and_one_shot_augmentation():
    """The notes' redesigned check at a smaller size, one seed: InfoNCE backbone on all-digit mosaics (no labels),
    LaSO trained with the seen digits 0-6 only; an oracle probe on real features of held-out mosaics scores the
    synthesised vectors. bench/laso.py (3 seeds) measured labelwise's LaSO - prior on seen labels +0.002 (union),
    +0.020 (intersection), -0.001 (subtraction), unseen ratios 0.99 (union, intersection); the paper's block without
    the anchor and prior penalty keeps 0.48 / 0.21 of the prior's unseen mAP. 1-shot augmentation does not
    reproduce: LaSO union -0.025 mAP vs real only, analytic union +0.002."""
    _, digits = load_digit_pool()
    pools = split_digits((0.6, 0.4), seed=0)
    backbone = SoftConPretrainer(pool="max", epochs=15, random_state=0, n_threads=1).fit(
        digit_mosaics(2000, pool=pools[0], seed=0).patches)
    train = digit_mosaics(1500, pool=pools[0][digits[pools[0]] < 7], seed=1)
    F_train = backbone.transform(train.patches)
    torch.manual_seed(0)
    laso = LaSO(64).fit(F_train, train.Y[:, :7], epochs=10, random_state=0)
    paper = LaSO(64, anchor=False).fit(F_train, train.Y[:, :7], epochs=10, w_prior=0.0, random_state=0)
    ev = digit_mosaics(2000, pool=pools[1], seed=2)
    F_ = backbone.transform(ev.patches)
    oracle = LinearProbe().fit(F_[:1000], ev.Y[:1000])
    Fq, Yq = F_[1000:], ev.Y[1000:]
    rng = np.random.default_rng(0)
    for op in ("union", "intersection", "subtraction"):
        ia, ib = _sample_pairs(Yq, 1500, "overlap" if op == "intersection" else "uniform", rng)
        target = label_set_op(Yq[ia], Yq[ib], op)
        scores = {}
        for name, feats in (("laso", laso.synthesize(Fq[ia], Fq[ib], op)),
                            ("paper", paper.synthesize(Fq[ia], Fq[ib], op)),
                            ("prior", analytic_set_op(Fq[ia], Fq[ib], op)), ("a", Fq[ia])):
            P = oracle.predict_proba(feats)
            scores[name] = np.array([_map(target[:, :7], P[:, :7]), _map(target[:, 7:], P[:, 7:])])
        assert scores["prior"][0] > scores["a"][0] + 0.05, (op, scores)  # the operation does something
        assert scores["laso"][0] >= scores["prior"][0] - 0.01, (op, scores)  # seen: at least the prior
        if op != "subtraction":
            assert scores["laso"][1] >= 0.9 * scores["prior"][1], (op, scores)  # unseen: transfers
        assert scores["paper"][1] < 0.8 * scores["prior"][1], (op, scores)  # unanchored: loses the unseen labels
    # 1-shot on the unseen digits: real rows alone, + 200 LaSO-union rows, + 200 analytic-union rows
    result = {"real": [], "laso": [], "prior": []}
    for ep in range(10):
        r = np.random.default_rng(ep)
        rows = np.unique([r.choice(np.flatnonzero(ev.Y[:1000, d])) for d in (7, 8, 9)])
        Xs, Ys = F_[rows], ev.Y[rows][:, 7:]
        for name, aug in (("real", None), ("laso", laso), ("prior", "prior")):
            Xg, Yg = (Xs, Ys) if aug is None else LaSOAugmenter(aug, n_pairs=200, random_state=ep).fit_resample(Xs, Ys)
            result[name].append(_map(ev.Y[1000:, 7:], LinearProbe().fit(Xg, Yg).predict_proba(F_[1000:])))
    mean = {k: float(np.mean(v)) for k, v in result.items()}
    chance = ev.Y[1000:, 7:].mean()  # a constant score's AP is the label's prevalence (about 0.25)
    assert mean["real"] > chance  # this backbone gives little more in 1-shot (bench/laso.py: 0.345 with a larger one)
    # what is true here (the notes' "LaSO-union >= real only" is not): the analytic union is at least as good
    assert mean["prior"] >= mean["laso"] - 0.01, mean


def test_signed_features_get_no_output_relu():
    """Sentence embeddings are signed: a LaSO fitted by the augmenter then has no output ReLU, and its union rows
    keep negative coordinates."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 8)).astype(np.float32)
    Y = (X[:, :2] > 0).astype(int)
    aug = LaSOAugmenter(n_pairs=20, laso_epochs=1, random_state=0)
    Xg, Yg = aug.fit_resample(X, Y)
    assert aug.laso_.nets["union"].out_activation == "none"
    assert np.isfinite(Xg).all() and (Xg[40:] < 0).any()
    ia, ib = aug.pairs_.T
    np.testing.assert_array_equal(Yg[40:], Y[ia] | Y[ib])
