"""NLU++ loader against counts verified from the raw JSON files (../shared/datasets/nlupp)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = [pytest.mark.shared]

from labelwise.data.nlupp import (
    intent_matrix,
    load_nlupp,
    load_nlupp_ontology,
    nlupp_cross_domain,
    nlupp_intent_names,
    nlupp_splits,
)
from labelwise.errors import DataError
from tests.conftest import shared_dataset


@pytest.fixture(scope="module")
def root():
    return shared_dataset("nlupp")


@pytest.fixture(scope="module")
def table(root):
    return load_nlupp(root)


def test_counts(table, root):
    # counted from the raw files: 2,071 BANKING and 1,009 HOTELS utterances in 20 folds each
    assert len(table) == 3080
    assert table.groupby("domain").size().to_dict() == {"banking": 2071, "hotels": 1009}
    assert table.groupby(["domain", "fold"]).size().loc["banking"].tolist()[:3] == [104, 105, 102]
    assert list(table.columns) == ["id", "domain", "fold", "text", "intents", "slots"]
    n_intents = table["intents"].map(len)
    assert int((n_intents[table.domain == "banking"] == 0).sum()) == 88
    assert int((n_intents[table.domain == "hotels"] == 0).sum()) == 274
    assert int(table.loc[table.domain == "banking", "slots"].map(len).sum()) == 944
    assert int(table.loc[table.domain == "hotels", "slots"].map(len).sum()) == 1043
    onto = load_nlupp_ontology(root)
    assert len(onto["intents"]) == 62 and len(onto["slots"]) == 17
    assert table.loc[0, "text"] == json.loads((root / "banking" / "fold0.json").read_text())[0]["text"]


def test_slot_spans_point_into_text(table):
    for text, slots in zip(table["text"], table["slots"]):
        for s in slots:
            assert text[s["start"]:s["end"]] == s["text"]


def test_intent_names_and_matrix(table, root):
    onto = load_nlupp_ontology(root)
    assert len(nlupp_intent_names(onto, "banking")) == 48  # 25 general + 22 banking + 1 shared
    assert len(nlupp_intent_names(onto, "hotels")) == 40  # 25 general + 14 hotels + 1 shared
    assert len(nlupp_intent_names(onto, generic_only=True)) == 25
    names = nlupp_intent_names(onto, "all")
    Y = intent_matrix(table["intents"], names)
    assert Y.shape == (3080, 62)
    assert int(Y.sum()) == int(table["intents"].map(len).sum()) == 6193
    # the raw file lists one intent twice (6,194 entries); the table keeps intents as a set
    raw = json.loads((root / "banking" / "fold13.json").read_text())[74]["intents"]
    assert len(raw) == 4 and table.loc[table.id == "banking/13/74", "intents"].iloc[0] == list(dict.fromkeys(raw))


@pytest.mark.parametrize("setting,runs,train_folds", [("low", 20, 1), ("mid", 10, 2), ("large", 10, 18),
                                                       ("high", 10, 18)])
def test_splits(table, setting, runs, train_folds):
    splits = nlupp_splits(table, "banking", setting)
    assert len(splits) == runs
    banking = set(np.flatnonzero(table["domain"].to_numpy() == "banking"))
    for tr, te in splits:
        assert set(tr) | set(te) == banking and not set(tr) & set(te)
        assert table["fold"].to_numpy()[tr].tolist().count  # non-empty
        assert len(np.unique(table["fold"].to_numpy()[tr])) == train_folds
    all_runs = nlupp_splits(table, "all", "low")
    assert len(all_runs[0][0]) == int((table["fold"] == 0).sum())


def test_cross_domain(table):
    tr, te = nlupp_cross_domain(table, "banking", "hotels")
    assert len(tr) == 2071 and len(te) == 1009
    with pytest.raises(DataError):
        nlupp_cross_domain(table, "banking", "banking")


def test_wrong_paths_raise_data_error(tmp_path, root):
    with pytest.raises(DataError, match="not found"):
        load_nlupp(tmp_path / "nope")
    with pytest.raises(DataError, match="ontology.json"):
        load_nlupp(tmp_path)
    shutil.copy(root / "ontology.json", tmp_path / "ontology.json")
    (tmp_path / "banking").mkdir()
    with pytest.raises(DataError, match="fold0.json"):
        load_nlupp(tmp_path, domains=("banking",))
    (tmp_path / "banking" / "fold0.json").write_text("[{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_nlupp(tmp_path, domains=("banking",))
    with pytest.raises(DataError, match="domain"):
        load_nlupp(root, domains=("shops",))
    with pytest.raises(DataError, match="setting"):
        nlupp_splits(load_nlupp(root, domains=("hotels",)), "hotels", "huge")
