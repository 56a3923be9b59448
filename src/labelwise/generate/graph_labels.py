"""Label every node of a text-attributed graph from a budget of LLM annotations (LLM-GNN, Chen et al., ICLR 2024,
arXiv 2310.04668).

1. Embed the node texts (``encoder``, default the packaged MiniLM).
2. Pick ``budget`` nodes (:func:`labelwise.generate.node_selection.select_graph_nodes`: PageRank and density mixed
   with the C-density difficulty by percentile ranks).
3. Annotate them with a confidence: an LLM scoring every label (:class:`LLMNodeAnnotator`, over
   :func:`labelwise.generate.annotate.annotate`; the confidence is the largest label probability, which replaces the
   paper's vote share over sampled answers: scoring gives the whole distribution in one call), or the fast,
   deterministic :class:`EmbeddingZeroShotAnnotator` (cosine to each class's prompts, softmax at ``T = 0.05``).
4. Drop the least trustworthy ``filter_ratio`` of the answers
   (:func:`labelwise.generate.node_selection.post_filter`: confidence and label diversity).
5. Train a GCN (:class:`labelwise.learn.gcn.GCNClassifier`) on the kept answers and label every node.

:func:`label_graph` works on lists and arrays; :func:`label_graph_table` on a node table and an edge table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.atomic import write_text_atomic
from labelwise.data.formula import neutralise_frame
from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError, ParameterError
from labelwise.generate.node_selection import (FILTERS, GRAPH_STRATEGIES, post_filter, select_graph_nodes,
                                              symmetric_adjacency)
from labelwise.progress import ProgressCallback

__all__ = ["EmbeddingZeroShotAnnotator", "GraphLabels", "LLMNodeAnnotator", "edges_to_adjacency", "label_graph",
           "label_graph_table"]


class EmbeddingZeroShotAnnotator:
    """Zero-shot labels from sentence embeddings: softmax over classes of ``cosine(node, class prototype) / T``.

    class_prompts: one list of prompts per class (default: :func:`labelwise.generate.transfer.class_prompts_for` of
    the class names); each class's prototype is the normalised mean of its prompts' embeddings. Called with the nodes'
    texts and their ``(m, d)`` embeddings (from the same encoder); returns ``(m, k)`` probabilities."""

    def __init__(self, encoder: Any, class_prompts: Sequence[Sequence[str]], temperature: float = 0.05):
        from labelwise.generate.transfer import prompt_prototypes

        if temperature <= 0:
            raise ParameterError(f"temperature={temperature} must be above 0, e.g. 0.05")
        self.temperature = temperature
        self.prototypes = prompt_prototypes(class_prompts, encoder)
        self.calls = 0

    def __call__(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        from labelwise.generate.transfer import teacher_probabilities

        x = np.asarray(embeddings, dtype=np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        self.calls += len(x)
        return teacher_probabilities(x, self.prototypes, tau=self.temperature)


class LLMNodeAnnotator:
    """An LLM labels each node's text by scoring every class name (:func:`labelwise.generate.annotate.annotate`;
    ``options`` pass on, e.g. ``calibration``, ``instruction``). Returns ``(m, k)`` probabilities; a node the model
    never answered validly (``method="generate"``) has a uniform row, which :func:`label_graph` treats as no answer."""

    def __init__(self, backend: Any, labels: Sequence[str], progress: Optional[ProgressCallback] = None, **options):
        self.backend, self.labels, self.progress, self.options = backend, list(labels), progress, options
        self.calls = 0

    def __call__(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        from labelwise.generate.annotate import annotate

        result = annotate(list(texts), labels=self.labels, backend=self.backend, progress=self.progress,
                          **self.options)
        self.calls += len(texts)
        return np.asarray(result.probabilities, dtype=np.float64)


@dataclass
class GraphLabels:
    """Every node's label from a budget of LLM annotations.

    classes: (k,) names; probabilities: (n, k) the GCN's; predicted: (n,) int class index per node; selected: (B,)
    int nodes sent to the annotator, in the order chosen; llm_labels: (B,) int the annotator's class (-1 = no usable
    answer); llm_confidence: (B,) float; kept: (B,) bool annotations the GCN trained on."""

    classes: list
    probabilities: np.ndarray
    selected: np.ndarray
    llm_labels: np.ndarray
    llm_confidence: np.ndarray
    kept: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def __repr__(self) -> str:
        return (f"GraphLabels({len(self.probabilities)} nodes, {len(self.classes)} classes; {len(self.selected)} "
                f"annotated, {int(self.kept.sum())} kept)")

    def to_frame(self, ids: Optional[Sequence] = None) -> pd.DataFrame:
        """One row per node: ``node`` (``ids`` or the 0-based position), ``label`` and ``confidence`` (the GCN's),
        ``annotated`` (sent to the annotator), ``annotator_label``, ``annotator_confidence`` and ``kept`` (used
        for training; empty where not annotated)."""
        n = len(self.probabilities)
        names = np.asarray(self.classes, dtype=object)
        ann_label = np.full(n, None, dtype=object)
        ann_conf = np.full(n, np.nan)
        kept = np.full(n, None, dtype=object)
        valid = self.llm_labels >= 0
        ann_label[self.selected[valid]] = names[self.llm_labels[valid]]
        ann_conf[self.selected] = self.llm_confidence
        kept[self.selected] = self.kept
        annotated = np.zeros(n, dtype=bool)
        annotated[self.selected] = True
        return pd.DataFrame({"node": np.arange(n) if ids is None else list(ids), "label": names[self.predicted],
                             "confidence": self.probabilities.max(axis=1), "annotated": annotated,
                             "annotator_label": ann_label, "annotator_confidence": ann_conf, "kept": kept})

    def summary(self) -> dict:
        counts = np.bincount(self.predicted, minlength=len(self.classes))
        return {"nodes": int(len(self.probabilities)), "classes": list(map(str, self.classes)),
                "annotated": int(len(self.selected)), "no_answer": int((self.llm_labels < 0).sum()),
                "kept": int(self.kept.sum()), "label_counts": dict(zip(map(str, self.classes), map(int, counts))),
                "settings": self.settings}

    def save(self, directory, ids: Optional[Sequence] = None) -> Path:
        """``labels.csv`` (:meth:`to_frame`; the class names, typed by the user, neutralised against spreadsheet
        formulas, the node ids written exactly as read so that they join back to the node table) and
        ``summary.json`` in ``directory``, each written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        frame = self.to_frame(ids)
        typed = ["label", "annotator_label"]
        frame[typed] = neutralise_frame(frame[typed])
        write_table_atomic(frame, directory / "labels.csv")
        write_text_atomic(directory / "summary.json", json.dumps(self.summary(), indent=2) + "\n")
        return directory


def edges_to_adjacency(edges, n_nodes: int):
    """``edges: (m, 2) int`` node positions -> ``(n, n)`` symmetric scipy CSR 0/1 adjacency (loops dropped)."""
    import scipy.sparse as sp

    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(e) and (e.min() < 0 or e.max() >= n_nodes):
        raise DataError(f"an edge names node position {int(e.max()) if e.max() >= n_nodes else int(e.min())}, "
                        f"outside 0..{n_nodes - 1}; edges must name existing nodes")
    return symmetric_adjacency(sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_nodes, n_nodes)))


