"""``labelwise label-graph``: label every node of a graph from a budget of LLM (or zero-shot) annotations (LLM-GNN)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import (DEBUG, ENCODING, MODEL, QUIET, SEP, SERVER, SERVER_MODEL, THREADS, link_encoder,
                                   list_option, llm_backend, writable)
from labelwise.errors import ParameterError

ANNOTATORS = ("embedding", "llm")


def label_graph(
    nodes: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with one row per node.", show_default=False),
    edges: Path = typer.Option(..., "--edges", "-e", help="Table of edges, one per row: two columns naming the nodes "
                               "(ids from --id, else 0-based row numbers of NODES); undirected.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The node text column.", show_default=False),
    classes: Optional[List[str]] = list_option("--classes", metavar="CLASS", help="The class names.", required=True),
    budget: int = typer.Option(..., "--budget", "-n", help="How many nodes the annotator labels.",
                               show_default=False),
    id: Optional[str] = typer.Option(None, "--id", help="The node id column the edges refer to (default: the edges "
                                     "hold row numbers)."),
    source: Optional[str] = typer.Option(None, "--source", help="The edge table's source column (default: its "
                                         "first)."),
    target: Optional[str] = typer.Option(None, "--target", help="The edge table's target column (default: its "
                                         "second)."),
    annotator: str = typer.Option("embedding", "--annotator", help="embedding: zero-shot by cosine to the class "
                                  "names (fast, no LLM); llm: the LLM scores every class name for each chosen "
                                  "node."),
    strategy: str = typer.Option("pagerank_density", "--strategy", "-s", help="Node selection: pagerank_density, "
                                 "pagerank, degree, density or random."),
    difficulty: bool = typer.Option(True, "--difficulty/--no-difficulty", help="Favour nodes near a cluster centre, "
                                    "which the annotator labels right more often (C-density)."),
    filter_ratio: float = typer.Option(0.2, "--filter-ratio", help="Share of the annotations to drop, the least "
                                       "confident first, keeping every class (0: keep all)."),
    out: Path = typer.Option(Path("labelwise-graph"), "--out", "-o", help="Folder for labels.csv and summary.json."),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' or 'hashing' (no model)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (k-means, random selection, the GCN)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Label every node of a graph: pick the nodes an annotator is likely to label right and that represent the
    graph, have them labelled, drop the least confident answers, train a graph network on the rest (LLM-GNN).

    Example: labelwise label-graph papers.csv --edges cites.csv --id paper_id --text abstract
    --classes theory,systems,learning --budget 60 --out labelled/
    """
    from labelwise.data.io import read_table
    from labelwise.generate.graph_labels import LLMNodeAnnotator, label_graph_table

    if annotator not in ANNOTATORS:
        raise ParameterError(f"--annotator must be one of {', '.join(ANNOTATORS)}; got {annotator!r}")
    if not 0.0 <= filter_ratio < 1.0:
        raise ParameterError(f"--filter-ratio {filter_ratio} must be in [0, 1): the share of annotations to drop")
    writable(out, folder=True)
    node_table = read_table(nodes, encoding=encoding, sep=sep)
    edge_table = read_table(edges, encoding=encoding)
    options = dict(classes=list(dict.fromkeys(classes or [])), budget=budget, id=id, source=source, target=target,
                   strategy=strategy, difficulty_aware=difficulty, filter_ratio=filter_ratio,
                   filter="conf+diversity" if filter_ratio > 0 else "none", encoder=link_encoder(encoder),
                   random_state=seed)
    with progress_bars(enabled=not quiet) as progress:
        if annotator == "llm":
            with llm_backend(None, str(model) if model else None, server=server, server_model=server_model,
                             threads=threads) as backend:
                llm = LLMNodeAnnotator(backend, options["classes"], progress=progress)
                result, ids = label_graph_table(node_table, edge_table, text=text, annotator=llm, progress=progress,
                                                **options)
        else:
            result, ids = label_graph_table(node_table, edge_table, text=text, progress=progress, **options)
    result.save(out, ids)
    s = result.summary()
    console.print(plain(f"{s['nodes']:,} nodes, {s['settings']['edges']:,} edges: {s['annotated']} annotated by "
                        f"{annotator} ({s['no_answer']} without an answer), {s['kept']} kept, a GCN labelled the "
                        "rest."), soft_wrap=True)
    for label, n in s["label_counts"].items():
        console.print(plain(f"  {label:<30} {n:>7,}"), soft_wrap=True)
    messages.print(plain(f"wrote {out}/labels.csv, summary.json"))
