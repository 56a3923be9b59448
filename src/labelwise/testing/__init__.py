"""labelwise.testing: fakes and fixtures for tests and examples. Not part of the library: no module of labelwise
outside this package imports it (``tests/test_layout.py`` checks that).

- :class:`FakeBackend` (``fake_llm.py``): an LLM backend whose log-likelihoods and completions are plain functions
  you give, deterministic, through the same cache and accounting as the real backends.
- :func:`bar_charts`, :func:`line_charts` (``charts.py``): charts rendered with matplotlib from known tables, with
  their exact values, axes and key points (ChartReader's test data).
- :class:`LocalRayCluster` (``ray_cluster.py``): a Ray head and worker nodes on 127.0.0.1 (``ray start``
  subprocesses with bounded CPUs and memory), for the cluster tests and the Ray benchmark.

Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "FakeBackend": "labelwise.testing.fake_llm",
    "LocalRayCluster": "labelwise.testing.ray_cluster",
    "bar_charts": "labelwise.testing.charts",
    "line_charts": "labelwise.testing.charts",
})

if TYPE_CHECKING:
    from labelwise.testing.charts import bar_charts, line_charts
    from labelwise.testing.fake_llm import FakeBackend
    from labelwise.testing.ray_cluster import LocalRayCluster
