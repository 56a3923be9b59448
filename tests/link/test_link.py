"""link / choose_threshold / one-to-one / blocking / evaluate on tables with planted matches (known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.features import HashingTextEncoder
from labelwise.link import choose_threshold, evaluate, link
from labelwise.link.assign import one_to_one
from labelwise.link.serialise import serialise
from labelwise.link.threshold import otsu_threshold, runner_up_threshold, unsupervised_threshold
from tests.link.synthetic import planted

ENC = HashingTextEncoder(dim=512)
ON = ["name", "address", "town", "phone"]


def test_planted_matches_are_found_without_labels():
    left, right, truth = planted(n_match=120, n_left_only=40, n_right_only=30, seed=1)
    result = link(left, right, on=ON, left_id="id", right_id="id", encoder=ENC, one_to_one=True)
    scores = evaluate(result.pairs, truth)
    assert scores["f1"] >= 0.9, scores
    assert result.threshold.method == "expected F1"
    assert abs(result.info["estimate"].f1 - scores["f1"]) < 0.05  # the printed estimate is near the truth
    assert list(result.pairs.columns) == ["left_id", "right_id", "score"]
    # every left row appears in merged once (one-to-one), matched ones carry their partner's columns
    assert len(result.merged) == len(left)
    matched = result.merged.dropna(subset=["id_right"])
    assert set(zip(matched["id"], matched["id_right"])) == set(zip(result.pairs.left_id, result.pairs.right_id))
    assert "LinkResult(" in repr(result)


def test_given_threshold_and_candidates():
    left, right, truth = planted(n_match=30, seed=2)
    result = link(left, right, on=ON, left_id="id", right_id="id", encoder=ENC, threshold=0.99, k=3)
    assert result.threshold.method == "given"
    assert (result.pairs["score"] >= 0.99).all()
    # each left row: its 3 nearest by embedding, union its 3 nearest by character n-grams
    per_left = result.candidates.groupby("left_id").size()
    assert per_left.min() >= 3 and per_left.max() <= 6 and result.candidates["rank"].max() == per_left.max()


def test_one_to_one_keeps_each_row_once():
    left, right, _ = planted(n_match=50, seed=3)
    result = link(left, right, on=ON, left_id="id", right_id="id", encoder=ENC, threshold=0.0, one_to_one=True)
    assert result.pairs["left_id"].is_unique and result.pairs["right_id"].is_unique


def test_hungarian_beats_greedy_on_an_exact_case():
    # greedy would take (0,0)=0.9 and then (1,1)=0.1: total 1.0; the optimum is (0,1)+(1,0) = 0.8+0.8
    keep = one_to_one(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.8, 0.1]))
    assert keep.tolist() == [False, True, True, False]


def test_blocking_never_pairs_across_blocks():
    left, right, truth = planted(n_match=60, seed=4)
    result = link(left, right, on=["name", "address"], left_id="id", right_id="id", block_on="town", encoder=ENC,
                  threshold=0.0)
    towns_l = dict(zip(left.id, left.town))
    towns_r = dict(zip(right.id, right.town))
    assert all(towns_l[a] == towns_r[b] for a, b in zip(result.candidates.left_id, result.candidates.right_id))
    assert evaluate(result.pairs, truth)["recall"] == 1.0  # planted copies keep their town


def test_choose_threshold_from_a_few_labels():
    left, right, truth = planted(n_match=100, n_left_only=50, seed=5)
    result = link(left, right, on=ON, left_id="id", right_id="id", encoder=ENC, one_to_one=True)
    labelled = pd.concat([truth.head(15).assign(match=1),
                          pd.DataFrame({"left_id": left.id.iloc[-10:], "right_id": right.id.iloc[:10].to_numpy(),
                                        "match": 0})])
    choice = choose_threshold(result.candidates, labelled, one_to_one=True)
    assert choice.method == "labelled"
    again = link(left, right, on=ON, left_id="id", right_id="id", encoder=ENC, one_to_one=True,
                 threshold=choice.value)
    assert evaluate(again.pairs, truth)["f1"] >= 0.9


def test_runner_up_threshold_exact_case():
    # 800 records with a match near 0.95, 200 without: their best, like everyone's runner-up, is near 0.5
    rng = np.random.default_rng(0)
    top1 = np.r_[rng.uniform(0.9, 1.0, 800), rng.uniform(0.4, 0.6, 200)]
    top2 = rng.uniform(0.4, 0.6, 1000)
    value, pi0, f1 = runner_up_threshold(top1, top2)
    assert 0.6 <= value <= 0.9
    assert abs(pi0 - 0.2) < 0.1 and f1 > 0.95


def test_threshold_fallbacks_and_otsu():
    assert unsupervised_threshold(np.array([]), None).method == "default"
    two_modes = np.r_[np.full(50, 0.3), np.full(50, 0.9)]
    assert 0.3 < otsu_threshold(two_modes) <= 0.9
    few = unsupervised_threshold(np.r_[np.full(5, 0.3), np.full(5, 0.9)], None)
    assert 0.3 < few.value < 0.9


def test_evaluate_exact():
    pairs = pd.DataFrame({"left_id": [1, 2, 3], "right_id": ["a", "b", "x"]})
    truth = pd.DataFrame({"l": ["1", "2", "4"], "r": ["a", "b", "d"]})  # ids compared as text
    s = evaluate(pairs, truth)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["precision"] == pytest.approx(2 / 3) and s["f1"] == pytest.approx(2 / 3)


def test_serialise_names_fields_and_never_writes_nan():
    table = pd.DataFrame({"title": ["Deep  nets\n", None], "year": [1999.0, np.nan]})
    assert serialise(table, ["title", "year"]) == ["title: Deep nets ; year: 1999", "title:  ; year: "]
    assert "nan" not in " ".join(serialise(table, ["title", "year"])).lower()


def test_result_saves_and_reports_progress(tmp_path):
    left, right, _ = planted(n_match=20, seed=6)
    calls = []
    result = link(left, right, on=ON, left_id="id", right_id="id", block_on="town", encoder=ENC,
                  progress=lambda stage, done, total: calls.append((stage, done, total)))
    folder = result.save(tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == ["candidates.csv", "merged.csv", "pairs.csv"]
    assert ("searching", 1, 1) in calls and any(stage == "searching blocks" for stage, _, _ in calls)
