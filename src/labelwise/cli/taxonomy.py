"""``labelwise taxonomy``: induce a label taxonomy from a table's text column with an LLM (TnT-LLM phase 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import (DEBUG, ENCODING, MODEL, QUIET, SEP, SERVER, SERVER_MODEL, THREADS,
                                   read_with_text_column, writable)
from labelwise.errors import DataError

CONTEXT_TOKENS = 8192  # a minibatch of texts plus the taxonomy so far; small models take this cheaply


def taxonomy(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with the texts.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column.", show_default=False),
    out: Path = typer.Option(Path("taxonomy.yaml"), "--out", "-o", help="Where to write the taxonomy (YAML)."),
    use_case: str = typer.Option("", "--use-case", help="What the labels are for, e.g. \"the intent of a customer's "
                                 "message\". Steers the summaries and the categories."),
    max_labels: int = typer.Option(25, "--max-labels", help="At most this many categories."),
    min_labels: int = typer.Option(2, "--min-labels", help="At least this many categories."),
    granularity: str = typer.Option("medium", "--granularity", help="coarse, medium or fine."),
    sample: int = typer.Option(200, "--sample", help="Texts drawn from the table (0: all of them)."),
    batch_size: int = typer.Option(40, "--batch-size", help="Texts per minibatch: the first makes the taxonomy, "
                                   "each later one updates it."),
    summaries: bool = typer.Option(True, "--summaries/--no-summaries", help="Summarise texts longer than 20 words "
                                   "first."),
    review: bool = typer.Option(True, "--review/--no-review", help="A final review pass over the taxonomy."),
    start: Optional[Path] = typer.Option(None, "--start", help="Refine this taxonomy (YAML) instead of starting "
                                         "from nothing."),
    chat: bool = typer.Option(False, "--chat", help="Send prompts as chat messages (instruction-tuned models)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
    random_state: int = typer.Option(0, "--random-state", "--seed",
                                     help="Seed of every random choice (sample and minibatch order)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Induce a taxonomy (label names and descriptions) from unlabelled text with an LLM, minibatch by minibatch,
    and write it as YAML you can edit. Then label with it: labelwise annotate DATA --text COL --taxonomy FILE.

    Example: labelwise taxonomy tickets.csv --text body --use-case "why the customer wrote" --max-labels 12
    """
    from labelwise.generate.taxonomy import Taxonomy, induce_taxonomy
    from labelwise.llm import open_backend

    writable(out, folder=False)
    if out.exists() and not overwrite and (start is None or start.resolve() != out.resolve()):
        raise DataError(f"{out} exists. Pass --overwrite to replace it, --start {out} to refine it, or another --out.")
    texts = read_with_text_column(data, text, encoding=encoding, sep=sep)[text].dropna().astype(str).tolist()
    initial = Taxonomy.load(start) if start is not None else None
    if model is None and server is None:
        messages.print("note: the packaged Gemma 3 270M is a small base model and usually cannot write a taxonomy "
                       "(docs/taxonomy.md); when its first answer is not one, labelwise uses embedding clusters at "
                       "once. For real work pass an instruction-tuned model: --model FILE.gguf --chat, or --server URL.",
                       highlight=False, markup=False)
    backend = open_backend(str(model) if model else None, server=server, server_model=server_model, threads=threads,
                           n_ctx=CONTEXT_TOKENS)
    with progress_bars(enabled=not quiet) as progress:
        result = induce_taxonomy(texts, backend, use_case=use_case or (initial.use_case if initial else ""),
                                 max_labels=max_labels, min_labels=min_labels, granularity=granularity,
                                 sample_size=sample or None, batch_size=batch_size, summarize_texts=summaries,
                                 review=review, start=initial, chat=chat, random_state=random_state,
                                 progress=progress)
    result.save(out)
    settings = result.settings
    how = (settings["fallback"] if settings.get("fallback")
           else f"{backend.model}, {settings['minibatches']} minibatches")
    if settings.get("fallback_reason"):
        messages.print(plain(("note:", "yellow"), f" {settings['fallback_reason']}."), soft_wrap=True)
    console.print(plain(f"{len(result)} categories from {settings['texts_sampled']:,} texts ({how}; "
                        f"{settings['llm_calls']:,} model calls, {len(settings['repairs'])} repairs):"), soft_wrap=True)
    for category in result.categories:
        console.print(plain(f"  {category.name:<32} {category.description[:80]}"), soft_wrap=True)
    messages.print(plain(f"wrote {out}: edit it, then label with: labelwise annotate {data} --text {text} "
                         f"--taxonomy {out} --distill"))
