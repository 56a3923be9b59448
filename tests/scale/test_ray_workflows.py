"""audit, link and dedupe through the two-node Ray test cluster give the flags, pairs and clusters of the local
run (the reference): the same code with its heavy stages (embedding, out-of-fold folds, kNN) handed to a
RayExecutor instead of the LocalExecutor. Real data from ../shared/datasets; the model-free hashing encoder keeps
them fast (the packaged MiniLM model on the cluster is tests/scale/test_cli_ray.py's README test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from labelwise import audit_dataset
from labelwise.data import read_table
from labelwise.data.corruption import flip_labels
from labelwise.features import HashingTextEncoder
from labelwise.link import dedupe, evaluate, link
from labelwise.scale.executor import LocalExecutor, executor_for
from tests.conftest import shared_dataset
from tests.link.stacked import read_dblp_acm

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def on_ray(ray_session):
    with executor_for(ray_session.address) as executor:
        yield executor


def _stages(progress_log: list):
    def progress(stage: str, done: int, total: int) -> None:
        progress_log.append((stage, done, total))
    return progress


def test_audit_of_2k_banking77_rows_flags_the_same_rows_on_ray(on_ray):
    frame = read_table(shared_dataset("banking77", "train.csv"))
    classes = sorted(frame["category"].unique())[:15]
    frame = frame[frame["category"].isin(classes)].reset_index(drop=True)  # 15 intents, about 2,000 rows
    codes = frame["category"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    noisy, flipped = flip_labels(codes, 0.05, len(classes), random_state=0)
    frame["category"] = [classes[i] for i in noisy]
    options = dict(label="category", text="text", encoder=HashingTextEncoder(dim=512), n_folds=3,
                   classifier=LogisticRegression(max_iter=300), random_state=0)
    local = audit_dataset(frame, **options, executor=LocalExecutor())
    seen: list = []
    remote = audit_dataset(frame, **options, executor=on_ray, progress=_stages(seen))
    assert 1800 <= len(frame) <= 2200 and local.is_issue.sum() > 20
    # the folds' models fit on other machines (other BLAS threads sum in another order): equal within 1e-5 ...
    np.testing.assert_allclose(remote.pred_probs, local.pred_probs, rtol=0, atol=1e-5)
    np.testing.assert_allclose(remote.label_quality, local.label_quality, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(remote.is_issue, local.is_issue)  # ... and the same flags
    for check, column in (("duplicates", "duplicate_group"), ("outliers", "is_outlier_issue")):
        np.testing.assert_array_equal(getattr(getattr(remote.checks, check), column),
                                      getattr(getattr(local.checks, check), column))
    precision = flipped[local.is_issue].mean()
    assert precision > 0.5  # the local reference itself finds the flipped labels
    stages = {stage for stage, _, _ in seen}
    assert {"cross-validation", "neighbours"} <= stages  # the cluster reports progress per stage
    assert all(done <= total for _, done, total in seen) and ("cross-validation", 3, 3) in seen


@pytest.fixture(scope="module")
def dblp_acm_slice():
    left, right, truth = read_dblp_acm(shared_dataset("linkage", "dblp-acm"))
    sample = truth.sample(300, random_state=0)
    left = pd.concat([left[left.id.isin(sample.left_id)], left[~left.id.isin(truth.left_id)].head(50)])
    right = pd.concat([right[right.id.isin(sample.right_id)], right[~right.id.isin(truth.right_id)].head(50)])
    return left.reset_index(drop=True), right.reset_index(drop=True), sample


def test_link_of_a_dblp_acm_slice_finds_the_same_pairs_on_ray(on_ray, dblp_acm_slice):
    left, right, truth = dblp_acm_slice
    options = dict(on=["title", "authors", "venue", "year"], left_id="id", right_id="id",
                   encoder=HashingTextEncoder(dim=512))
    local = link(left, right, **options, executor=LocalExecutor())
    remote = link(left, right, **options, executor=on_ray)
    pd.testing.assert_frame_equal(remote.pairs, local.pairs)
    pd.testing.assert_frame_equal(remote.candidates, local.candidates)
    assert evaluate(local.pairs, truth)["f1"] > 0.9


def test_dedupe_of_stacked_dblp_acm_rows_gives_the_same_clusters_on_ray(on_ray, dblp_acm_slice):
    left, right, truth = dblp_acm_slice
    stacked = pd.concat([left.assign(id="d:" + left.id.astype(str)), right.assign(id="a:" + right.id.astype(str))],
                        ignore_index=True)
    options = dict(on=["title", "authors"], id_column="id", encoder=HashingTextEncoder(dim=512))
    local = dedupe(stacked, **options, executor=LocalExecutor())
    remote = dedupe(stacked, **options, executor=on_ray)
    pd.testing.assert_frame_equal(remote, local)
    together = {(f"d:{a}", f"a:{b}") for a, b in zip(truth.left_id, truth.right_id)}
    cluster = dict(zip(local.id, local.cluster_id))
    assert np.mean([cluster[a] == cluster[b] for a, b in together]) > 0.8  # the reference finds the true pairs
