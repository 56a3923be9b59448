"""FILTER's fusion encoder (paper 17): shapes, padding, per-segment positions, shared weights, and the tagger's
fitting contract (determinism, validation, teachers of every kind)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn.fusion_encoder import FusionEncoder, FusionTagger  # noqa: E402
from labelwise.testing.parallel_tags import parallel_tags  # noqa: E402


def _encoder(m=1, k=1, n_layers=3, task="tagging"):
    torch.manual_seed(0)
    return FusionEncoder(30, 5, d_model=16, n_layers=n_layers, m=m, k=k, n_heads=2, dropout=0.0, task=task).eval()


def _ids(rows):
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [0] * (width - len(r)) for r in rows])


def test_shapes_for_tagging_classification_and_target_only():
    src, tgt = _ids([[3, 4, 5], [6, 7, 0]]), _ids([[8, 9, 10, 11], [12, 13, 14, 0]])
    with torch.no_grad():
        zs, zt = _encoder()(src, tgt)
        assert zs.shape == (2, 3, 5) and zt.shape == (2, 4, 5)
        zs, zt = _encoder(task="classification")(src, tgt)
        assert zs.shape == (2, 5) and zt.shape == (2, 5)
        zs, zt = _encoder()(None, tgt)
        assert zs is None and zt.shape == (2, 4, 5)


def test_padding_changes_nothing_in_either_segment():
    enc = _encoder()
    src, tgt = _ids([[3, 4, 5]]), _ids([[8, 9, 10, 11]])
    with torch.no_grad():
        zs, zt = enc(src, tgt)
        # the same pair padded by 3 source and 2 target tokens, batched with a longer pair
        zs2, zt2 = enc(_ids([[3, 4, 5], [6, 7, 8, 9, 10, 11]]), _ids([[8, 9, 10, 11], [12, 13, 14, 15, 16, 17]]))
    assert torch.allclose(zs[0], zs2[0, :3], atol=1e-5)
    assert torch.allclose(zt[0], zt2[0, :4], atol=1e-5)


def test_positions_restart_per_segment_and_weights_are_shared():
    # shared weights + positions from 0 in each segment + no segment embedding: swapping the two segments swaps
    # the outputs exactly (with positions running on into the second segment it would not)
    enc = _encoder(k=1)
    a, b = _ids([[3, 4, 5, 6]]), _ids([[7, 8, 9]])
    with torch.no_grad():
        za, zb = enc(a, b)
        zb2, za2 = enc(b, a)
    assert torch.allclose(za, za2, atol=1e-5) and torch.allclose(zb, zb2, atol=1e-5)
    # without fusion (m = n_layers) each segment is encoded alone: the target's output is its target-only output
    local = _encoder(m=3, k=0)
    with torch.no_grad():
        assert torch.allclose(local(a, b)[1], local(None, b)[1], atol=1e-5)
        assert torch.allclose(local(_ids([[20, 21]]), b)[1], local(a, b)[1], atol=1e-5)


def test_fusion_layers_let_the_source_reach_the_target():
    enc = _encoder(k=1)
    b = _ids([[7, 8, 9]])
    with torch.no_grad():
        assert not torch.allclose(enc(_ids([[3, 4]]), b)[1], enc(_ids([[20, 21]]), b)[1], atol=1e-4)


def test_bad_layer_split_and_task_are_parameter_errors():
    with pytest.raises(ParameterError, match="m \\+ k <= n_layers"):
        FusionEncoder(10, 3, n_layers=2, m=2, k=1)
    with pytest.raises(ParameterError, match="task"):
        FusionEncoder(10, 3, task="qa")


# ------------------------------------------------------------------------------------------------ the estimator
@pytest.fixture(scope="module")
def small():
    return parallel_tags(60, random_state=5)


def _tagger(**kw):
    return FusionTagger(**{"d_model": 16, "n_heads": 2, "n_layers": 2, "epochs": 2, "random_state": 0, **kw})


def test_fit_is_reproducible_and_predicts_target_shapes(small):
    a = _tagger().fit(small.source_ids, small.target_ids, small.source_tags, small.projected_tags)
    b = clone(a).fit(small.source_ids, small.target_ids, small.source_tags, small.projected_tags)
    pa, pb = a.predict_proba(small.source_ids, small.target_ids), b.predict_proba(small.source_ids, small.target_ids)
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb))
    assert [p.shape for p in pa] == [(len(t), 9) for t in small.target_ids]
    assert all(np.allclose(p.sum(1), 1) for p in pa)
    pred = a.predict(small.source_ids, small.target_ids)
    assert all(np.array_equal(p, q.argmax(1)) for p, q in zip(pred, pa))
    c = _tagger(random_state=1).fit(small.source_ids, small.target_ids, small.source_tags, small.projected_tags)
    assert not all(np.array_equal(x, y) for x, y in zip(pa, c.predict_proba(small.source_ids, small.target_ids)))
    restored = pickle.loads(pickle.dumps(a))
    assert all(np.array_equal(x, y) for x, y in zip(pa, restored.predict_proba(small.source_ids, small.target_ids)))


def test_unseen_ids_become_unknown_and_extra_padding_changes_nothing(small):
    m = _tagger().fit(small.source_ids, small.target_ids, small.source_tags, small.projected_tags)
    alone = m.predict_proba(small.source_ids[:1], small.target_ids[:1])[0]
    with_long = m.predict_proba([small.source_ids[0], np.arange(40)], [small.target_ids[0], np.arange(30)])[0]
    assert np.allclose(alone, with_long, atol=1e-5)
    assert m.predict([[10**6]], [[10**6, 10**6 + 1]])[0].shape == (2,)


def test_translate_train_mode_takes_no_source(small):
    m = _tagger().fit(None, small.target_ids, None, small.projected_tags)
    assert not m.uses_source_
    assert len(m.predict(None, small.target_ids)) == len(small)
    with pytest.raises(ShapeError, match="source_ids=None"):
        m.predict(small.source_ids, small.target_ids)


def test_validation_errors_are_one_line(small):
    s, t, st, tt = small.source_ids, small.target_ids, small.source_tags, small.projected_tags
    with pytest.raises(NotFittedError):
        _tagger().predict(s, t)
    with pytest.raises(ShapeError, match=r"target_tags\[0\] has"):
        _tagger().fit(s, t, st, [x[:-1] for x in tt])
    with pytest.raises(ShapeError, match="source_ids has 59 sentences"):
        _tagger().fit(s[:-1], t, st, tt)
    with pytest.raises(ParameterError, match="needs a teacher"):
        _tagger(alpha=0.5).fit(s, t, st, tt)
    with pytest.raises(ParameterError, match="alpha"):
        _tagger(alpha=1.5, teacher=[]).fit(s, t, st, tt)
    with pytest.raises(ShapeError, match="teacher's scores for sentence 0"):
        _tagger(alpha=0.5, teacher=[np.full((len(x), 3), 1 / 3) for x in t]).fit(s, t, st, tt)
    with pytest.raises(ParameterError, match="not probabilities"):
        _tagger(alpha=0.5, teacher=[np.full((len(x), 9), 0.5) for x in t]).fit(s, t, st, tt)
    with pytest.raises(ShapeError, match="n_tags=3"):
        _tagger(n_tags=3).fit(s, t, st, tt)
    with pytest.raises(ShapeError, match="sequence of token-id arrays"):
        _tagger().fit(s, "x", st, tt)


def test_soft_labels_alone_teach_a_rule():
    # alpha = 1, no hard target tags: the teacher's probabilities (here one-hot of "even id -> tag 1") are all the
    # supervision (target-only encoder, no source); the tagger learns the rule on targets it never saw
    rng = np.random.default_rng(0)
    tgt = [rng.integers(1, 20, rng.integers(3, 7)) for _ in range(150)]
    soft = [np.eye(2)[(x % 2 == 0).astype(int)] for x in tgt]
    m = FusionTagger(d_model=16, n_heads=2, n_layers=2, epochs=15, lr=5e-3, alpha=1.0, teacher=soft, n_tags=2,
                     random_state=0).fit(None, tgt, None, None)
    new = [rng.integers(1, 20, 6) for _ in range(30)]
    pred = np.concatenate(m.predict(None, new))
    assert (pred == (np.concatenate(new) % 2 == 0)).mean() > 0.95


def test_a_fitted_tagger_and_its_probabilities_are_the_same_teacher(small):
    s, t, st, tt = small.source_ids, small.target_ids, small.source_tags, small.projected_tags
    teacher = _tagger().fit(s, t, st, tt)
    via_model = _tagger(alpha=0.5, teacher=teacher).fit(s, t, st, tt)
    via_probs = _tagger(alpha=0.5, teacher=teacher.predict_proba(s, t)).fit(s, t, st, tt)
    for x, y in zip(via_model.predict_proba(s, t), via_probs.predict_proba(s, t)):
        assert np.allclose(x, y, atol=1e-4)
    # an ensemble of one teacher twice is that teacher
    twice = _tagger(alpha=0.5, teacher=[teacher, teacher]).fit(s, t, st, tt)
    for x, y in zip(via_model.predict_proba(s, t), twice.predict_proba(s, t)):
        assert np.allclose(x, y, atol=1e-6)
