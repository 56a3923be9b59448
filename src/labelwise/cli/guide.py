"""``labelwise guide``: a labelling guide for a labelled table (definitions, examples, confusions), as Markdown,
JSON and a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.options import (DEBUG, ENCODING, MODEL, QUIET, SEP, SERVER, SERVER_MODEL, THREADS, list_option,
                                   writable)
from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.errors import LabelwiseError


def _taxonomy_definitions(path: Optional[Path]) -> Optional[dict]:
    """{name: description} from a taxonomy YAML, plus the "Other" that labelling with a taxonomy adds."""
    from labelwise.generate.taxonomy import OTHER, Taxonomy

    if path is None:
        return None
    definitions = Taxonomy.load(path).definitions()
    definitions.setdefault(OTHER, "Fits none of the other categories.")
    return definitions


def guide(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with a label column.", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="The label column.", show_default=False),
    text: Optional[list[str]] = list_option("--text", "-t", help="Text column(s) to embed and show (default: the "
                                            "table's one free-text column, else every other column as features)."),
    taxonomy: Optional[Path] = typer.Option(None, "--taxonomy", help="A taxonomy YAML whose descriptions become the "
                                            "class definitions."),
    audit: Optional[Path] = typer.Option(None, "--audit", help="An audit folder (labelwise audit --out DIR): no row "
                                         "it flags becomes an example, and its noise matrix names each class's "
                                         "confusions."),
    examples: int = typer.Option(5, "--examples", "-k", help="Examples per class."),
    method: str = typer.Option("greedy-ap", "--method", help="greedy-ap (the examples that best pick out their "
                               "class), mmr (central and diverse; a few times faster), centrality, k-center, "
                               "k-medoids or random."),
    out: Path = typer.Option(Path("labelwise-guide"), "--out", "-o", help="Folder for guide.md, guide.html and "
                             "guide.json."),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="Measure how well the examples instruct "
                                  "(5-fold held-out mAP against random examples)."),
    llm_definitions: bool = typer.Option(False, "--llm-definitions", help="Ask an LLM for a one-sentence definition "
                                         "of each class that has none, from its examples."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Write a labelling guide: per class a definition, a few real examples that are typical and diverse, and the
    classes it is most often confused with (from an audit), with how well the examples instruct.

    Example: labelwise guide tickets.csv --label topic --text body --audit audit/ --taxonomy taxonomy.yaml
    """
    from labelwise.generate.guide import audit_sentence, labelling_guide
    from labelwise.report.guide_html import write_guide

    writable(out, folder=True)
    if not data.is_file():
        raise LabelwiseError(f"{data} does not exist: give the labelled table (CSV, TSV, Parquet or JSON Lines).")
    definitions = _taxonomy_definitions(taxonomy)
    backend = None
    if llm_definitions:
        from labelwise.llm import open_backend

        backend = open_backend(str(model) if model else None, server=server, server_model=server_model,
                               threads=threads)
    table = str(data)
    if encoding is not None or sep is not None:  # labelling_guide reads a path with the defaults: read it here
        from labelwise.data.io import read_table

        table = read_table(data, encoding=encoding, sep=sep)
    with progress_bars(enabled=not quiet) as progress:
        result = labelling_guide(table, label=label, text=text or None, definitions=definitions,
                                 audit_dir=audit, examples=examples, method=method, backend=backend,
                                 evaluate=evaluate, progress=progress)
    result.source = str(data)
    write_guide(result, out)
    console.print(f"{len(result.classes)} classes, {result.n_rows:,} rows: up to {examples} examples each "
                  f"({method}).", highlight=False, soft_wrap=True)
    if result.quality:
        q = result.quality
        console.print(f"held-out mAP of the examples {q['method']['mean']:.3f} (random examples: "
                      f"{q['random']['mean']:.3f})", highlight=False, soft_wrap=True)
    if result.settings.get("audit_excluded") is None:
        messages.print(plain(("note:", "yellow"), " " + audit_sentence(result)), soft_wrap=True)
    else:
        messages.print(plain(audit_sentence(result)), soft_wrap=True)
    sources = [c.definition_source for c in result.classes]
    console.print(f"definitions: {sources.count('taxonomy')} from the taxonomy, {sources.count('llm')} from the "
                  f"LLM, {sources.count('none')} missing", highlight=False, soft_wrap=True)
    unmatched = [n for n in result.settings.get("definitions_not_in_data") or [] if n != "Other"]  # ours, not theirs
    if unmatched:
        messages.print(plain(("note:", "yellow"), f" {len(unmatched)} taxonomy categories match no class in the data: "
                             f"{', '.join(unmatched[:5])}"))
    messages.print(plain(f"wrote {out}/guide.md, guide.html, guide.json"))
