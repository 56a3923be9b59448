"""DBLP-ACM (Köpcke, Thor & Rahm 2010): real bibliographic records with a known perfect mapping.

Read in place from ../shared/datasets/linkage/dblp-acm (skipped when absent). DBLP2.csv is Latin-1.
The full MiniLM figures are in bench/linkage.py and bench/linkage_defaults.py; here the whole set runs with the
model-free hashing encoder, and MiniLM on a sample of 150 true pairs plus 50 unmatched rows each side.
"""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.shared]

from labelwise.data import read_table
from labelwise.features import HashingTextEncoder
from labelwise.link import evaluate, link
from tests.conftest import shared_dataset
from tests.link.stacked import read_dblp_acm


@pytest.fixture(scope="module")
def dblp_acm():
    return read_dblp_acm(shared_dataset("linkage", "dblp-acm"))


def test_dblp2_is_latin1_and_says_so(dblp_acm):
    with pytest.raises(Exception, match="latin-1"):
        read_table(shared_dataset("linkage", "dblp-acm", "DBLP2.csv"))


def test_whole_set_with_word_hashing(dblp_acm):
    left, right, truth = dblp_acm
    result = link(left, right, on=["title", "authors"], left_id="id", right_id="id", block_on="year",
                  one_to_one=True, encoder=HashingTextEncoder(dim=1024))
    scores = evaluate(result.pairs, truth)
    assert scores["f1"] >= 0.9, scores


@pytest.mark.model
def test_sample_with_minilm_unsupervised(dblp_acm):
    left, right, truth = dblp_acm
    sample = truth.sample(150, random_state=0)
    extra_l = left[~left.id.isin(truth.left_id)].head(50)
    extra_r = right[~right.id.isin(truth.right_id)].head(50)
    lsub = pd.concat([left[left.id.isin(sample.left_id)], extra_l])
    rsub = pd.concat([right[right.id.isin(sample.right_id)], extra_r])
    result = link(lsub, rsub, on=["title", "authors"], left_id="id", right_id="id", block_on="year",
                  one_to_one=True)
    scores = evaluate(result.pairs, sample)
    assert scores["f1"] >= 0.95, (scores, result.threshold)


def test_cli_defaults_reach_the_measured_floor(dblp_acm, tmp_path, capsys):
    """``labelwise link`` with its defaults (ids, one-to-one and threshold chosen for the user) and the model-free
    encoder: F1 0.986 when measured (bench/linkage_defaults.py --fast), estimated F1 0.994; floor 0.975."""
    import re

    from labelwise.cli.main import main

    _, _, truth = dblp_acm
    folder = shared_dataset("linkage", "dblp-acm")
    out = tmp_path / "pairs.csv"
    code = main(["link", str(folder / "DBLP2.csv"), str(folder / "ACM.csv"), "--on", "title,authors,venue,year",
                 "--left-encoding", "latin-1", "--encoder", "hashing", "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert code == 0 and "ids: left column 'id' (found), right column 'id' (found)" in printed
    assert "one-to-one: yes (automatic" in printed
    f1 = evaluate(pd.read_csv(out), truth)["f1"]
    estimated = float(re.search(r"estimated precision [\d.]+, recall [\d.]+, F1 ([\d.]+)", printed).group(1))
    assert f1 >= 0.975 and abs(estimated - f1) <= 0.02, (f1, estimated)
