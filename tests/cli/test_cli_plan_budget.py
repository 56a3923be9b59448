"""``labelwise plan-budget`` on a pilot table a user brings (hashing encoder: no model): the per-budget table, the
recommendation, the files written, and one-line errors on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main

WORDS = {"refund": ["refund", "money back", "return"], "card": ["card", "lost card", "pin"],
         "transfer": ["transfer", "wire", "send money"]}


def _pilot(n: int = 240, n_expert: int = 90, seed: int = 0) -> pd.DataFrame:
    """Texts whose words give the label away; experts are always right, the weak labeller calls every
    'transfer' a 'refund' (a systematic error) and is right elsewhere."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(WORDS), size=n)
    filler = ["please", "help", "today", "my", "account", "why", "how", "bank"]
    texts = [" ".join([*rng.choice(WORDS[y], 2), *rng.choice(filler, 4)]) for y in labels]
    weak = np.where(labels == "transfer", "refund", labels)
    expert = np.where(np.arange(n) < n_expert, labels, None)
    return pd.DataFrame({"text": texts, "expert": expert, "llm": weak})


def _run(tmp_path, table, *extra):
    path = tmp_path / "pilot.csv"
    table.to_csv(path, index=False)
    return main(["plan-budget", str(path), "--text", "text", "--oracle", "expert", "--weak", "llm",
                 "--encoder", "hashing", "--seeds", "2", "-q", *extra])


def test_prints_the_regimes_recommends_and_writes_the_table(tmp_path, capsys):
    code = _run(tmp_path, _pilot(), "--oracle-cost", "1", "--weak-cost", "0.1", "--budgets", "2,60",
                "--budget", "20", "--out", str(tmp_path / "plan"))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "pilot: 63 expert labels to buy from" in printed and "27 expert labels held out" in printed
    assert "recommended for 20: buy" in printed
    front = pd.read_csv(tmp_path / "plan" / "frontier.csv")
    assert front["budget"].tolist() == [2.0, 20.0, 60.0]
    # 60 expert labels (always right) beat 600 weak ones that call every 'transfer' a 'refund' (right on ~2/3).
    top = front.iloc[-1]
    assert top["best_f"] > 0 and top["accuracy"] > 0.9 and top["regime"] != "quantity"
    summary = pd.read_csv(tmp_path / "plan" / "summary.csv")
    weak_only = summary[(summary.budget == 60.0) & (summary.oracle_frac == 0.0)].iloc[0]
    assert weak_only["n_weak"] == 213 and weak_only["accuracy"] < 0.8  # capped at the pool; ~2/3 right
    for line in front.itertuples():
        assert f"{line.budget:>8g}  " in printed


@pytest.mark.parametrize("change, options, message", [
    (lambda t: t.assign(expert=t.expert.where(t.index < 12)), ("--oracle-cost", "1", "--weak-cost", "0.1"),
     "has 12 expert labels; the planner needs at least 20"),
    (lambda t: t.assign(llm=t.llm.str.upper()), ("--oracle-cost", "1", "--weak-cost", "0.1"),
     "use different label sets"),
    (lambda t: t, ("--oracle-cost", "1", "--weak-cost", "0"), "label costs must be > 0"),
    (lambda t: t, ("--oracle-cost", "1", "--weak-cost", "0.1", "--budget", "-3"), "--budget must be > 0"),
    (lambda t: t, ("--oracle-cost", "1", "--weak-cost", "0.1", "--budget", "inf"), "--budget must be > 0 and finite"),
    (lambda t: t, ("--oracle-cost", "1", "--weak-cost", "0.1", "--budgets", "4,nan"), "budgets must be one or more"),
    (lambda t: t, ("--oracle-cost", "inf", "--weak-cost", "0.1"), "label costs must be > 0 and finite"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, change, options, message):
    code = _run(tmp_path, change(_pilot()), *options)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_numeric_labels_with_empty_expert_cells_are_one_label_set(tmp_path, capsys):
    """Labels 0/1/2: pandas reads the expert column (empty cells) as floats and the weak one as integers; "1.0" and
    "1" are the same label, as in every labelwise command."""
    table = _pilot()
    codes = {name: i for i, name in enumerate(WORDS)}
    table = table.assign(expert=table.expert.map(codes), llm=table.llm.map(codes))
    code = _run(tmp_path, table, "--oracle-cost", "1", "--weak-cost", "0.1", "--budgets", "8")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "3 labels" in out.out
