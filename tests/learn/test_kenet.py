"""KeNet (paper 29): exact small cases on planted tokens, and the notes' claims on NLU++ BANKING ("mid" setting).

The NLU++ claims (notes §29.4), checked on one fold pair with a sample of the test folds (the full experiment,
three fold pairs and every test fold, is bench/kenet.py):
- label attention without knowledge "not worse than MiniLM sentence embeddings + one-vs-rest logistic regression"
  (micro-F1, the notes' pilot threshold 0.3 for the baseline) does NOT reproduce: bench/kenet.py measures KeNet
  0.047 below on average over three fold pairs (-0.021 to -0.077). The test asserts what holds: KeNet learns the
  intents (micro-F1 well above 0.5) and stays within 0.08 of the baseline;
- the attention of ``cancel_close_leave_freeze`` puts its mass on the verbs that carry the intent;
- the knowledge channel (a hand-written banking glossary, labelwise.testing.glossary) is an ablation: its effect is
  printed and only bounded below. It costs micro-F1 on NLU++ (the notes expected 0 to 2 points either way).
"""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import f1_score, roc_auc_score  # noqa: E402

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn import KeNetClassifier, KnowledgeRetriever  # noqa: E402
from labelwise.learn.attention import masked_softmax  # noqa: E402
from labelwise.token_states import TokenStates  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402

from .token_tasks import planted_tokens  # noqa: E402


@pytest.fixture(scope="module")
def planted():
    ts, Y, labels, where = planted_tokens()
    clf = KeNetClassifier(label_embeddings=labels, epochs=20, random_state=0, n_threads=1).fit(ts[:150], Y[:150])
    return ts, Y, labels, where, clf


