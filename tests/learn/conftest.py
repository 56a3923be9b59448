"""scikit-learn's array-API estimator checks do not apply to labelwise's estimators (they compute in torch on numpy
input, never on array-API namespaces), and scikit-learn skips them unless SCIPY_ARRAY_API is set before scipy is
imported. They are deselected here, by name, rather than left to skip: in CI every skip is a failure
(tests/honest_markers.py)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    kept = [item for item in items if "check_array_api_input" not in item.nodeid]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(autouse=True)
def one_torch_thread():
    """torch on one thread during each learn test (CI and laptops have few cores), restored after."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
