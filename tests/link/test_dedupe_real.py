"""dedupe on real records with a known truth: DBLP-ACM's two tables stacked into one (2,224 true pairs).

Lookalike papers (same venue, similar titles) chain into giant connected components; average linkage keeps the
clusters small with the same pair weights. The MiniLM figures for this and three other sets are in bench/dedupe.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.features import HashingTextEncoder
from labelwise.link import dedupe
from tests.conftest import shared_dataset
from tests.link.stacked import pairwise_scores, stacked_dblp_acm

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def test_stacked_dblp_acm_average_linkage_does_not_chain():
    table, entity = stacked_dblp_acm(shared_dataset("linkage", "dblp-acm"))
    results = {}
    for method in ("components", "average"):
        out = dedupe(table, on=["title", "authors", "year"], id_column="id", encoder=HashingTextEncoder(dim=1024),
                     clustering=method)
        cluster = out.cluster_id.to_numpy()
        results[method] = (pairwise_scores(cluster, entity)["f1"], np.bincount(cluster).max())
    # measured: components F1 0.11 with a cluster of 254 rows; average linkage F1 0.72, largest cluster 14
    assert results["components"][1] > 100 and results["components"][0] < 0.3
    assert results["average"][1] <= 25 and results["average"][0] >= 0.65
