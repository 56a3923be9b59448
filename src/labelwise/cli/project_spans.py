"""``labelwise project-spans``: move span labels onto translations by constrained marker search (Codec)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, MODEL, QUIET, SEP, SERVER, SERVER_MODEL, THREADS, writable
from labelwise.errors import DataError, ParameterError

CONLL_SUFFIXES = (".conll", ".bio", ".iob", ".bioes")


def read_projection_input(data: Path, translations: str, *, text: Optional[str], spans: Optional[str],
                          encoding: Optional[str] = None, sep: Optional[str] = None) -> tuple:
    """(source texts, span lists, translations) from a table with text, spans and translation columns, or a span
    JSONL file whose records carry the translation field."""
    from labelwise.audit.spans import read_span_data
    from labelwise.data.io import read_table
    from labelwise.data.spans import read_span_jsonl

    if not data.is_file():
        raise DataError(f"{data} does not exist: give a CSV/Parquet table or a span JSONL file.")
    suffix = data.suffix.lower()
    if suffix in CONLL_SUFFIXES:
        raise DataError(f"{data} is a CoNLL file, which has no place for translations: write a span JSONL file or a "
                        "table with a translation column.")
    if suffix == ".jsonl" and spans is None:
        records = read_span_jsonl(data)
        missing = [i for i, r in enumerate(records) if translations not in r.record]
        if missing:
            raise DataError(f"{data}: record {missing[0]} has no field {translations!r}; give each record its "
                            "translation, or name the field with --translations.")
        texts, span_lists = [r.text for r in records], [r.spans for r in records]
        targets = [r.record[translations] for r in records]
    else:
        frame = read_table(data, encoding=encoding, sep=sep)
        if translations not in frame.columns:
            raise DataError(f"{data} has no column {translations!r}; its columns are: "
                            f"{', '.join(map(str, frame.columns))}. Name the translation column with --translations.")
        for column, option in ((text or "text", "--text"), (spans or "spans", "--spans")):
            if column not in frame.columns:
                raise DataError(f"{data} has no column {column!r}; its columns are: "
                                f"{', '.join(map(str, frame.columns))}. Name it with {option}.")
        texts, span_lists = read_span_data(frame, spans=spans or "spans", text=text)
        targets = list(frame[translations])
    cleaned = []
    for row, (target, row_spans) in enumerate(zip(targets, span_lists)):
        target = "" if target is None or (isinstance(target, float) and target != target) else str(target)
        if row_spans and not target.strip():
            raise DataError(f"{data}, row {row}: the translation is empty but the row has spans; fill in its "
                            f"{translations!r} or drop the row.")
        cleaned.append(target)
    return texts, span_lists, cleaned


def _open_scorer(model, server, server_model, threads, source_lang, target_lang):
    """The scorer the options ask for (a function of its own so that tests can put a toy scorer in its place)."""
    from labelwise.llm.sequence_scorer import open_scorer

    return open_scorer(str(model) if model else None, server=server, server_model=server_model, threads=threads,
                       source_lang=source_lang, target_lang=target_lang)


def project_spans(
    data: Path = typer.Argument(..., help="A CSV/Parquet table with text, spans and translation columns, or a span "
                                "JSONL file whose records carry the translation.", show_default=False),
    translations: str = typer.Option(..., "--translations", help="The column (or JSONL field) with each row's "
                                     "translation.", show_default=False),
    out: Path = typer.Option(Path("labelwise-projection"), "--out", "-o", help="Folder for projected.jsonl, "
                             "projection.csv and summary.json."),
    text: Optional[str] = typer.Option(None, "--text", "-t", help="The source text column (default: text)."),
    spans: Optional[str] = typer.Option(None, "--spans", help="The span column of a table (default: spans): JSON "
                                        "lists of {start, end, label} or [start, end, label]."),
    mode: str = typer.Option("exact", "--mode", help="exact: branch-and-bound, the best marker positions under the "
                             "model; fast: a heuristic bound that prunes more and may miss them."),
    n_best: int = typer.Option(5, "--n-best", help="Candidates per span that the re-ranking chooses from."),
    rerank: str = typer.Option("filter", "--rerank", help="filter (keep similar or reverse-likely candidates, in "
                               "the search's order), reverse (lowest reverse-translation NLL) or none."),
    source_lang: str = typer.Option("English", "--source-lang", help="The source language's name in the prompt."),
    target_lang: str = typer.Option("Spanish", "--target-lang", help="The translation's language's name."),
    show: int = typer.Option(10, "--show", help="Projected spans to print."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Project span labels onto translations (Codec): each source span gets a marker pair, and a constrained search
    finds where the pair goes in the fixed translation under a translation model's probabilities.

    Writes OUT/projected.jsonl (the translations with their spans: labelwise audit --spans reads it),
    OUT/projection.csv (one line per source span: where it went, or why it failed) and OUT/summary.json.

    Example: labelwise project-spans ner_en.csv --spans entities --translations text_es --target-lang Spanish --out es/
    """
    from labelwise.generate.projection import MODES, RERANK, project_table

    if mode not in MODES:
        raise ParameterError(f"--mode {mode}: use exact or fast.")
    if rerank not in RERANK:
        raise ParameterError(f"--rerank {rerank}: use {', '.join(RERANK)}.")
    if n_best < 1:
        raise ParameterError(f"--n-best {n_best}: pass 1 or more.")
    if show < 0:
        raise ParameterError(f"--show {show}: pass 0 or more.")
    writable(out, folder=True)
    texts, span_lists, targets = read_projection_input(data, translations, text=text, spans=spans,
                                                       encoding=encoding, sep=sep)
    scorer = _open_scorer(model, server, server_model, threads, source_lang, target_lang)
    name = server_model or server or (Path(model).name if model else "gemma-3-270m (packaged)")
    with progress_bars(enabled=not quiet) as progress:
        result = project_table(texts, span_lists, targets, scorer, mode=mode, n_best=n_best, rerank=rerank,
                               model=str(name), progress=progress)
    result.save(out)
    frame = result.to_frame()
    done = int((frame["status"] == "projected").sum())
    console.print(plain(f"{len(texts)} rows, {done}/{len(frame)} spans projected ({mode} search, {name}): "
                        f"{result.settings['scorer_calls']:,} model calls, "
                        f"{result.settings['tokens_evaluated']:,} tokens evaluated"), soft_wrap=True)
    if show and len(frame):
        columns = ["row", "label", "source_text", "target_text", "status"]
        console.print(plain(frame[columns].head(show).to_string(index=False)), soft_wrap=True)
    messages.print(plain(f"wrote {out}/ projected.jsonl, projection.csv, summary.json"), soft_wrap=True)
