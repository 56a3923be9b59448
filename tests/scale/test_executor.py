"""LocalExecutor is the code the workflows always ran (no Ray needed), and executor_for picks the executor."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ParameterError
from labelwise.scale.executor import LocalExecutor, executor_for


def test_local_executor_gives_what_the_functions_it_stands_for_give(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from labelwise.audit.label_errors import compute_confident_joint, estimate_noise
    from labelwise.audit.out_of_fold import out_of_fold_probabilities
    from labelwise.features import HashingTextEncoder
    from labelwise.sharded_neighbours import knn_sharded

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    features = rng.normal(size=(300, 5)) + labels[:, None]
    with executor_for(None) as ex:
        assert isinstance(ex, LocalExecutor)
        probs = ex.out_of_fold(features, labels, classifier=LogisticRegression(), n_folds=4, random_state=1)
        np.testing.assert_array_equal(probs, out_of_fold_probabilities(
            features, labels, classifier=LogisticRegression(), n_folds=4, random_state=1))
        for got, want in zip(ex.knn(features, 4, shard_rows=70), knn_sharded(features, 4, shard_rows=70)):
            np.testing.assert_array_equal(got, want)
        texts = ["a b", "b c", "c d"]
        encoder = HashingTextEncoder(dim=8)
        np.testing.assert_array_equal(ex.embed(encoder, texts), encoder.encode(texts))
        np.save(tmp_path / "p.npy", probs)
        for given in (probs, str(tmp_path / "p.npy")):
            counts = ex.confident_counts(labels, given, chunk_rows=64)
            joint = compute_confident_joint(labels, probs, calibrate=False)
            np.testing.assert_array_equal(counts.confident_joint, joint)
            noise = estimate_noise(labels, probs).noise_matrix
            np.testing.assert_array_equal(counts.noise_estimate().noise_matrix, noise)


def test_executor_for_rejects_an_empty_address():
    with pytest.raises(ParameterError, match="'auto', HOST:PORT or ray://HOST:PORT"):
        executor_for("  ")
