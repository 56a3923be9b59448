"""The label budget planner (paper 26): the cost model and the frontier/regime logic on hand tables, the weak ->
oracle training rules, and the three-regime claim on digits (notes 26.4)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import ParameterError
from labelwise.generate.budget import (BudgetResult, LabelBudgetPlanner, budget_counts, classify_regime,
                                       pareto_frontier, sequential_fit)


@pytest.mark.parametrize("budget, f, expected", [
    (16, 1.0, (16, 0, 16.0)),      # oracle only
    (16, 0.0, (0, 160, 16.0)),     # weak only: B / r
    (16, 0.5, (8, 80, 16.0)),
    (16, 0.1, (1, 150, 16.0)),     # floor(1.6) = 1, the rest (15) buys 150 weak labels
    (4, 0.1, (0, 40, 4.0)),        # n_oracle rounds to 0 (the notes' B = 4, f = 0.1)
    (64, 0.25, (16, 480, 64.0)),
])
def test_budget_counts_paper_cost_model(budget, f, expected):
    n_o, n_w, cost = budget_counts(budget, f, cost_oracle=1.0, cost_weak=0.1)
    assert (n_o, n_w) == expected[:2]
    assert cost == pytest.approx(expected[2])


def test_budget_counts_caps_and_other_units():
    # 256 at f = 0.25 wants 64 oracle + 1920 weak; the pool has 997 items, so weak is capped at 997 - 64 and the
    # cost is what was bought.
    assert budget_counts(256, 0.25, 1.0, 0.1, n_oracle_pool=500, n_pool=997) == (64, 933, pytest.approx(64 + 93.3))
    # Only 10 expert labels exist: the oracle count is capped and the freed money buys weak labels.
    assert budget_counts(100, 0.5, 1.0, 0.1, n_oracle_pool=10) == (10, 900, pytest.approx(100.0))
    # ... but oracle only stays oracle only.
    assert budget_counts(100, 1.0, 1.0, 0.1, n_oracle_pool=10) == (10, 0, pytest.approx(10.0))
    # Money units: an expert label costs 2.50, an LLM label 0.02.
    assert budget_counts(100, 0.5, 2.5, 0.02) == (20, 2500, pytest.approx(100.0))
    with pytest.raises(ParameterError, match="costs must be > 0"):
        budget_counts(10, 0.5, 1.0, 0.0)
    with pytest.raises(ParameterError, match="oracle_frac"):
        budget_counts(10, 1.5, 1.0, 0.1)


def _hand_result(acc: dict) -> BudgetResult:
    """A result with one seed whose accuracy per (budget, f) is ``acc``; counts from the cost model."""
    rows = []
    for (budget, f), a in acc.items():
        n_o, n_w, cost = budget_counts(budget, f, 1.0, 0.1)
        rows.append({"budget": float(budget), "oracle_frac": f, "seed": 0, "n_oracle": n_o, "n_weak": n_w,
                     "cost": cost, "accuracy": a})
    return BudgetResult(runs=pd.DataFrame(rows), cost_oracle=1.0, cost_weak=0.1)


# The notes' pilot table (26.4), f = 1, 0.5, 0.25, 0.1, 0.
PILOT = {4: (0.558, 0.594, 0.538, 0.646, 0.646), 16: (0.628, 0.659, 0.623, 0.585, 0.739),
         64: (0.734, 0.772, 0.770, 0.674, 0.739), 256: (0.839, 0.821, 0.791, 0.768, 0.745)}


def _pilot() -> BudgetResult:
    return _hand_result({(b, f): a for b, accs in PILOT.items() for f, a in zip((1.0, 0.5, 0.25, 0.1, 0.0), accs)})


def test_regimes_and_frontier_on_the_notes_table():
    res = _pilot()
    assert classify_regime(res) == {"quantity": [4.0, 16.0], "mixed": [64.0], "quality": [256.0]}
    front = pareto_frontier(res)
    assert front["budget"].tolist() == [4.0, 16.0, 64.0, 256.0]
    # B = 4: f = 0.1 (0 oracle labels) and f = 0 tie at 0.646 and cost the same (4): the tie goes to the smaller f.
    assert front["best_f"].tolist() == [0.0, 0.0, 0.5, 1.0]
    assert front["accuracy"].tolist() == [0.646, 0.739, 0.772, 0.839]
    assert front[["n_oracle", "n_weak"]].to_numpy().tolist() == [[0, 40], [0, 160], [32, 320], [256, 0]]
    assert front["on_frontier"].all()
    # With a margin of 0.05 the mixed point at 64 (0.772 vs 0.739) no longer counts: weak only is best there.
    assert classify_regime(res, margin=0.05) == {"quantity": [4.0, 16.0, 64.0], "mixed": [], "quality": [256.0]}


def test_frontier_marks_a_dominated_budget():
    # The 64 budget buys nothing better than 16 did: it is not on the cost-accuracy frontier.
    res = _hand_result({(16, 1.0): 0.6, (16, 0.0): 0.8, (64, 1.0): 0.7, (64, 0.0): 0.79})
    front = pareto_frontier(res)
    assert front["on_frontier"].tolist() == [True, False]
    assert front["regime"].tolist() == ["quantity", "quantity"]


def test_result_summary_save_load_repr(tmp_path):
    rows = [{"budget": 8.0, "oracle_frac": f, "seed": s, "n_oracle": 8 * int(f), "n_weak": 80 * (1 - int(f)),
             "cost": 8.0, "accuracy": a} for f, accs in ((1.0, (0.5, 0.7)), (0.0, (0.8, 0.8))) for s, a in
            enumerate(accs)]
    res = BudgetResult(runs=pd.DataFrame(rows), cost_oracle=1.0, cost_weak=0.1)
    frame = res.to_frame()
    assert frame["oracle_frac"].tolist() == [1.0, 0.0]
    assert frame["accuracy"].tolist() == pytest.approx([0.6, 0.8])
    # 95% t-interval with 1 degree of freedom: 0.6 +- 12.706 * 0.1414 / sqrt(2) = 0.6 +- 1.27, clipped to [0, 1]
    assert frame.loc[0, "sd"] == pytest.approx(0.1414, abs=1e-4)
    assert (frame.loc[0, "lo"], frame.loc[0, "hi"]) == (0.0, 1.0)
    assert frame.loc[1, "sd"] == 0.0 and frame.loc[1, "hi"] == pytest.approx(0.8)
    res.save(tmp_path)
    back = BudgetResult.load(tmp_path)
    pd.testing.assert_frame_equal(back.to_frame(), frame, check_dtype=False)
    assert {p.name for p in tmp_path.iterdir()} == {"runs.csv", "summary.csv", "frontier.csv", "summary.json"}
    assert repr(res) == "BudgetResult(1 budgets x 2 mixes x 2 seeds; weak/oracle cost 0.1/1; quantity at 8)"


def test_sequential_fit_stage2_moves_to_oracle_and_tiny_oracle_sets_join_stage1():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    truth = (X[:, 0] > 0).astype(int)
    wrong = (X[:, 1] > 0).astype(int)  # systematic weak errors: the weak labeller reads the wrong feature
    W, b = sequential_fit(X[:300], wrong[:300], X[300:], truth[300:], 2, points_per_stage=800)
    acc = ((X @ W + b).argmax(1) == truth).mean()
    assert acc > 0.9  # stage 2 (fresh optimiser, 100 oracle labels) overrides the weak stage
    W1, b1 = sequential_fit(X[:300], wrong[:300], X[:0], truth[:0], 2, points_per_stage=800)
    assert ((X @ W1 + b1).argmax(1) == wrong).mean() > 0.9  # weak only learns the weak labeller
    # 5 oracle labels (< min_oracle) are not a stage of their own: they join the weak stage, which then still
    # follows the 300 weak labels instead of over-fitting 5 items.
    W5, b5 = sequential_fit(X[:300], wrong[:300], X[300:305], truth[300:305], 2, points_per_stage=800)
    assert ((X @ W5 + b5).argmax(1) == wrong).mean() > 0.9
    # Same inputs, same outputs.
    W2, _ = sequential_fit(X[:300], wrong[:300], X[300:], truth[300:], 2, points_per_stage=800)
    np.testing.assert_array_equal(W, W2)


def test_planner_buys_what_the_cost_model_says_from_a_pilot_with_few_expert_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    y_oracle = np.where(np.arange(50) < 20, y, -1)  # expert labels on 20 rows only
    res = LabelBudgetPlanner(budgets=[4, 100], oracle_fracs=[1.0, 0.5, 0.0], n_seeds=2, points_per_stage=32).run(
        X, y_oracle, y, X, y)
    got = res.runs[res.runs.seed == 1].set_index(["budget", "oracle_frac"])[["n_oracle", "n_weak", "cost"]]
    assert got.loc[(4.0, 1.0)].tolist() == [4, 0, 4.0]
    assert got.loc[(4.0, 0.5)].tolist() == [2, 20, pytest.approx(4.0)]
    assert got.loc[(4.0, 0.0)].tolist() == [0, 40, pytest.approx(4.0)]
    assert got.loc[(100.0, 1.0)].tolist() == [20, 0, 20.0]                     # capped at the 20 expert labels
    assert got.loc[(100.0, 0.5)].tolist() == [20, 30, pytest.approx(23.0)]     # weak capped at the other 30 rows
    assert got.loc[(100.0, 0.0)].tolist() == [0, 50, pytest.approx(5.0)]
    assert len(res.runs) == 2 * 2 * 3 and res.runs["accuracy"].between(0, 1).all()


def test_planner_rejects_bad_costs():
    with pytest.raises(ParameterError, match="costs must be > 0"):
        LabelBudgetPlanner(cost_weak=-1).run(np.zeros((4, 2)), [0, 1, 0, 1], [0, 1, 0, 1], np.zeros((2, 2)), [0, 1])


def test_three_regime_claim_on_digits():
    """Notes 26.4 (fewer seeds than the bench): weak-only beats oracle-only at the smallest budget and oracle-only
    beats weak-only at the largest, on a weak labeller trained on a disjoint split (pool accuracy ~0.75)."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    from label_budget import digits_task

    X_pool, y_pool, y_weak, X_test, y_test, weak_acc = digits_task(5)
    assert 0.70 < weak_acc < 0.80
    res = LabelBudgetPlanner(budgets=[4, 256], oracle_fracs=[1.0, 0.0], n_seeds=3, points_per_stage=2000,
                             random_state=0).run(X_pool, y_pool, y_weak, X_test, y_test)
    acc = res.to_frame().set_index(["budget", "oracle_frac"])["accuracy"]
    assert acc[(4.0, 0.0)] > acc[(4.0, 1.0)] + 0.05
    assert acc[(256.0, 1.0)] > acc[(256.0, 0.0)] + 0.05
    assert classify_regime(res) == {"quantity": [4.0], "mixed": [], "quality": [256.0]}
