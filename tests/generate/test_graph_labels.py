"""The LLM-GNN workflow (labelwise.generate.graph_labels) with an LLM annotator: only the selected nodes are sent to
the model, one prompt each, and its answers are what the GCN trains on."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import DataError
from labelwise.generate.graph_labels import LLMNodeAnnotator, label_graph
from labelwise.testing.fake_llm import FakeBackend, keyword_score
from labelwise.testing.text_graph import make_text_graph


def test_llm_annotator_sees_only_the_budget_and_its_answers_are_kept():
    from labelwise.features import HashingTextEncoder

    g = make_text_graph(150, 3, keywords=6, words=8, random_state=1)
    backend = FakeBackend(keyword_score)  # scores a class by how often its name occurs in the node's text
    llm = LLMNodeAnnotator(backend, g.class_names, calibration="none")
    r = label_graph(g.texts, g.edges, classes=g.class_names, budget=20, annotator=llm,
                    encoder=HashingTextEncoder(dim=128), epochs=40)
    assert len(set(backend.prompts)) == 20  # B queries, nothing else (no calibration)
    assert llm.calls == 20
    sent = {p.rpartition("Text:")[2].split("\nLabel:")[0].strip() for p in backend.prompts}
    assert sent == {g.texts[i] for i in r.selected}
    for i, label in zip(r.selected, r.llm_labels):  # the model's answer: the class name the text repeats most
        counts = [keyword_score("Text: " + g.texts[i], name) for name in g.class_names]
        assert label == (int(np.argmax(counts)) if np.ptp(counts) > 0 else -1)
    assert r.probabilities.shape == (150, 3) and r.kept.sum() <= 20


def test_an_annotator_that_answers_one_class_is_refused():
    from labelwise.features import HashingTextEncoder

    g = make_text_graph(60, 2, random_state=0)

    def one_class(texts, embeddings):
        return np.tile([0.9, 0.1], (len(texts), 1))

    with pytest.raises(DataError, match="needs two or more"):
        label_graph(g.texts, g.edges, classes=g.class_names, budget=10, annotator=one_class,
                    encoder=HashingTextEncoder(dim=64))
