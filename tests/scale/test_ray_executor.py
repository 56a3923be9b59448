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


def test_embedding_with_a_model_free_encoder_gives_the_local_vectors_and_its_errors(ray_ex):
    from labelwise.errors import ParameterError
    from labelwise.features import HashingTextEncoder

    texts = [f"text number {i} about {'cards' if i % 3 else 'loans'} {'!' * (i % 5)}" for i in range(1000)]
    executor = type(ray_ex)(ray_ex.address, embed_block_rows=128)
    encoder = HashingTextEncoder(dim=32)
    np.testing.assert_array_equal(executor.embed(encoder, texts), LocalExecutor().embed(encoder, texts))
    assert executor.embed(encoder, []).shape == (0, 32)
    with pytest.raises(ParameterError, match="dim must be a positive integer"):  # raised on an actor, said here
        executor.embed(HashingTextEncoder(dim=0), texts[:10])


# -- embedding: the packaged MiniLM model on Banking77 texts ----------------------------------------------------


@pytest.fixture(scope="module")
def banking_texts():
    import csv

    from tests.conftest import shared_dataset

    with open(shared_dataset("banking77", "train.csv"), newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)][::10][:800]  # every 10th: all 77 intents


@pytest.fixture(scope="module")
def local_vectors(banking_texts):
    from labelwise.features import TextEncoder

    return LocalExecutor().embed(TextEncoder(cache_dir=False), banking_texts)


@pytest.mark.model
@pytest.mark.shared
@pytest.mark.slow
def test_embedding_on_an_actor_pool_equals_the_local_embeddings_in_input_order(ray_ex, banking_texts, local_vectors):
    from labelwise.features import TextEncoder
    from labelwise.neighbours import knn

    progress = Progress()
    encoder = TextEncoder(cache_dir=False, batch_size=32)  # no cache: every vector is computed on the cluster
    executor = type(ray_ex)(ray_ex.address, embed_block_rows=100)
    vectors = executor.embed(encoder, banking_texts, progress=progress)
    assert vectors.dtype == np.float32 and vectors.shape == (800, 384)
    np.testing.assert_allclose(vectors, local_vectors, atol=1e-5)
    assert np.array_equal(knn(vectors, 5)[0], knn(local_vectors, 5)[0])
    done = [d for stage, d, total in progress.calls if stage == "embedding" and total == 800]
    assert done[0] == 0 and done[-1] == 800 and done == sorted(done) and len(done) == 9  # one report per block


@pytest.mark.model
@pytest.mark.shared
@pytest.mark.slow
def test_losing_the_worker_node_mid_embedding_retries_on_the_head_and_gives_the_same_vectors(
        ray_ex, ray_cluster, banking_texts, local_vectors):
    """The worker node is SIGKILLed (its whole process group: raylet, object store, the actors on it) once the
    first blocks are back; Ray restarts the lost actors and retries their blocks; the vectors are the local ones.
    The node is started again afterwards, so later tests see two nodes."""
    import threading

    from labelwise.features import TextEncoder

    killed = threading.Event()

    def kill_once(stage, done, total):  # once an embedding actor runs on the worker node and blocks are back
        if 0 < done < total and not killed.is_set() and _embedding_actors_on_worker():
            killed.set()
            ray_cluster.kill_worker()

    executor = type(ray_ex)(ray_ex.address, embed_block_rows=50)
    try:
        vectors = executor.embed(TextEncoder(cache_dir=False, batch_size=32), banking_texts, progress=kill_once)
    finally:
        if killed.is_set():
            ray_cluster.start_worker()
    assert killed.is_set()
    np.testing.assert_allclose(vectors, local_vectors, atol=1e-5)


def _embedding_actors_on_worker() -> int:
    """Live embedding actors on the node that is not the head (the actor table in the GCS; the test cluster has no
    dashboard for the state API)."""
    import ray
    from ray._private.state import actors

    worker = {n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" not in n["Resources"]}
    return sum(a["State"] == "ALIVE" and "_EmbedActor" in a["ActorClassName"] and a["Address"]["NodeID"] in worker
               for a in actors().values())