def _answers(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels with -1 for a uniform row (no answer), confidence = the largest probability)."""
    p = np.asarray(probabilities, dtype=np.float64)
    labels = p.argmax(axis=1)
    labels[np.ptp(p, axis=1) < 1e-12] = -1
    return labels, p.max(axis=1)


def label_graph(texts: Sequence[str], edges, *, classes: Sequence[str], budget: int,
                annotator: Any = "embedding", encoder: Any = None, embeddings: Optional[np.ndarray] = None,
                class_prompts: Optional[Sequence[Sequence[str]]] = None, strategy: str = "pagerank_density",
                difficulty_aware: bool = True, alpha: float = 0.33, beta: float = 0.33, filter_ratio: float = 0.2,
                filter: str = "conf+diversity", hidden: int = 64, epochs: int = 100, random_state: int = 0,
                progress: Optional[ProgressCallback] = None) -> GraphLabels:
    """Label all ``n`` nodes from ``budget`` annotations (the module docstring's five steps).

    texts: (n,) node texts; edges: (m, 2) int node positions (undirected); classes: (k,) names. annotator:
    ``"embedding"`` (:class:`EmbeddingZeroShotAnnotator` on ``class_prompts``, default prompts from the class names)
    or any callable ``(texts, embeddings) -> (B, k) probabilities`` such as :class:`LLMNodeAnnotator`. embeddings:
    ``(n, d)`` precomputed node embeddings (else ``encoder.encode(texts)``; default encoder the packaged MiniLM).
    strategy / difficulty_aware / alpha / beta: the selection; filter / filter_ratio: the post-filter; hidden /
    epochs: the GCN. Returns a :class:`GraphLabels`."""
    from labelwise.learn.gcn import GCNClassifier

    classes = [str(c) for c in classes]
    if len(set(classes)) < 2 or len(set(classes)) != len(classes) or not all(c.strip() for c in classes):
        raise ParameterError(f"give at least two distinct, non-empty class names (--classes a,b,c); got {classes}")
    if strategy not in GRAPH_STRATEGIES:
        raise ParameterError(f"unknown strategy {strategy!r}; use one of {', '.join(GRAPH_STRATEGIES)}")
    if filter not in FILTERS:
        raise ParameterError(f"unknown filter {filter!r}; use one of {', '.join(FILTERS)}")
    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    if not 2 <= int(budget) <= n:
        raise ParameterError(f"--budget {budget} must be between 2 and the {n} nodes")
    has_text = np.array([bool(t.strip()) for t in texts], dtype=bool)  # the annotator reads the text: never send none
    if int(budget) > has_text.sum():
        raise ParameterError(f"--budget {budget} but only {int(has_text.sum())} of the {n} nodes have text for the "
                             "annotator to read; lower --budget or fill in the --text column")
    adjacency = edges_to_adjacency(edges, n)
    if encoder is None and (embeddings is None or isinstance(annotator, str)):
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    x = (np.asarray(encoder.encode(texts, progress=progress), dtype=np.float64) if embeddings is None
         else np.asarray(embeddings, dtype=np.float64))
    if x.shape[0] != n:
        raise ParameterError(f"embeddings has {x.shape[0]} rows for {n} nodes; give one per node")
    if isinstance(annotator, str):
        if annotator != "embedding":
            raise ParameterError(f"annotator {annotator!r}: give 'embedding' or a callable such as LLMNodeAnnotator")
        from labelwise.generate.transfer import class_prompts_for

        prompts = class_prompts if class_prompts is not None else class_prompts_for(classes)
        if len(prompts) != len(classes):
            raise ParameterError(f"{len(prompts)} class prompt lists for {len(classes)} classes; give one per class")
        annotator = EmbeddingZeroShotAnnotator(encoder, prompts)
    selected = select_graph_nodes(x, adjacency, budget=budget, n_classes=len(classes), strategy=strategy,
                                  difficulty_aware=difficulty_aware, alpha=alpha, beta=beta,
                                  candidates=None if has_text.all() else has_text, random_state=random_state)
    probs = np.asarray(annotator([texts[i] for i in selected], x[selected]), dtype=np.float64)
    if probs.shape != (len(selected), len(classes)):
        raise ParameterError(f"the annotator returned shape {probs.shape}; expected ({len(selected)}, {len(classes)})")
    if not np.isfinite(probs).all():
        bad = int(selected[np.flatnonzero(~np.isfinite(probs).all(axis=1))[0]])
        raise ParameterError(f"the annotator returned NaN or infinity for node {bad}; it must give finite probabilities")
    llm_labels, confidence = _answers(probs)
    kept = post_filter(llm_labels, confidence, ratio=filter_ratio, strategy=filter)
    if len(np.unique(llm_labels[kept])) < 2:
        raise DataError(f"the annotator gave {len(np.unique(llm_labels[kept]))} distinct class(es) to the "
                        f"{len(selected)} nodes; a GCN needs two or more: raise --budget or check --classes")
    y = np.full(n, -1, dtype=np.int64)
    y[selected[kept]] = llm_labels[kept]
    if progress is not None:
        progress("training GCN", 0, 1)
    gcn = GCNClassifier(hidden=hidden, epochs=epochs, random_state=random_state).fit(x, y, adjacency=adjacency)
    if progress is not None:
        progress("training GCN", 1, 1)
    full = np.zeros((n, len(classes)))
    full[:, gcn.classes_] = gcn.label_distributions_
    settings = {"strategy": strategy, "difficulty_aware": difficulty_aware, "alpha": alpha, "beta": beta,
                "filter": filter, "filter_ratio": filter_ratio, "budget": int(budget), "hidden": hidden,
                "epochs": epochs, "random_state": random_state, "edges": int(adjacency.nnz // 2),
                "annotator": type(annotator).__name__}
    return GraphLabels(classes, full, selected, llm_labels, confidence, kept, settings)


def _id_keys(column: pd.Series) -> pd.Series:
    """Node ids as text to match on, a whole float written as the integer: a CSV id column with a gap reads as floats
    (``31336.0``) while the edge table's reads as integers (``31336``); both are the key ``"31336"``."""
    def key(value) -> str:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return pd.Series([key(v) for v in column], index=column.index, dtype=object)


def label_graph_table(nodes: pd.DataFrame, edges: pd.DataFrame, *, text: str, classes: Sequence[str], budget: int,
                      id: Optional[str] = None, source: Optional[str] = None, target: Optional[str] = None,
                      **options) -> tuple[GraphLabels, Optional[list]]:
    """:func:`label_graph` on a node table (column ``text``; ``id`` names the node ids the edges use, else the edges
    use 0-based row positions) and an edge table (columns ``source`` and ``target``, default its first two).
    Returns the result and the node ids (None without ``id``), for :meth:`GraphLabels.save`."""
    if text not in nodes.columns:
        raise DataError(f"no column {text!r} in the node table; its columns are {', '.join(map(str, nodes.columns))}")
    if (source is None or target is None) and edges.shape[1] < 2:
        raise DataError(f"the edge table needs two columns (source and target node); it has {edges.shape[1]}")
    if source is None:  # the first column that --target does not name, and the other way round
        source = next(c for c in edges.columns if c != target)
    if target is None:
        target = next(c for c in edges.columns if c != source)
    for name, column in (("--source", source), ("--target", target)):
        if column not in edges.columns:
            raise DataError(f"no column {column!r} ({name}) in the edge table; its columns are "
                            f"{', '.join(map(str, edges.columns))}")
    if source == target:
        raise DataError(f"--source and --target both name the column {source!r}; give the edge table's two end columns")
    pairs = edges[[source, target]]
    if pairs.isna().any().any():
        bad = int(np.flatnonzero(pairs.isna().any(axis=1).to_numpy())[0])
        raise DataError(f"edge table row {bad + 2} has an empty source or target; every edge needs both ends")
    if id is None:
        ids = None
        numbers = pairs.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        if not whole.all():
            row = int(np.flatnonzero(~whole.all(axis=1))[0])
            value = str(pairs.iloc[row][~whole[row]].iloc[0])
            raise DataError(f"edge table row {row + 2} names node {value!r}, which is not a row number; give the node "
                            "id column with --id")
        positions = numbers.astype(np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(nodes)):
            raise DataError(f"an edge names node {int(positions.max())}, but the node table has rows 0..{len(nodes) - 1}; "
                            "give the node id column with --id if the edges use ids")
    else:
        if id not in nodes.columns:
            raise DataError(f"no column {id!r} (--id) in the node table; its columns are "
                            f"{', '.join(map(str, nodes.columns))}")
        if nodes[id].isna().any():
            row = int(np.flatnonzero(nodes[id].isna().to_numpy())[0])
            raise DataError(f"node table row {row + 2} has no id in {id!r}; give every node an id")
        key = _id_keys(nodes[id])
        if key.duplicated().any():
            raise DataError(f"node id {key[key.duplicated()].iloc[0]!r} appears twice in {id!r}; ids must be unique")
        ids = nodes[id].tolist()
        where = pd.Series(np.arange(len(nodes)), index=key.to_numpy())
        ends = pairs.apply(_id_keys)
        unknown = ~ends.isin(where.index)
        if unknown.any().any():
            row = int(np.flatnonzero(unknown.any(axis=1).to_numpy())[0])
            value = ends.iloc[row][unknown.iloc[row]].iloc[0]
            raise DataError(f"edge table row {row + 2} names node {value!r}, which is not in the node table's "
                            f"{id!r} column")
        positions = np.stack([where[ends[source]].to_numpy(), where[ends[target]].to_numpy()], axis=1)
    texts = nodes[text].fillna("").astype(str).tolist()
    return label_graph(texts, positions, classes=classes, budget=budget, **options), ids
