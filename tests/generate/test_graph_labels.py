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


def _two_triangles():
    """Nodes 10..15 (two triangles joined by 12-13), embeddings that separate them, and an annotator that is right."""
    import pandas as pd

    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.0, 1.0]])
    edges = pd.DataFrame({"a": [10, 10, 11, 12, 13, 13, 14], "b": [11, 12, 12, 13, 14, 15, 15]})

    def annotator(texts, embeddings):
        return np.where(embeddings[:, :1] > 0.5, [0.9, 0.1], [0.1, 0.9])

    options = dict(text="t", classes=["left", "right"], budget=4, annotator=annotator, embeddings=x, epochs=5,
                   filter="none")
    return x, edges, options


def test_label_graph_table_matches_float_node_ids_to_integer_edge_ids():
    """A node id column read as floats (``10.0``: a CSV with ``10.0`` or a Parquet float column) names the same
    nodes as the edge table's integers; strings ``"10"`` too."""
    import pandas as pd

    from labelwise.generate.graph_labels import label_graph_table

    _, edges, options = _two_triangles()
    texts = ["t"] * 6
    by_int, ids = label_graph_table(pd.DataFrame({"id": range(10, 16), "t": texts}), edges, id="id", **options)
    by_float, float_ids = label_graph_table(pd.DataFrame({"id": np.arange(10, 16, dtype=float), "t": texts}), edges,
                                            id="id", **options)
    by_text, _ = label_graph_table(pd.DataFrame({"id": [str(i) for i in range(10, 16)], "t": texts}),
                                   edges.astype(float), id="id", **options)
    assert by_int.settings["edges"] == by_float.settings["edges"] == by_text.settings["edges"] == 7
    np.testing.assert_allclose(by_float.probabilities, by_int.probabilities)
    np.testing.assert_allclose(by_text.probabilities, by_int.probabilities)
    assert float_ids == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]  # written back as they were read


def test_label_graph_table_refuses_bad_ids_and_edges_in_one_line():
    import pandas as pd

    from labelwise.errors import ParameterError
    from labelwise.generate.graph_labels import label_graph_table

    _, edges, options = _two_triangles()
    nodes = pd.DataFrame({"id": [10, 11, 12, 13, 14, None], "t": ["t"] * 6})
    with pytest.raises(DataError, match="node table row 7 has no id in 'id'"):
        label_graph_table(nodes, edges, id="id", **options)
    positions = pd.DataFrame({"a": [0, 1.5], "b": [1, 2]})  # row numbers, one of them not whole: not truncated to 1
    with pytest.raises(DataError, match="edge table row 3 names node '1.5', which is not a row number"):
        label_graph_table(pd.DataFrame({"t": ["t"] * 6}), positions, **options)
    with pytest.raises(DataError, match="both name the column 'b'"):
        label_graph_table(pd.DataFrame({"id": range(10, 16), "t": ["t"] * 6}), edges, id="id", source="b",
                          target="b", **options)
    with pytest.raises(ParameterError, match="non-empty class names"):
        label_graph_table(pd.DataFrame({"id": range(10, 16), "t": ["t"] * 6}), edges, id="id",
                          **{**options, "classes": ["left", " "]})

    def broken(texts, embeddings):  # an annotator that fails on one node
        p = np.tile([0.7, 0.3], (len(texts), 1))
        p[1] = np.nan
        return p

    with pytest.raises(ParameterError, match="annotator returned NaN or infinity for node"):
        label_graph_table(pd.DataFrame({"id": range(10, 16), "t": ["t"] * 6}), edges, id="id",
                          **{**options, "annotator": broken})


def test_label_graph_table_source_alone_takes_the_other_column_as_target():
    import pandas as pd

    from labelwise.generate.graph_labels import label_graph_table

    _, edges, options = _two_triangles()
    nodes = pd.DataFrame({"id": range(10, 16), "t": ["t"] * 6})
    both, _ = label_graph_table(nodes, edges, id="id", **options)
    for one in (dict(source="b"), dict(target="a")):  # the second column as source: the other end is the first
        r, _ = label_graph_table(nodes, edges, id="id", **one, **options)
        assert r.settings["edges"] == 7
        np.testing.assert_allclose(r.probabilities, both.probabilities)


def test_save_neutralises_class_names_and_writes_node_ids_as_read(tmp_path):
    import pandas as pd

    from labelwise.generate.graph_labels import GraphLabels

    r = GraphLabels(["=HYPERLINK(1)", "b"], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 2]),
                    np.array([0, -1]), np.array([0.9, 0.5]), np.array([True, False]))
    r.save(tmp_path, ids=["-x", "+7", "n"])
    labels = pd.read_csv(tmp_path / "labels.csv", keep_default_na=False, dtype=str)
    assert labels.node.tolist() == ["-x", "+7", "n"]  # the user's own ids: they join back to the node table
    assert labels.label.tolist() == ["'=HYPERLINK(1)", "b", "'=HYPERLINK(1)"]
    assert labels.annotator_label.tolist() == ["'=HYPERLINK(1)", "", ""]
    assert labels.kept.tolist() == ["True", "", "False"]


def test_nodes_without_text_are_never_sent_to_the_annotator():
    """Empty texts share one embedding, which sits on a k-means centre and wins the density and C-density scores: 40
    of them took the whole budget, the annotator answered none and the run failed. Now they are not candidates."""
    from labelwise.errors import ParameterError
    from labelwise.features import HashingTextEncoder

    g = make_text_graph(80, 3, random_state=2)
    texts = [""] * 40 + [g.class_names[y] + " " + t for t, y in zip(g.texts[40:], g.y[40:])]
    r = label_graph(texts, g.edges, classes=g.class_names, budget=12, encoder=HashingTextEncoder(dim=128), epochs=5)
    assert r.selected.min() >= 40 and (r.llm_labels >= 0).all()
    with pytest.raises(ParameterError, match="only 40 of the 80 nodes have text"):
        label_graph(texts, g.edges, classes=g.class_names, budget=41, encoder=HashingTextEncoder(dim=128))
