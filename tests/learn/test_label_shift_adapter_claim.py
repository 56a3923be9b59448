"""The label shift adapter's claim (Park et al., ICCV 2023; notes section 5.4) at a small budget: one seed, one
stream of 320 digits under covariate shift and label shift of ratio 50, the model and adapter trained briefly. The
full experiment (3 seeds, 5 orders, ratios 1 / 10 / 50) is bench/label_shift_adapter.py; docs/benchmarks.md has its
figures. What holds at every seed we tried (0, 1, 2) is asserted: TENT alone drifts under strong label shift, and
plugging either the adapter or the closed-form correction into TENT repairs it; the closed form with the true prior
beats no adaptation. Whether the adapter beats the closed form is mixed at this size and is answered by the bench.
"""

from __future__ import annotations

import pytest
import torch

from tests.learn.label_shift_adapter_experiment import Config, run_seed, summarise


@pytest.fixture(scope="module")
def accuracy():
    cfg = Config(rho_targets=(50.0,), orders=1, stream_rows=320, model_epochs=30, adapter_steps=400)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs before conftest's per-test one_torch_thread
    try:
        return {arm: m["accuracy"][0] for (_, arm), m in summarise(run_seed(0, cfg)).items()}
    finally:
        torch.set_num_threads(threads)


def test_tent_drifts_under_label_shift_and_the_adapter_repairs_it(accuracy):
    assert accuracy["tent"] < accuracy["none"] - 0.05
    assert accuracy["tent+adapter"] > accuracy["tent"] + 0.03
    assert accuracy["tent+closed_form"] > accuracy["tent"] + 0.03


def test_the_prior_correction_helps_when_the_prior_is_right(accuracy):
    assert accuracy["closed_form@true"] > accuracy["none"] + 0.05
