"""Shared test helpers: where ../shared/datasets lives, and skipping with a clear reason when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.honest_markers"]  # markers are complete and, in CI, nothing skips

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def shared_dataset(*parts: str) -> Path:
    """Path to a file under ../shared/datasets, or skip the test saying what is missing."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset not found at {path} (tests read real data from ../shared/datasets)")
    return path


def pytest_configure(config):
    """Keep the test run's embedding cache out of the user's ~/.cache (tests that need their own set it)."""
    import os
    import tempfile

    os.environ.setdefault("LABELWISE_CACHE_DIR", tempfile.mkdtemp(prefix="labelwise-test-cache-"))
