"""The hybrid pair scorer: Fellegi-Sunter EM on known m/u, expected F1 against the truth, product codes, column
mapping, id and one-to-one defaults, per-table encodings and separators (issue 14)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main
from labelwise.errors import DataError, ShapeError
from labelwise.features import HashingTextEncoder
from labelwise.link import evaluate, link
from labelwise.link.compare import compare_columns
from labelwise.link.expected import best_expected_f1, expected_scores
from labelwise.link.fellegi_sunter import FellegiSunter, competing_probabilities
from labelwise.link.score import candidate_pairs, score_candidates
from tests.link.synthetic import planted

ENC = HashingTextEncoder(dim=256)
ON = ["name", "address", "town", "phone"]
M_TRUE = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.02, 0.08, 0.2, 0.7])]
U_TRUE = [np.array([0.7, 0.25, 0.05]), np.array([0.8, 0.2]), np.array([0.6, 0.25, 0.1, 0.05])]


def _sample_levels(n, lam, rng, missing=0.1):
    """Levels drawn from the known model, with ``missing`` of each comparison missing: (levels, is_match)."""
    match = rng.random(n) < lam
    cols = []
    for m, u in zip(M_TRUE, U_TRUE):
        lv = np.where(match, rng.choice(m.size, n, p=m), rng.choice(u.size, n, p=u))
        cols.append(np.where(rng.random(n) < missing, -1, lv))
    return np.stack(cols, axis=1), match


def test_em_recovers_known_m_u_and_lambda():
    levels, _ = _sample_levels(40_000, 0.15, np.random.default_rng(0))
    model = FellegiSunter([m.size for m in M_TRUE]).fit(levels)
    assert model.converged_ and abs(model.lambda_ - 0.15) < 0.01
    for m, u, m_hat, u_hat in zip(M_TRUE, U_TRUE, model.m_, model.u_):
        assert np.abs(m_hat - m).max() < 0.03 and np.abs(u_hat - u).max() < 0.02


def test_expected_f1_is_calibrated_on_data_from_the_model():
    levels, match = _sample_levels(20_000, 0.1, np.random.default_rng(1))
    prob = FellegiSunter([m.size for m in M_TRUE]).fit_predict_proba(levels)
    est = best_expected_f1(prob, prob.sum())
    accepted = prob >= est.threshold
    tp = (accepted & match).sum()
    true_f1 = 2 * tp / (accepted.sum() + match.sum())
    assert abs(est.f1 - true_f1) < 0.02 and abs(est.precision - tp / accepted.sum()) < 0.02


def test_expected_scores_exact_case():
    est = expected_scores(np.array([0.9, 0.8, 0.3]), total=2.5, threshold=0.5)
    assert est.accepted == 2 and est.precision == pytest.approx(0.85) and est.recall == pytest.approx(1.7 / 2.5)
    assert est.f1 == pytest.approx(2 * 1.7 / (2 + 2.5))


def test_competing_pairs_share_the_odds():
    # left 0 has two candidates with odds 1 each: each gets 1 / (1 + 1 + 1); a lone pair with odds 1 gets 1/2
    p = competing_probabilities(np.array([0, 0, 1]), np.array([0, 1, 2]), np.zeros(3))
    assert p == pytest.approx([1 / 3, 1 / 3, 1 / 2])


def _products(n=60, seed=0):
    """Cameras whose names differ only in their model code; the right side words them differently."""
    rng = np.random.default_rng(seed)
    codes = [f"DSC-W{100 + 10 * i}" for i in range(n)]
    left = pd.DataFrame({"id": [f"a{i}" for i in range(n)],
                         "title": [f"Sony Cyber-shot {c} digital camera silver" for c in codes],
                         "price": np.round(rng.uniform(100, 400, n), 2)})
    order = rng.permutation(n)
    right = pd.DataFrame({"id": [f"b{i}" for i in range(n)],
                          "name": [f"sony {codes[j].replace('-', '').lower()} 7.2mp camera (silver)" for j in order],
                          "price": np.round(left["price"].to_numpy()[order] * 1.02, 2)})
    truth = pd.DataFrame({"left_id": left["id"].to_numpy()[order], "right_id": right["id"]})
    return left, right, truth


def test_product_codes_are_matched_and_columns_mapped():
    left, right, truth = _products()
    result = link(left, right, on="title=name,price", encoder=ENC)
    assert evaluate(result.pairs, truth)["f1"] >= 0.95
    assert result.info["left_id"] == "id" and result.info["one_to_one"]
    assert any(line.startswith("title: codes") for line in result.info["comparisons"])
    with pytest.raises(DataError, match="both sides of '='"):
        link(left, right, on="title=", encoder=ENC)
    with pytest.raises(DataError, match="not in the right table"):
        link(left, right, on="title", encoder=ENC)


def test_code_levels_exact_case():
    made = compare_columns("t", ["tv LG 42LB5600 black", "tv LG 42LB5600", "camera x"],
                           ["lg 42lb-5600 tv", "lg 42lb5600b"], np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]),
                           min_share=0.0)
    text, codes = made[0], made[-1]
    assert codes.levels.tolist() == [2, 1, 1, -1]  # shared / one contains the other / no code on one side
    assert text.levels[3] == 0 and codes.name == "t: codes"


def test_self_linkage_scores_planted_duplicates():
    left, right, truth = planted(n_match=80, n_left_only=40, seed=7)
    both = pd.concat([left, right], ignore_index=True)
    cols = [both[c].astype(str).tolist() for c in ON]
    a, b = candidate_pairs(cols, None, k=5)
    assert (a < b).all() and len(set(zip(a, b))) == a.size
    scores = score_candidates(cols, None, a, b, names=ON)
    ids = both["id"].to_numpy()
    true = set(zip(truth.left_id, truth.right_id))
    is_dup = np.array([(ids[x], ids[y]) in true or (ids[y], ids[x]) in true for x, y in zip(a, b)])
    assert is_dup.sum() >= 75
    assert (scores.probability[is_dup] > 0.5).mean() > 0.9 and (scores.probability[~is_dup] < 0.5).mean() > 0.95


def test_automatic_one_to_one_and_ids():
    left, right, truth = planted(n_match=60, n_left_only=20, seed=3)
    left = left.rename(columns={"id": "ID"})
    result = link(left, right, on=ON, encoder=ENC)
    assert result.info["left_id"] == "ID" and result.info["right_id"] == "id" and result.info["one_to_one"]
    assert evaluate(result.pairs, truth)["f1"] >= 0.9
    # a right table where a third of the rows repeat: many-to-many, and said so
    repeated = pd.concat([right, right.head(len(right) // 3).assign(id=lambda f: f["id"] + "-copy")])
    result = link(left, repeated, on=ON, encoder=ENC)
    assert not result.info["one_to_one"] and "automatic: off" in result.info["one_to_one_reason"]
    assert link(left, repeated, on=ON, encoder=ENC, one_to_one=True).pairs["left_id"].is_unique
    plain = link(left.drop(columns="ID"), right.drop(columns="id"), on=ON, encoder=ENC)
    assert plain.info["left_id"] is None and set(plain.pairs["left_id"]) <= set(range(len(left)))


def test_cli_reads_each_table_with_its_own_encoding_and_separator(tmp_path, capsys):
    left = pd.DataFrame({"id": [1, 2, 3, 4], "name": ["Zoë Müller", "Jürgen Groß", "Ana Peña", "Łukasz Wójcik"],
                         "city": ["Köln", "München", "Sevilla", "Łódź"]})
    right = pd.DataFrame({"ref": ["r1", "r2", "r3", "r4"], "Name": ["Ana Peña", "Zoë Müller", "Łukasz Wójcik",
                                                                     "Jürgen Groß"],
                          "Town": ["Sevilla", "Köln", "Łódź", "München"]})
    # Latin-1 cannot hold 'Ł': that row is left out of the Latin-1 file
    left.head(3).to_csv(tmp_path / "left.csv", index=False, sep=";", encoding="latin-1")
    right.to_csv(tmp_path / "right.csv", index=False, encoding="utf-8")
    out = tmp_path / "pairs.csv"
    code = main(["link", str(tmp_path / "left.csv"), str(tmp_path / "right.csv"), "--on", "name=Name,city=Town",
                 "--left-encoding", "latin-1", "--left-sep", ";", "--right-id", "ref", "--encoder", "hashing",
                 "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    pairs = pd.read_csv(out)
    assert set(zip(pairs.left_id, pairs.right_id)) == {(1, "r2"), (2, "r4"), (3, "r1")}
    assert "ids: left column 'id' (found), right column 'ref'" in printed
    assert "one-to-one: yes (automatic" in printed and "estimated precision" in printed
    # one --encoding for both garbles nothing silently: UTF-8 for both stops on the Latin-1 file
    code = main(["link", str(tmp_path / "left.csv"), str(tmp_path / "right.csv"), "--on", "name=Name",
                 "--sep", ";", "--encoder", "hashing", "--out", str(out), "-q"])
    assert code == 2 and "latin-1" in capsys.readouterr().err


def test_one_to_one_is_a_flag_pair_without_a_value(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    main(["link", "--help"])
    line = next(x for x in capsys.readouterr().out.splitlines() if "--one-to-one" in x)
    assert "--many-to-many" in line and "<bool>" not in line
    left, right, _ = planted(n_match=10, seed=2)
    left.to_csv(tmp_path / "l.csv", index=False)
    right.to_csv(tmp_path / "r.csv", index=False)
    code = main(["link", str(tmp_path / "l.csv"), str(tmp_path / "r.csv"), "--on", "name", "--one-to-one", "yes",
                 "--encoder", "hashing", "-q", "--out", str(tmp_path / "p.csv")])
    assert code == 2  # "yes" is an unexpected extra argument, not the flag's value


def test_whole_numbers_are_compared_by_difference_not_ratio():
    # years 1960 and 1979 are within 1% of each other; as whole numbers they are different
    years = ["1960", "1979", "1967", "1976", "1968", "1960", "1999", "2000", ""]
    a, b = np.array([0, 2, 2, 6, 0, 0]), np.array([1, 3, 4, 7, 5, 8])
    (made,) = compare_columns("by", years, None, a, b)
    assert made.name == "by: integer"
    assert made.levels.tolist() == [0, 1, 2, 2, 3, -1]  # different / digits swapped / off by one (x2) / equal / missing
    assert made.level_names == ("different", "one digit apart", "off by one", "equal")
    # one-digit numbers (months, days) are never "one digit apart": that would be every pair of them
    (month,) = compare_columns("bm", ["3", "8", "4", "12", "21"], None, np.array([0, 0, 3]), np.array([1, 2, 4]))
    assert month.levels.tolist() == [0, 2, 1]
    # decimals (prices) keep the relative levels
    (price,) = compare_columns("p", ["100.00", "100.50", "150.25"], None, np.array([0, 0]), np.array([1, 2]))
    assert price.name == "p: number" and price.levels.tolist() == [2, 0]


def test_em_can_start_from_given_match_probabilities():
    levels, match = _sample_levels(20_000, 0.1, np.random.default_rng(2))
    model = FellegiSunter([m.size for m in M_TRUE]).fit(levels, start=match.astype(float))
    assert model.converged_ and abs(model.lambda_ - 0.1) < 0.01
    assert all(np.abs(m_hat - m).max() < 0.03 for m, m_hat in zip(M_TRUE, model.m_))
    with pytest.raises(ShapeError, match="one probability per pair"):
        FellegiSunter([m.size for m in M_TRUE]).fit(levels, start=np.ones(3))
