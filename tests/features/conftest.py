"""Fixtures for labelwise.features tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes to ~/.cache: the default cache directory points into a temporary folder."""
    path = tmp_path_factory.mktemp("default-cache")
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def encoder():
    """One loaded default TextEncoder without a cache, shared by the model tests (loading takes ~0.3 s)."""
    from labelwise.features import TextEncoder

    return TextEncoder(cache_dir=False)
