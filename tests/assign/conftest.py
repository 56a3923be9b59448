"""torch on one thread in every assign test that uses it (CI and laptops have few cores), restored after."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    if "torch" not in request.module.__dict__:
        yield
        return
    torch = request.module.torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
