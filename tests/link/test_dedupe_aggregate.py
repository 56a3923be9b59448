"""dedupe and aggregate on tables with known clusters and categories."""

from __future__ import annotations

import pandas as pd
import pytest

from labelwise.features import HashingTextEncoder
from labelwise.link import aggregate, dedupe
from labelwise.link.dedupe import clusters_from_pairs
from tests.link.synthetic import planted

ENC = HashingTextEncoder(dim=512)


def test_dedupe_finds_planted_duplicates_and_keeps_singletons():
    left, right, truth = planted(n_match=60, n_left_only=30, n_right_only=30, seed=7)
    table = pd.concat([left, right], ignore_index=True)
    out = dedupe(table, on=["name", "address", "town", "phone"], id_column="id", encoder=ENC)
    cid = dict(zip(out.id, out.cluster_id))
    same = sum(cid[a] == cid[b] for a, b in zip(truth.left_id, truth.right_id))
    assert same >= 0.9 * len(truth)
    assert out.cluster_id.nunique() > 60  # singletons keep their own ids
    # the chosen threshold lets the word-hashing fake chain lookalikes (all rows share the field names and
    # "street"); a threshold a little higher gives clean clusters
    strict = dedupe(table, on=["name", "address", "town", "phone"], id_column="id", encoder=ENC, threshold=0.75)
    sizes = strict.cluster_id.value_counts()
    assert sizes.max() <= 4
    assert (sizes == 1).sum() >= 50  # singletons stay, each with its own id
    strict_cid = dict(zip(strict.id, strict.cluster_id))
    assert sum(strict_cid[a] == strict_cid[b] for a, b in zip(truth.left_id, truth.right_id)) >= 0.9 * len(truth)
    # the representative is a member of its own cluster
    assert all(cid[rep] == c for rep, c in zip(out.representative, out.cluster_id))
    assert out.attrs["threshold"].method in ("runner-up null", "mixture", "otsu")


def test_clusters_and_representative_exact():
    assert clusters_from_pairs(5, [3, 0], [4, 1]).tolist() == [0, 0, 1, 2, 2]
    table = pd.DataFrame({"name": ["acme corp", "acme corp inc", "acme corporation inc", "zeta llc"]})
    out = dedupe(table, on="name", threshold=0.5, encoder=ENC)  # "name" is a shared word: 1/3 between strangers
    assert out.cluster_id.tolist()[:3] == [0, 0, 0] and out.cluster_id.iloc[3] == 1
    assert out.representative.iloc[0] == 1  # "acme corp inc" shares words with both others
    assert out.representative.iloc[3] == 3


def test_aggregate_picks_the_category_sharing_words():
    table = pd.DataFrame({"item": ["red apple", "green apple pie", "fresh banana", None]})
    out = aggregate(table, on="item", categories=["apple", "banana"], encoder=ENC)
    assert out.category.tolist()[:3] == ["apple", "apple", "banana"]
    assert out.category_score.iloc[0] > 0 and out.category_score.notna().all()


@pytest.mark.model
def test_aggregate_with_minilm_knows_synonyms():
    table = pd.DataFrame({"item": ["my card was stolen", "how much is the fee to send money abroad"]})
    out = aggregate(table, on="item", categories=["lost or stolen card", "international transfer fees"])
    assert out.category.tolist() == ["lost or stolen card", "international transfer fees"]
