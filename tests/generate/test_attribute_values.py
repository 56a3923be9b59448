"""extract_attribute_values (HyperPAVE's workflow) on a small synthetic catalogue with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import DataError, ParameterError
from labelwise.features.hashing import HashingTextEncoder
from labelwise.generate.attribute_values import AttributeValueResult, extract_attribute_values
from labelwise.testing.catalog import make_catalog, zero_shot_split

COLUMNS = ["row", "kind", "name", "value", "start", "end", "confidence", "source"]


@pytest.fixture(scope="module")
def catalogue():
    cat = make_catalog(200, random_state=1)
    split = zero_shot_split(cat.edges, n_unseen_val=1, n_unseen_test=2, random_state=1)
    known = cat.known(split.train_edges)
    groups = [list(v) for v in cat.also_view]
    return cat, split, known, groups


def test_extracts_for_rows_without_labels_and_scores_unseen_values(catalogue, tmp_path):
    cat, split, known, groups = catalogue
    result = extract_attribute_values(cat.texts, known, cat.attributes, groups=groups,
                                      encoder=HashingTextEncoder(128), top_k=3)
    frame = result.to_frame()
    assert list(frame.columns) == COLUMNS
    assert str(frame["start"].dtype) == "Int64" and str(frame["end"].dtype) == "Int64"
    query = set(split.query_products.tolist())
    assert set(frame["row"]) == query  # only the rows without known labels, each with its top 3
    assert (frame.groupby("row").size() == 3).all()
    assert ((frame["confidence"] >= 0) & (frame["confidence"] <= 1)).all()
    assert set(frame["kind"]) == {"attribute"} and set(frame["source"]) == {"hypergraph"}
    # zero-shot values: exactly those no known row has (the held-out ones among them); some are extracted
    unseen = {cat.av_strings[a] for a in np.union1d(split.val_avs, split.test_avs)}
    no_row = set(cat.av_strings) - {cat.av_strings[a] for a in split.train_edges[:, 1]}
    assert unseen <= no_row == {f"{a}: {v}" for (a, v), z in zip(result.labels, result.zero_shot) if z}
    assert (frame["name"] + ": " + frame["value"]).isin(unseen).any()
    # offsets point at the value in the text when it is there
    for r, v, s, e in frame[["row", "value", "start", "end"]].itertuples(index=False):
        if s is not pd.NA:
            assert cat.texts[r][s:e].lower() == v.lower()
    # the top 3 recover the truth far above chance (~3 / 60 values)
    Y = cat.label_matrix()
    hits = [Y[r, cat.av_strings.index(f"{a}: {v}")] for r, a, v in frame[["row", "name", "value"]].itertuples(
        index=False)]
    assert np.mean(hits) > 0.3
    # save / load round trip
    loaded = AttributeValueResult.load(result.save(tmp_path / "out"))
    pd.testing.assert_frame_equal(loaded.to_frame(), frame)
    assert (tmp_path / "out" / "attribute_values.csv").is_file() and "zero-shot" in repr(loaded)


def test_tuned_threshold_and_known_formats(catalogue):
    cat, split, known, groups = catalogue
    known = [pd.NA if k is None else "; ".join(k) for k in known]  # one string per row, NA to label, as a table holds
    as_text = ["; ".join(map(str, g)) for g in groups]
    result = extract_attribute_values(cat.texts, known, cat.attributes, groups=as_text, encoder=HashingTextEncoder(128))
    assert result.settings["hyperedges"] == sum(len(set([i, *g])) >= 2 for i, g in enumerate(groups))
    assert result.settings["threshold_tuned"] and 0 < result.threshold < 1
    frame = result.to_frame()
    assert (frame["confidence"] > result.threshold).all()
    assert not result.selected[~result.predicted].any()
    fixed = extract_attribute_values(cat.texts, known, cat.attributes, encoder=HashingTextEncoder(128), threshold=0.9,
                                     top_k=1)
    counts = fixed.to_frame().groupby("row").size()
    assert (counts <= 1).all() and (fixed.to_frame()["confidence"] > 0.9).all()


def test_bad_input_errors(catalogue):
    cat, _, known, _ = catalogue
    enc = HashingTextEncoder(16)
    texts, attrs = cat.texts, cat.attributes
    bad = list(known)
    first = next(i for i, k in enumerate(bad) if k)
    bad[first] = ["colour: sky"]
    with pytest.raises(DataError, match=f"row {first}: known label 'colour: sky' is not"):
        extract_attribute_values(texts, bad, attrs, encoder=enc)
    with pytest.raises(DataError, match="no row has a known"):
        extract_attribute_values(texts, [None] * len(texts), attrs, encoder=enc)
    groups = [[0]] * len(texts)
    groups[5] = [1, 10_000]
    with pytest.raises(DataError, match="row 5: groups names row 10000, outside"):
        extract_attribute_values(texts, known, attrs, groups=groups, encoder=enc)
    with pytest.raises(DataError, match="entries for"):
        extract_attribute_values(texts, known[:-1], attrs, encoder=enc)
    with pytest.raises(DataError, match="non-empty list"):
        extract_attribute_values(texts, known, {"color": "red"}, encoder=enc)
    with pytest.raises(ParameterError, match="top_k"):
        extract_attribute_values(texts, known, attrs, encoder=enc, top_k=0)
    with pytest.raises(DataError, match="attribute_values.npz"):
        AttributeValueResult.load(".")


@pytest.mark.model
def test_default_encoder_is_minilm():
    texts = ["Red cotton shirt, soft.", "A blue wool shirt.", "Shirt in teal, cotton.", "Wool jumper, blue."]
    known = [["color: red", "material: cotton"], ["color: blue", "material: wool"], None, None]
    attributes = {"color": ["red", "blue", "teal"], "material": ["cotton", "wool"]}
    result = extract_attribute_values(texts, known, attributes, top_k=2)
    frame = result.to_frame()
    assert set(frame["row"]) == {2, 3} and result.zero_shot.tolist() == [False, False, True, False, False]
    assert result.settings["encoder"] == "TextEncoder"


def test_groups_cells_as_a_table_holds_them():
    """A groups column of single positions reads as int (or float with empty cells); junk is an error, not dropped."""
    from labelwise.generate.attribute_values import _groups

    assert _groups([1, 0.0, float("nan"), "2; 0", "1,2", np.int64(1)], 6)["groups"] == [
        [0, 1], [1, 0], [3, 2, 0], [4, 1, 2], [5, 1]]
    for cell in ("x", "1; y", "1.5", [1.5]):
        with pytest.raises(DataError, match="row 0: groups must list row positions"):
            _groups([cell, None], 2)
