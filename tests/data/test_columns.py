"""labelwise.data.columns: the kind of a column from its values (issue 14: free text is never taken for a category)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.data.columns import CATEGORY, CONSTANT, EMPTY, ID, NUMERIC, TEXT, profile_column
from tests.conftest import shared_dataset

RNG = np.random.default_rng(0)
SUBJECTS = ["my card", "the refund", "a transfer", "my pin", "the app", "this fee", "my account", "the payment"]
VERBS = ["has not arrived", "was declined", "is blocked", "looks wrong", "keeps failing", "was charged twice"]
TAILS = ["since monday", "again", "after the update", "abroad", "today", "for a week", "", "at the shop"]


def _sentences(n: int, repeats: int = 0) -> list[str]:
    """n short complaints, mostly different; the first ``repeats`` rows repeat earlier ones."""
    texts = [f"{SUBJECTS[i % 8]} {VERBS[(i // 8) % 6]} {TAILS[(i // 48) % 8]} ({i})".replace("  ", " ")
             for i in range(n)]
    for i in range(repeats):
        texts[i] = texts[-1 - i]
    return texts


def _kinds(frame: pd.DataFrame) -> dict:
    return {c: profile_column(frame[c]).kind for c in frame.columns}


def test_a_table_of_known_kinds_is_read_column_by_column():
    n = 200
    frame = pd.DataFrame({
        "complaint": _sentences(n, repeats=40),  # 20% repeated: text all the same
        "city": RNG.choice(["New York", "San Francisco", "Los Angeles", "Berlin"], n),
        "answer": RNG.choice(["Strongly agree", "Neither agree nor disagree", "Strongly disagree"], n),
        "plan": RNG.choice(["basic", "premium", "business"], n),
        "amount": RNG.normal(50, 10, n),
        "visits": RNG.integers(0, 5, n),
        "row": np.arange(n),
        "order_id": [f"ORD-{i:06d}" for i in RNG.permutation(n)],
        "flag": RNG.random(n) < 0.5,
        "note": [None] * n,
        "source": ["web form"] * n,
    })
    assert _kinds(frame) == {
        "complaint": TEXT, "city": CATEGORY, "answer": CATEGORY, "plan": CATEGORY, "amount": NUMERIC,
        "visits": NUMERIC, "row": ID, "order_id": ID, "flag": CATEGORY, "note": EMPTY, "source": CONSTANT,
    }


def test_the_signals_are_measured_on_the_values():
    profile = profile_column(pd.Series(["I lost my card", "it was declined", None, "hi", "I lost my card"]))
    assert (profile.n_values, profile.n_distinct) == (4, 3)
    assert profile.mean_words == pytest.approx((4 + 3 + 1 + 4) / 4)
    assert profile.spaced_share == pytest.approx(3 / 4)
    assert profile.distinct_ratio == pytest.approx(3 / 4)


@pytest.mark.parametrize("values, kind", [
    (["a long enough sentence here"] * 3 + ["another sentence of words"] * 3, CATEGORY),  # two levels, long names
    ([f"sentence number {i} of many" for i in range(12)], TEXT),  # a small table of sentences
    ([f"sentence number {i} of many" for i in range(9)], CATEGORY),  # too few distinct values to tell
    (["", "  ", None], EMPTY),
    ([1.5, 2.5, 3.5] * 10, NUMERIC),
    (list(range(100, 130)), ID),  # a running number
    (list(range(0, 60, 2)), NUMERIC),  # distinct integers with gaps: could be a measurement
    ([f"k{i}" for i in range(10)], CATEGORY),  # ten distinct keys are too few to call them identifiers
])
def test_edge_cases(values, kind):
    assert profile_column(pd.Series(values)).kind == kind


def test_many_distinct_multi_word_values_are_text_even_when_they_repeat():
    """Past what one-hot can hold (50 levels), multi-word values are text although most rows repeat one."""
    values = pd.Series(_sentences(300)[:120] * 5)
    profile = profile_column(values)
    assert profile.distinct_ratio == pytest.approx(0.2) and profile.kind == TEXT


@pytest.mark.shared
def test_banking77_text_is_text_and_its_intent_a_category():
    frame = pd.read_csv(shared_dataset("banking77", "train.csv"))
    assert _kinds(frame) == {"text": TEXT, "category": CATEGORY}
    acm = pd.read_csv(shared_dataset("linkage", "dblp-acm", "ACM.csv"), encoding="latin-1")
    assert _kinds(acm)["title"] == TEXT and _kinds(acm)["venue"] == CATEGORY and _kinds(acm)["year"] == NUMERIC
