"""The audit reads the user's columns before it learns (issue 14): free text is found and embedded, never one-hot
encoded; text that says nothing, numeric labels that are a quantity and impossible folds stop with one line; folds
too many for the classes are cut, with a note."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import labelwise
from labelwise.errors import DataError, ParameterError
from tests.conftest import shared_dataset

TOPICS = {
    "card": ["my card has not arrived", "where is my new card", "the card is still not here", "card delivery is late"],
    "refund": ["I want my money back", "please refund this order", "how do I get a refund", "return and refund it"],
    "pin": ["I forgot my pin", "how do I change my pin", "my pin is blocked", "reset the pin code please"],
}


def _complaints(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """n rows: a complaint whose words give its topic away, the topic, a city (a category), a row number."""
    rng = np.random.default_rng(seed)
    topics = [list(TOPICS)[i % 3] for i in range(n)]
    texts = [f"{rng.choice(TOPICS[t])} {rng.choice(['today', 'again', 'since monday', 'thanks'])} #{i}"
             for i, t in enumerate(topics)]
    return pd.DataFrame({"row": np.arange(n), "complaint": texts, "topic": topics,
                         "city": rng.choice(["New York", "Berlin", "Paris"], n)})


def _audit(frame, **kwargs):
    return labelwise.audit_dataset(frame, label="topic", encoder="tfidf", checks=(), **kwargs)


def test_a_free_text_column_is_found_and_embedded_not_one_hot_encoded():
    frame = _complaints()
    result = _audit(frame)
    assert result.settings["text_columns"] == ["complaint"] and "feature_columns" not in result.settings
    (note,) = result.settings["notes"]
    assert note.startswith("column 'complaint' looks like free text") and "--text" in note and "city" in note
    named = _audit(frame, text="complaint")  # the same audit as naming the column
    np.testing.assert_allclose(result.pred_probs, named.pred_probs)
    assert "notes" not in named.settings
    assert (result.suggested == result.given).mean() > 0.9  # the words give the topic away


def test_several_text_columns_stop_with_their_names():
    frame = _complaints().assign(reply=lambda f: "we are sorry about " + f["complaint"])
    with pytest.raises(DataError, match=r"2 columns that look like free text: 'complaint' .*'reply' .*--text COLUMN"):
        _audit(frame)
    assert _audit(frame, text=["complaint", "reply"]).settings["text_columns"] == ["complaint", "reply"]


def test_without_text_categories_stay_categories_and_a_row_number_is_left_out():
    frame = _complaints().drop(columns="complaint")
    frame["city"] = np.where(frame["topic"] == "pin", "Berlin", frame["city"])
    result = _audit(frame)
    assert result.settings["feature_columns"] == ["city"] and "text_columns" not in result.settings
    assert result.settings["notes"] == ["left out 'row': a different value in every row, an identifier rather than a "
                                        "feature (name it with --features to use it anyway)."]
    explicit = _audit(frame, features=["row", "city"])
    assert explicit.settings["feature_columns"] == ["row", "city"]


@pytest.mark.parametrize("fill, says", [("", "is empty in every row"), (None, "is empty in every row"),
                                        ("same words", "holds the same value 'same words' in every row")])
def test_an_empty_or_constant_text_column_is_refused(fill, says):
    frame = _complaints().assign(complaint=fill)
    with pytest.raises(DataError, match=f"Text column 'complaint' of <DataFrame> {says}"):
        _audit(frame, text="complaint")


def test_a_continuous_numeric_label_is_refused_and_few_integers_stay_classes():
    frame = _complaints()
    frame["price"] = np.random.default_rng(1).gamma(2.0, 10.0, len(frame))
    with pytest.raises(DataError, match=r"Label column 'price' .* 90 different numbers in 90 rows .*regression"):
        labelwise.audit_dataset(frame, label="price", text="complaint", encoder="tfidf")
    frame["stars"] = frame["topic"].map({"card": 1, "refund": 2, "pin": 5})
    result = labelwise.audit_dataset(frame, label="stars", text="complaint", encoder="tfidf", checks=())
    assert result.classes == ["1", "2", "5"]


def test_folds_are_cut_to_the_largest_class_with_a_note():
    frame = _complaints(12)  # classes of 4 rows: 5 folds are impossible, 4 hold out one row of each class at a time
    result = _audit(frame, text="complaint")
    assert result.settings["n_folds"] == 4
    assert result.settings["notes"] == ["cross-validation used 4 folds instead of 5: no class has more than 4 rows, "
                                        "so 4 folds already train each row's model on every other row of its class."]
    assert (result.suggested == result.given).mean() > 0.6  # chance is 1/3
    assert _audit(frame, text="complaint", n_folds=3).settings["n_folds"] == 3  # feasible: kept, no note


def test_impossible_folds_are_one_line_errors():
    frame = _complaints(12)
    with pytest.raises(ParameterError, match="--folds 13 .* more than the 12 rows"):
        _audit(frame, text="complaint", n_folds=13)
    frame["topic"] = [f"t{i}" for i in range(12)]
    with pytest.raises(DataError, match="Every class in label column 'topic' .* has a single row"):
        _audit(frame, text="complaint")


def test_a_class_of_one_row_keeps_the_other_folds_stratified():
    """A singleton class is noted (AuditResult.classes_too_small), and the other classes still get stratified folds:
    each 4-row class keeps 3 training rows for every held-out row, so the model still learns it."""
    frame = _complaints(13)
    frame.loc[12, "topic"] = "lonely"
    result = _audit(frame, text="complaint", n_folds=4)
    assert result.classes_too_small == ["lonely"]
    assert (result.suggested[:12] == result.given[:12]).mean() > 0.6  # chance is 1/3


@pytest.mark.shared
@pytest.mark.slow
def test_banking77_without_text_embeds_its_text_column():
    frame = pd.read_csv(shared_dataset("banking77", "train.csv")).groupby("category").head(12)
    result = labelwise.audit_dataset(frame, label="category", encoder="tfidf", checks=())
    assert result.settings["text_columns"] == ["text"]
    assert result.settings["notes"][0].startswith("column 'text' looks like free text (11.5 words per value, 100% "
                                                 "distinct)")
    assert result.is_issue.mean() < 0.3  # one-hot text flagged 87% of rows
