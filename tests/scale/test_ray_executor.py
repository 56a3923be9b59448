"""Every stage on the two-node Ray cluster gives LocalExecutor's result (embeddings within float tolerance, the rest
identical), reports progress, and the executor disconnects only what it connected."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from labelwise.scale.executor import LocalExecutor, executor_for


@pytest.fixture(scope="module")
def ray_ex(ray_session):
    from labelwise.scale.ray_executor import RayExecutor

    with RayExecutor(ray_session.address) as executor:
        yield executor


class Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, stage, done, total):
        self.calls.append((stage, done, total))


def _unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_out_of_fold_folds_as_tasks_equal_the_local_probabilities(ray_ex):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 600)
    features = rng.normal(size=(600, 12)) + labels[:, None] * 0.4
    labels[:3] = 5  # a class of three rows: stratified folds, and a class missing from some training parts
    classifier = LogisticRegression(max_iter=300)
    local = LocalExecutor().out_of_fold(features, labels, classifier=classifier, n_folds=5, random_state=3)
    progress = Progress()
    remote = ray_ex.out_of_fold(features, labels, classifier=classifier, n_folds=5, random_state=3, progress=progress)
    np.testing.assert_array_equal(remote, local)
    assert progress.calls[0] == ("cross-validation", 0, 5) and progress.calls[-1] == ("cross-validation", 5, 5)


@pytest.mark.parametrize("exact", [True, None])
def test_knn_one_task_per_shard_and_a_merge_tree_equal_knn_sharded(ray_ex, exact):
    base = _unit_rows(3000, 16, 1)
    query = _unit_rows(500, 16, 2)
    progress = Progress()
    for q in (None, query):
        local = LocalExecutor().knn(base, 7, query=q, shard_rows=700, exact=exact)
        remote = ray_ex.knn(base, 7, query=q, shard_rows=700, exact=exact, progress=progress)
        np.testing.assert_array_equal(remote[0], local[0])
        np.testing.assert_array_equal(remote[1], local[1])
    assert progress.calls[-1] == ("neighbours", 5, 5)  # 3000 rows in shards of 700


def _noisy_probabilities(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 3.0 * np.eye(k)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.15, rng.integers(0, k, n), truth)  # 15% of labels flipped at random
    return labels, probs


def test_confident_counts_as_map_and_merge_equal_the_local_counts(ray_ex, tmp_path):
    from labelwise.audit.label_errors import compute_confident_joint

    labels, probs = _noisy_probabilities(20_000, 7, 4)
    local = LocalExecutor().confident_counts(labels, probs, chunk_rows=3000)
    np.testing.assert_array_equal(local.confident_joint, compute_confident_joint(labels, probs, calibrate=False))
    path = tmp_path / "probs.npy"
    np.save(path, probs.astype(np.float16))
    for given, chunk_rows in ((probs, 3000), (probs, None), (str(path), 2500)):  # in memory, and chunks read here
        remote = ray_ex.confident_counts(labels, given, chunk_rows=chunk_rows)
        expected = local if given is probs else LocalExecutor().confident_counts(labels, given, chunk_rows=4096)
        np.testing.assert_array_equal(remote.thresholds, expected.thresholds)
        np.testing.assert_array_equal(remote.confident_joint, expected.confident_joint)
        np.testing.assert_array_equal(remote.label_counts, expected.label_counts)
        assert remote.n_off_diagonal == expected.n_off_diagonal and remote.n_rows == 20_000


def test_an_executor_joining_a_session_leaves_it_open(ray_session):
    import ray

    from labelwise.scale.ray_executor import RayExecutor

    with RayExecutor(ray_session.address) as executor:
        assert not executor.connection.owned and executor.cpus() == 2
    assert ray.is_initialized()
    assert isinstance(executor_for(None), LocalExecutor)


def test_without_ray_the_error_names_the_extra_to_install():
    code = ("import sys\nsys.modules['ray'] = None\nfrom labelwise.scale.executor import executor_for\n"
            "try:\n    executor_for('auto')\nexcept Exception as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("MissingExtraError |"), out.stdout + out.stderr
    assert "pip install 'labelwise[ray]'" in out.stdout
