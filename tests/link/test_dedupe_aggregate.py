"""dedupe and aggregate on tables with known clusters and categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import ParameterError
from labelwise.features import HashingTextEncoder
from labelwise.link import aggregate, dedupe
from labelwise.link.dedupe import clusters_from_pairs
from tests.link.stacked import pairwise_scores
from tests.link.synthetic import planted

ENC = HashingTextEncoder(dim=512)


ON = ["name", "address", "town", "phone"]


def _entities(table: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Entity number of each row ``(n,) int``: a planted duplicate shares its original's."""
    of = {b: a for a, b in zip(truth.left_id, truth.right_id)}
    return pd.factorize(table["id"].map(lambda i: of.get(i, i)))[0]


def test_dedupe_default_scorer_finds_planted_duplicates_with_a_calibrated_estimate():
    left, right, truth = planted(n_match=60, n_left_only=30, n_right_only=30, seed=7)
    table = pd.concat([left, right], ignore_index=True)
    out = dedupe(table, on=ON, encoder=ENC)  # ids from the 'id' column, found
    scores = pairwise_scores(out.cluster_id.to_numpy(), _entities(table, truth))
    assert scores["f1"] >= 0.95
    assert out.cluster_id.nunique() > 60  # singletons keep their own ids
    est = out.attrs["estimate"]
    assert est.calibrated and "uncalibrated" not in est.describe() and abs(est.f1 - scores["f1"]) < 0.05
    assert out.attrs["threshold"].value == 0.5 and out.attrs["threshold"].method == "probability"
    assert any(line.startswith("phone: ") for line in out.attrs["comparisons"])
    cid = dict(zip(out.id, out.cluster_id))
    assert all(cid[rep] == c for rep, c in zip(out.representative, out.cluster_id))  # ids, in their own cluster
    # without any encoder (no embeddings at all): the lexical comparisons alone
    bare = dedupe(table, on=ON, encoder=False)
    assert pairwise_scores(bare.cluster_id.to_numpy(), _entities(table, truth))["f1"] >= 0.95
    assert set(bare.representative) <= set(table.id)


def test_dedupe_cosine_scorer_is_still_available():
    left, right, truth = planted(n_match=60, n_left_only=30, n_right_only=30, seed=7)
    table = pd.concat([left, right], ignore_index=True)
    out = dedupe(table, on=ON, id_column="id", encoder=ENC, scorer="cosine")
    assert out.attrs["threshold"].method in ("runner-up null", "mixture", "otsu")
    assert not out.attrs["estimate"].calibrated
    # the word-hashing fake chains lookalikes at the chosen cosine; a higher one gives clean clusters
    strict = dedupe(table, on=ON, id_column="id", encoder=ENC, scorer="cosine", threshold=0.75)
    sizes = strict.cluster_id.value_counts()
    assert sizes.max() <= 4 and (sizes == 1).sum() >= 50
    strict_cid = dict(zip(strict.id, strict.cluster_id))
    assert sum(strict_cid[a] == strict_cid[b] for a, b in zip(truth.left_id, truth.right_id)) >= 0.9 * len(truth)
    with pytest.raises(ParameterError, match="needs row embeddings"):
        dedupe(table, on=ON, encoder=False, scorer="cosine")
    with pytest.raises(ParameterError, match="scorer must be one of"):
        dedupe(table, on=ON, encoder=ENC, scorer="jaccard")


def test_dedupe_finds_product_code_duplicates():
    """Cameras that differ only in their model code, listed twice with the code and the words written differently;
    the word-hashing encoder cannot tell the models apart, the code comparison can."""
    rng = np.random.default_rng(0)
    codes = [f"DSC-W{100 + 10 * i}" for i in range(40)]
    first = [f"Sony Cyber-shot {c} digital camera silver" for c in codes]
    second = [f"sony {c.replace('-', '').lower()} 7.2mp camera (silver)" for c in codes]
    price = np.round(rng.uniform(100, 400, 40), 2)
    table = pd.DataFrame({"title": first + second, "price": np.r_[price, np.round(price * 1.02, 2)]})
    out = dedupe(table, on="title,price", encoder=ENC)
    scores = pairwise_scores(out.cluster_id.to_numpy(), np.r_[np.arange(40), np.arange(40)])
    assert scores["f1"] >= 0.95
    assert any(line.startswith("title: codes") for line in out.attrs["comparisons"])
    assert abs(out.attrs["estimate"].f1 - scores["f1"]) < 0.1


def test_clusters_and_representative_exact():
    assert clusters_from_pairs(5, [3, 0], [4, 1]).tolist() == [0, 0, 1, 2, 2]
    table = pd.DataFrame({"name": ["acme corp", "acme corp inc", "acme corporation inc", "zeta llc"]})
    # cosine weights: "name" is a shared word, 1/3 between strangers
    out = dedupe(table, on="name", threshold=0.5, encoder=ENC, scorer="cosine")
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
