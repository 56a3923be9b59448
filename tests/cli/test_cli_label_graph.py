"""``labelwise label-graph`` on node and edge tables a user brings: every node gets a label, the annotated ones are
marked, and a wrong input is one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from labelwise.cli.main import main
from labelwise.testing.text_graph import make_text_graph


def _tables(tmp_path):
    g = make_text_graph(120, 3, ambiguous=0.2, random_state=3)
    ids = [f"n{i:03d}" for i in range(len(g.y))]
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    # hashed words know a class only by its name: every text names one (its own, or on ambiguous nodes any)
    rng = np.random.default_rng(0)
    named = [g.class_names[rng.integers(3) if a else y] + " " + t for t, y, a in zip(g.texts, g.y, g.ambiguous)]
    pd.DataFrame({"paper": ids, "abstract": named}).to_csv(nodes, index=False)
    pd.DataFrame({"from": [ids[i] for i in g.edges[:, 0]], "to": [ids[j] for j in g.edges[:, 1]]}).to_csv(
        edges, index=False)
    return g, nodes, edges


def test_label_graph_labels_every_node(tmp_path, capsys):
    g, nodes, edges = _tables(tmp_path)
    out = tmp_path / "out"
    code = main(["label-graph", str(nodes), "--edges", str(edges), "--id", "paper", "--text", "abstract",
                 "--classes", ",".join(g.class_names), "--budget", "15", "--encoder", "hashing", "--out", str(out),
                 "--quiet"])
    assert code == 0
    assert "120 nodes" in capsys.readouterr().out
    labels = pd.read_csv(out / "labels.csv", keep_default_na=False)
    assert labels.node.tolist() == [f"n{i:03d}" for i in range(120)]
    assert labels.annotated.sum() == 15 and (labels.kept[~labels.annotated] == "").all()
    assert (labels.kept[labels.annotated].astype(str) == "False").sum() == 3  # floor(0.2 * 15) dropped
    truth = np.asarray(g.class_names)[g.y]
    assert (labels.label.to_numpy() == truth).mean() > 0.8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["annotated"] == 15 and summary["kept"] == 12 and summary["settings"]["strategy"] == "pagerank_density"


def test_label_graph_errors_are_one_line(tmp_path, capsys):
    g, nodes, edges = _tables(tmp_path)
    bad_edges = tmp_path / "bad.csv"
    pd.DataFrame({"from": ["n000"], "to": ["n999"]}).to_csv(bad_edges, index=False)
    base = ["label-graph", str(nodes), "--text", "abstract", "--classes", ",".join(g.class_names),
            "--encoder", "hashing", "--out", str(tmp_path / "o"), "--quiet"]
    for extra, words in ((["--edges", str(edges), "--budget", "5"],
                          "names node 'n000', which is not a row number; give the node id column"),
                         (["--edges", str(bad_edges), "--id", "paper", "-n", "5"], "names node 'n999'"),
                         (["--edges", str(edges), "--id", "paper", "-n", "500"], "between 2 and the 120 nodes"),
                         (["--edges", str(edges), "--id", "pid", "-n", "5"], "no column 'pid' (--id)"),
                         (["--edges", str(edges), "--id", "paper", "-n", "5", "-s", "age"], "unknown strategy 'age'"),
                         (["--edges", str(edges), "--id", "paper", "-n", "5", "--filter-ratio", "1"],
                          "--filter-ratio 1.0 must be in [0, 1)"),
                         (["--edges", str(edges), "--id", "paper", "-n", "5", "--annotator", "gpt"],
                          "--annotator must be one of embedding, llm")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err


def test_label_graph_float_node_ids_match_integer_edge_ids(tmp_path, capsys):
    """A node table whose ids a spreadsheet wrote as 31300.0 and an edge table with 31300: the same nodes."""
    g, _, _ = _tables(tmp_path)
    named = [g.class_names[y] + " " + t for t, y in zip(g.texts, g.y)]
    ids = np.arange(31300, 31300 + len(g.y))
    nodes, edges = tmp_path / "float_nodes.csv", tmp_path / "int_edges.csv"
    pd.DataFrame({"id": [f"{i}.0" for i in ids], "text": named}).to_csv(nodes, index=False)
    pd.DataFrame({"s": ids[g.edges[:, 0]], "t": ids[g.edges[:, 1]]}).to_csv(edges, index=False)
    out = tmp_path / "float_out"
    assert main(["label-graph", str(nodes), "--edges", str(edges), "--id", "id", "--text", "text", "--classes",
                 ",".join(g.class_names), "--budget", "15", "--encoder", "hashing", "--out", str(out), "--quiet"]) == 0
    assert f"120 nodes, {len(g.edges)} edges" in capsys.readouterr().out
    assert pd.read_csv(out / "labels.csv").node.tolist() == [float(i) for i in ids]
