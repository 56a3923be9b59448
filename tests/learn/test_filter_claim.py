"""FILTER's claim on the notes' synthetic language pair at a small budget (paper 17). The figures at the notes' size
(where the order changes) come from bench/filter_self_teaching.py; docs/learn.md, "FILTER"."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.learn.filter_experiment import Config, run_seed  # noqa: E402

pytestmark = pytest.mark.slow

# 400 training pairs, 10 epochs, batch 16: in bench/filter_self_teaching.py at this size (seeds 0-2) translate-train
# scores 0.146-0.190 span F1 and FILTER 0.263-0.280; self-teaching (not run here) moves FILTER by -0.025..+0.051,
# so its inequality is not asserted
SMALL = Config(n_train=400, n_test=200, epochs=10, batch_size=16, lr=3e-3, self_teaching=False, ceiling=False)


@pytest.fixture(scope="module")
def claim_run():
    return run_seed(0, SMALL)


def test_filter_beats_translate_train_with_few_pairs(claim_run):
    """(1) translate-train < (2) FILTER (alpha = 0): with the source sentence and its clean tags beside the target,
    the fusion encoder tags the target better than a target-only encoder trained on the same projected tags."""
    assert claim_run["filter"] >= claim_run["translate_train"] + 0.05, claim_run


def test_the_fusion_teacher_leans_towards_the_projection(claim_run):
    """Why self-teaching gains little here: trained on tags copied by position, the fusion encoder largely
    reproduces that projection on its own training pairs (the source's tags sit at the same positions), so its
    soft labels carry the projection's errors."""
    assert claim_run["teacher_agrees_with_projection"] >= 0.7, claim_run
    assert claim_run["teacher_agrees_with_projection"] > claim_run["filter"] + 0.3, claim_run