def test_masked_softmax_gives_padding_nothing():
    scores = torch.tensor([[3.0, 1.0, 50.0], [0.0, 0.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    w = masked_softmax(scores, mask)
    e = np.exp([3.0, 1.0])
    np.testing.assert_allclose(w[0].detach().numpy(), [e[0] / e.sum(), e[1] / e.sum(), 0.0], rtol=1e-6)
    assert w[1].abs().sum() == 0  # a row without tokens attends to nothing (not NaN)
    w.sum().backward()
    assert torch.isfinite(scores.grad).all()


def test_learns_planted_tokens_and_attends_to_them(planted):
    ts, Y, _, where, clf = planted
    te = np.arange(150, 200)
    assert roc_auc_score(Y[te], clf.predict_proba(ts[te]), average="macro") > 0.95
    A = clf.attention(ts[te])
    assert A.shape == (50, 3, ts[te].states.shape[1])
    hits = [A[j, k].argmax() == where[i, k] for j, i in enumerate(te) for k in range(3) if Y[i, k]]
    assert np.mean(hits) >= 0.9, np.mean(hits)


def test_padding_never_gets_attention_and_changes_nothing(planted):
    ts, _, _, _, clf = planted
    A = clf.attention(ts[:40])
    pad = ~ts[:40].mask
    assert (A[:, :, :][np.broadcast_to(pad[:, None, :], A.shape)] == 0).all()
    np.testing.assert_allclose(A.sum(axis=2), 1.0, atol=1e-5)
    # a row predicted alone (padded to its own length) scores as in a batch padded to a longer row
    short = int(np.argmin(ts.lengths[:40]))
    np.testing.assert_allclose(clf.predict_proba(ts[[short]])[0], clf.predict_proba(ts[:40])[short], atol=1e-5)
    # more padding columns of zeros change nothing either
    wide = TokenStates(np.pad(ts[:40].states, ((0, 0), (0, 5), (0, 0))), np.pad(ts[:40].mask, ((0, 0), (0, 5))))
    np.testing.assert_allclose(clf.predict_proba(wide), clf.predict_proba(ts[:40]), atol=1e-5)


def test_permuting_labels_permutes_outputs(planted):
    ts, Y, labels, _, clf = planted
    perm = [2, 0, 1]
    other = KeNetClassifier(label_embeddings=labels[perm], epochs=20, random_state=0, n_threads=1)
    other.fit(ts[:150], Y[:150][:, perm])
    np.testing.assert_allclose(other.predict_proba(ts[150:]), clf.predict_proba(ts[150:])[:, perm], atol=1e-5)
    np.testing.assert_allclose(other.attention(ts[150:]), clf.attention(ts[150:])[:, perm], atol=1e-5)


def test_knowledge_channel_and_contract(planted):
    ts, Y, labels, _, clf = planted
    # knowledge that holds the planted vector for label 0 only, and nothing (no tokens) on odd rows
    rng = np.random.default_rng(1)
    k_states = (0.5 * rng.normal(size=(len(ts), 2, ts.dim))).astype(np.float32)
    k_states[Y[:, 0] == 1, 0] = labels[0]
    k_mask = np.repeat((np.arange(len(ts)) % 2 == 0)[:, None], 2, axis=1)
    kts = TokenStates(k_states, k_mask)
    with_k = KeNetClassifier(label_embeddings=labels, epochs=20, random_state=0, n_threads=1)
    with_k.fit(ts[:150], Y[:150], knowledge=kts[:150])
    P = with_k.predict_proba(ts[150:], kts[150:])
    assert P.shape == (50, 3) and np.isfinite(P).all() and with_k.uses_knowledge_
    assert roc_auc_score(Y[150:], P, average="macro") > 0.95
    with pytest.raises(ParameterError):
        clf.predict_proba(ts[150:], kts[150:])  # fitted without knowledge
    with pytest.raises(ShapeError):
        with_k.fit(ts[:150], Y[:150], knowledge=kts[:100])
    with pytest.raises(NotFittedError):
        KeNetClassifier().predict_proba(ts)
    with pytest.raises(ShapeError):
        KeNetClassifier(label_embeddings=labels[:2]).fit(ts[:150], Y[:150])
    with pytest.raises(ShapeError):
        clf.predict_proba(np.zeros((3, 4, ts.dim + 1)))
    with pytest.raises(ParameterError):
        KeNetClassifier(threshold="best").fit(ts[:150], Y[:150])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(ts[150:]), clf.predict(ts[150:]))
    assert clf.predict(ts[150:]).dtype.kind == "i" and set(np.unique(clf.predict(ts[150:]))) <= {0, 1}


def test_knowledge_retriever_exact():
    kb = {"direct debit": "a company collects money", "standing order": "a fixed regular payment",
          "order": "a request", "overdraft": "borrowing on a current account", "pin": "a secret number"}
    r = KnowledgeRetriever(kb, k=3)
    text = "Cancel my direct debits and the Standing Order; overdrafts too, and my PIN."
    # longest first where terms overlap ("standing order" wins over "order"), text order, at most k
    assert r.matches(text) == ["direct debit", "standing order", "overdraft"]
    assert r(text)[1] == "standing order: a fixed regular payment"
    assert r("spinning around") == []  # whole words only
    assert KnowledgeRetriever(kb, k=5).matches("an order for a pin") == ["order", "pin"]
    assert r.texts(["nothing here", "my pin"]) == ["", "pin: a secret number"]
    with pytest.raises(ParameterError):
        KnowledgeRetriever({"x": 1})
    with pytest.raises(ParameterError):
        KnowledgeRetriever(kb, k=0)


# --------------------------------------------------------------------------------------------- NLU++ claims
INTENT_VERBS = re.compile(r"^(cancel\w*|clos\w*|freez\w*|froze\w*|leav\w*|stop\w*|block\w*)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def banking():
    from labelwise.data.nlupp import (intent_matrix, load_nlupp, load_nlupp_ontology, nlupp_intent_names,
                                      nlupp_splits)
    from labelwise.features import TextEncoder
    from labelwise.testing.glossary import BANKING_GLOSSARY

    root = shared_dataset("nlupp")
    table = load_nlupp(root, domains=("banking",))
    onto = load_nlupp_ontology(root)
    names = nlupp_intent_names(onto, "banking")
    Y = intent_matrix(table["intents"], names).astype(int)
    tr, te = nlupp_splits(table, "banking", "mid")[0]
    te = te[np.isin(table["fold"].to_numpy()[te], [2, 5, 8, 11, 14, 17])]  # six of the 18 test folds
    rows = np.concatenate([tr, te])
    texts = table["text"].to_numpy()[rows].tolist()
    enc = TextEncoder()
    tokens = enc.encode_tokens(texts)
    knowledge = enc.encode_tokens(KnowledgeRetriever(BANKING_GLOSSARY, k=3).texts(texts))
    labels = enc.encode([onto["intents"][n]["description"] for n in names])
    n_tr = len(tr)
    return dict(Y=Y[rows], X=enc.encode(texts), tokens=tokens, knowledge=knowledge, labels=labels, names=names,
                tr=np.arange(n_tr), te=np.arange(n_tr, len(rows)))


def _logistic_f1(X, Y, tr, te) -> float:
    """MiniLM + OvR logistic regression (C=10) at the NLU++ notes' pilot threshold 0.3 (their arm (a), ~0.66)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    keep = Y[tr].sum(0) > 0
    S = np.zeros((len(te), Y.shape[1]))
    S[:, keep] = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000)).fit(
        X[tr], Y[tr][:, keep]).predict_proba(X[te])
    return float(f1_score(Y[te], S >= 0.3, average="micro"))


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
def test_nlupp_label_attention_learns_and_attends_to_intent_words(banking):
    b = banking
    tr, te, Y = b["tr"], b["te"], b["Y"]
    clf = KeNetClassifier(label_embeddings=b["labels"], random_state=0, n_threads=1).fit(b["tokens"][tr], Y[tr])
    f1_kenet = f1_score(Y[te], clf.predict(b["tokens"][te]), average="micro")
    f1_logistic = _logistic_f1(b["X"], Y, tr, te)
    print(f"micro-F1 KeNet {f1_kenet:.3f}, MiniLM + logistic {f1_logistic:.3f}")
    # the notes' "not worse" does not reproduce (bench/kenet.py: 0.047 below on average over three fold pairs; here
    # 0.651 vs 0.664): a floor and a bounded gap, not the claim
    assert f1_kenet > 0.55 and f1_kenet >= f1_logistic - 0.08, (f1_kenet, f1_logistic)

    j = b["names"].index("cancel_close_leave_freeze")
    toks = b["tokens"]
    rows = [i for i in te if Y[i, j] and any(INTENT_VERBS.match(w) for w in toks.tokens[i])]
    A = clf.attention(toks[rows])[:, j]
    mass = [A[r, : len(toks.tokens[i])][[bool(INTENT_VERBS.match(w)) for w in toks.tokens[i]]].sum()
            for r, i in enumerate(rows)]
    share = [np.mean([bool(INTENT_VERBS.match(w)) for w in toks.tokens[i]]) for i in rows]
    print(f"cancel_close_leave_freeze attention on its verbs {np.mean(mass):.2f} vs uniform {np.mean(share):.2f} "
          f"({len(rows)} rows)")
    assert len(rows) >= 10 and np.mean(mass) >= 2 * np.mean(share), (np.mean(mass), np.mean(share))

    with_k = KeNetClassifier(label_embeddings=b["labels"], random_state=0, n_threads=1)
    with_k.fit(toks[tr], Y[tr], knowledge=b["knowledge"][tr])
    f1_k = f1_score(Y[te], with_k.predict(toks[te], b["knowledge"][te]), average="micro")
    print(f"knowledge channel ablation: micro-F1 {f1_k:.3f} with vs {f1_kenet:.3f} without")
    # measured: the glossary costs micro-F1 here (0.585 vs 0.651); over three fold pairs (bench/kenet.py) +0.003 on
    # average, -0.059 to +0.083: noise. The gate must keep it a bounded cost, not a collapse
    assert f1_k >= f1_kenet - 0.1, (f1_k, f1_kenet)
