"""Direction checks on real data, only where the effect is large and held on every seed tried (see docs/learn.md).

PU-MLC (NLU++ BANKING intents, half of the training positives hidden at random): at the 0.5 operating point,
BCE that reads missing labels as negatives predicts almost nothing, PU-MLC does not. Features are TF-IDF + SVD so
that the test needs no embedding model (the benchmark uses MiniLM embeddings).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from sklearn.decomposition import TruncatedSVD  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from labelwise.data.nlupp import (  # noqa: E402
    intent_matrix,
    load_nlupp,
    load_nlupp_ontology,
    nlupp_intent_names,
    nlupp_splits,
)
from labelwise.features import TfidfEncoder  # noqa: E402
from labelwise.learn import MultiLabelClassifier, hide_positives  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402


@pytest.fixture(scope="module")
def nlupp_banking():
    root = shared_dataset("nlupp")
    table = load_nlupp(root, domains=("banking",))
    Y = intent_matrix(table["intents"], nlupp_intent_names(load_nlupp_ontology(root), "banking"))
    tfidf = TfidfEncoder().fit_transform(table["text"].tolist())
    X = TruncatedSVD(128, random_state=0).fit_transform(tfidf).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-8
    return table, X, Y


@pytest.mark.shared
@pytest.mark.parametrize("seed", [0])
def test_pu_mlc_beats_bce_with_hidden_positives(nlupp_banking, seed):
    table, X, Y = nlupp_banking
    tr, te = nlupp_splits(table, "banking", "large")[seed]
    Yp = hide_positives(Y[tr], 0.5, random_state=seed)
    kw = dict(hidden=(256,), epochs=30, lr=3e-3, patience=10, random_state=seed, n_threads=1)
    f1 = {}
    for loss in ("bce", "pu_mlc"):
        clf = MultiLabelClassifier(loss=loss, **kw).fit(X[tr], Yp)
        f1[loss] = f1_score(Y[te], clf.predict(X[te]), average="micro", zero_division=0)
    assert f1["pu_mlc"] >= f1["bce"] + 0.2, f1  # measured: see docs/learn.md
