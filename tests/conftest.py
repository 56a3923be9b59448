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
    """Caches of the test run, never the user's ~/.cache (a variable already set wins):

    - embeddings: one folder in the repository that git ignores (``.labelwise-cache/``), kept between runs, so a
      second run does not embed Banking77 again (tests of the cache itself use their own folders:
      tests/features/conftest.py);
    - LLM answers: a new file per run, so no test of a model passes on an answer an older version of the code gave.
    """
    import os
    import tempfile

    os.environ.setdefault("LABELWISE_CACHE_DIR", str(REPO / ".labelwise-cache"))
    llm_cache = os.path.join(tempfile.mkdtemp(prefix="labelwise-test-llm-"), "llm.sqlite")
    os.environ.setdefault("LABELWISE_LLM_CACHE", llm_cache)
