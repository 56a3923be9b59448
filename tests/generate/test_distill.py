"""TnT-LLM phase 2: an LLM labels a sample with the taxonomy, a classifier learns from it and labels the rest.
A deterministic fake model plays the LLM so the expected labels are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder
from labelwise.generate.distill import DistilledClassifier, agreement, label_with_taxonomy, taxonomy_instruction
from labelwise.generate.evaluate import mutual_best_matches, taxonomy_alignment
from labelwise.generate.taxonomy import Category, Taxonomy
from labelwise.testing import FakeBackend

TAXONOMY = Taxonomy([Category("Card delivery", "the card has not arrived"), Category("Top up", "adding money"),
                     Category("Exchange rate", "a wrong rate")], "bank intents")
KEYWORDS = {"Card delivery": "card", "Top up": "top", "Exchange rate": "rate"}
rng = np.random.default_rng(0)
WORDS = {"Card delivery": ["card", "arrived", "post", "delivery"], "Top up": ["top", "cash", "deposit", "add"],
         "Exchange rate": ["rate", "euros", "exchange", "currency"], "Other": ["weather", "lunch", "music", "film"]}
TRUE = [list(WORDS)[i % 4] for i in range(120)]
TEXTS = [" ".join(rng.choice(WORDS[t], size=3)) + f" message {i}" for i, t in enumerate(TRUE)]


def oracle(prompt: str, continuation: str) -> float:
    """Log-likelihood 0 for the label whose keyword set the text uses, -5 for the rest."""
    text = prompt.rsplit("Text:", 1)[1]
    label = continuation.strip()
    return 0.0 if any(w in text.split() for w in WORDS.get(label, [])) else -5.0


def test_the_instruction_lists_every_category_with_its_description_and_other():
    text = taxonomy_instruction(TAXONOMY)
    assert "1. Card delivery: the card has not arrived" in text and "4. Other: fits none" in text
    assert "(bank intents)" in text


def test_distilled_labels_agree_with_the_llm_and_cost_a_fraction_of_its_calls():
    backend = FakeBackend(score=oracle)
    result = label_with_taxonomy(TEXTS, TAXONOMY, backend=backend, sample=60, holdout=0.25, calibration="none",
                                 encoder=HashingTextEncoder(dim=256), random_state=1)
    assert result.classes == ["Card delivery", "Top up", "Exchange rate", "Other"]
    labelled = [i for i, v in enumerate(result.llm_label) if v is not None]
    assert len(labelled) == 60
    assert all(result.llm_label[i] == TRUE[i] for i in labelled)  # the oracle LLM is right
    held = result.metrics["heldout_agreement"]
    assert held["rows"] == 15 and held["accuracy"] >= 0.8
    assert np.mean([a == b for a, b in zip(result.label, TRUE)]) >= 0.8  # and so is the classifier, on all rows
    assert result.metrics["llm_calls"] == 60 and result.metrics["llm_calls_per_row"] == pytest.approx(0.5)
    frame = result.to_frame()
    assert set(frame["labelled_by"]) == {"llm+classifier", "classifier"}
    assert result.probabilities.shape == (120, 4)


def test_without_distillation_the_llm_labels_every_row():
    result = label_with_taxonomy(TEXTS[:20], TAXONOMY, backend=FakeBackend(score=oracle), distill=False,
                                 calibration="none")
    assert result.label == TRUE[:20] and result.classifier is None
    assert result.metrics["llm_calls_per_row"] == 1.0


def test_multi_label_sets_from_a_grammar_and_a_one_vs_rest_classifier():
    def write(prompt):
        text = prompt.rsplit("Text:", 1)[1]
        found = [c for c in ("Card delivery", "Top up", "Exchange rate") if any(w in text.split() for w in WORDS[c])]
        return ", ".join(found) or "Other"

    result = label_with_taxonomy(TEXTS, TAXONOMY, backend=FakeBackend(complete=write), sample=80, holdout=0.25,
                                 multi_label=True, encoder=HashingTextEncoder(dim=256))
    assert all(isinstance(v, list) and v for v in result.label)
    assert result.metrics["heldout_agreement"]["micro_f1"] >= 0.7


def test_classifier_saves_and_reloads(tmp_path):
    import joblib

    result = label_with_taxonomy(TEXTS, TAXONOMY, backend=FakeBackend(score=oracle), sample=40, calibration="none",
                                 encoder=HashingTextEncoder(dim=256))
    result.save(tmp_path)
    model = joblib.load(tmp_path / "classifier.joblib")
    with pytest.raises(DataError, match="trained on embeddings from hashing"):
        model.predict(TEXTS[:8])  # the default encoder is not the one it was trained on
    model.encoder = HashingTextEncoder(dim=256)
    assert list(model.predict(TEXTS[:8])) == list(result.label[:8])
    assert (tmp_path / "annotations.csv").exists() and (tmp_path / "summary.json").exists()


def test_a_labeller_that_always_answers_the_same_is_reported():
    with pytest.raises(DataError, match="nothing to learn"):
        DistilledClassifier(HashingTextEncoder()).fit(["a", "b", "c"], ["x", "x", "x"])


def test_agreement_and_alignment_on_exact_cases():
    assert agreement(["a", "b", "a", "b"], ["a", "b", "b", "b"])["accuracy"] == 0.75
    multi = agreement([["a"], ["a", "b"]], [["a"], ["a"]], multi_label=True)
    assert multi["exact_set_accuracy"] == 0.5 and multi["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1))
    # renaming does not matter; merging two true classes into one label matches only one of them
    same = taxonomy_alignment(["x", "x", "y", "y"], ["B", "B", "A", "A"])
    assert same["ami"] == pytest.approx(1.0) and same["matched_share"] == 1.0 and same["purity"] == 1.0
    merged = taxonomy_alignment(["x", "x", "y", "y", "z", "z"], ["A", "A", "A", "A", "C", "C"])
    assert merged["matched_share"] == pytest.approx(2 / 3) and merged["purity"] == pytest.approx(4 / 6)
    assert mutual_best_matches(np.array([[5, 0], [0, 3]])) == [(0, 0), (1, 1)]


def test_distilled_classifier_follows_scikit_learn_conventions():
    """C="auto" is LogisticRegressionCV over the audit learner's grid; predict before fit is NotFittedError; a
    fitted classifier pickles with its encoder and predicts the same after loading; clone keeps the parameters."""
    import pickle

    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegressionCV

    from labelwise.audit.out_of_fold import C_GRID

    model = DistilledClassifier(HashingTextEncoder(dim=256), random_state=0)
    with pytest.raises(NotFittedError):
        model.predict(TEXTS[:3])
    model.fit(TEXTS, TRUE)
    assert isinstance(model.model_, LogisticRegressionCV) and model.C_ in C_GRID
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(TEXTS), model.predict_proba(TEXTS))
    assert clone(model).get_params()["encoder"].get_params() == {"dim": 256}
    small = DistilledClassifier(HashingTextEncoder(dim=256)).fit(TEXTS[:20], TRUE[:20])
    assert small.C_ == 1.0  # too few rows to compare values of C
    lists = [[t] if i % 3 else [t, "Other"] for i, t in enumerate(TRUE)]
    multi = DistilledClassifier(HashingTextEncoder(dim=256), multi_label=True).fit(TEXTS, lists)
    assert multi.C_.shape == (4,) and set(multi.C_) <= set(C_GRID)  # one C per label


def test_progress_reaches_the_encoder():
    calls = []
    DistilledClassifier(HashingTextEncoder(dim=64), C=1.0).fit(TEXTS, TRUE, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("embedding", len(TEXTS), len(TEXTS))


def test_classes_of_two_rows_each_still_train():
    """30 LLM-labelled rows in 15 classes of 2: fewer rows per class than the 3 inner folds that choose C. The
    search drops to 2 folds instead of failing (single-label), and a label on one row makes it C=1 (multi-label)."""
    texts = [f"word{i // 2} thing{i // 2} other" for i in range(30)]
    single = DistilledClassifier(encoder=HashingTextEncoder(64)).fit(texts, [f"c{i // 2}" for i in range(30)])
    assert list(single.predict(texts)) == [f"c{i // 2}" for i in range(30)]
    sets = [["a"] if i % 2 else ["b"] for i in range(30)]
    sets[0] = ["b", "rare"]
    multi = DistilledClassifier(encoder=HashingTextEncoder(64), multi_label=True).fit(texts, sets)
    assert multi.C_[list(multi.classes_).index("rare")] == 1.0
