"""``labelwise link``: record linkage with a lexical + embedding scorer (``labelwise dedupe`` is in
:mod:`labelwise.cli.dedupe`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.options import DEBUG, ENCODING, QUIET, RAY, SEP, link_encoder, list_option, run_on, writable
from labelwise.cli.console import console, messages, plain, progress_bars


def _read(path: Path, encoding: Optional[str], sep: Optional[str] = None):
    from labelwise.data import read_table

    return read_table(str(path), encoding=encoding, sep=sep)


def _ids_used(column: Optional[str], given: Optional[str]) -> str:
    if column is None:
        return "row numbers (no id column with unique values)"
    return f"column {column!r}" + ("" if given else " (found)")


def link(
    left: Path = typer.Argument(..., help="The left table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    right: Path = typer.Argument(..., help="The right table (same formats).", show_default=False),
    on: List[str] = list_option("--on", help="Columns to compare, e.g. title,authors; left_col=right_col pairs "
                                "columns named differently, e.g. title=name,price.", required=True),
    out: Path = typer.Option(Path("pairs.csv"), "--out", "-o", help="Where to write the pairs (left_id, right_id, "
                             "score = match probability); .csv, .tsv, .parquet or .jsonl."),
    left_id: Optional[str] = typer.Option(None, "--left-id", help="Id column of LEFT (default: its 'id' column, any "
                                          "case, else row numbers).", show_default=False),
    right_id: Optional[str] = typer.Option(None, "--right-id", help="Id column of RIGHT (default: its 'id' column, "
                                           "any case, else row numbers).", show_default=False),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Minimum match probability (0-1) of a pair "
                                              "(default: the cut with the highest F1 expected from the "
                                              "probabilities, no labels needed).", show_default=False),
    one_to_one: Optional[bool] = typer.Option(None, "--one-to-one/--many-to-many", help="Each row matches at most "
                                              "one row on the other side, or any number (default: one-to-one "
                                              "unless more than 5% of either table's rows appear twice on the compared "
                                              "columns).", show_default=False, metavar=""),
    block_on: Optional[List[str]] = list_option("--block-on", help="Columns that must be equal to compare two rows, "
                                                "e.g. year."),
    k: int = typer.Option(10, "--k", help="Candidates retrieved per left row by embeddings and by character "
                          "n-grams, each."),
    encoding: Optional[str] = ENCODING,
    left_encoding: Optional[str] = typer.Option(None, "--left-encoding", help="Text encoding of LEFT (default: "
                                                "--encoding).", show_default=False),
    right_encoding: Optional[str] = typer.Option(None, "--right-encoding", help="Text encoding of RIGHT (default: "
                                                 "--encoding).", show_default=False),
    sep: Optional[str] = SEP,
    left_sep: Optional[str] = typer.Option(None, "--left-sep", help="Field separator of LEFT (default: --sep).",
                                           show_default=False),
    right_sep: Optional[str] = typer.Option(None, "--right-sep", help="Field separator of RIGHT (default: --sep).",
                                            show_default=False),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' (offline sentence embeddings) or 'hashing' "
                                "(hashed words, no model: fast and rough)."),
    ray: Optional[str] = RAY,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the rows of RIGHT that describe the same thing as rows of LEFT.

    Each candidate pair gets a match probability (character n-grams, words, numbers and product codes per column,
    beside sentence embeddings, weighed by a Fellegi-Sunter model fitted without labels).

    Example: labelwise link dblp.csv acm.csv --on title,authors,venue,year --left-encoding latin-1 --out pairs.csv
    """
    from labelwise.data.io import table_format, write_table_atomic
    from labelwise.link import link as link_tables

    table_format(writable(out, folder=False))  # a wrong extension or folder fails now, not after the work
    start = time.perf_counter()
    left_table = _read(left, left_encoding or encoding, left_sep or sep)
    right_table = _read(right, right_encoding or encoding, right_sep or sep)
    with run_on(ray) as executor, progress_bars(enabled=not quiet) as progress:
        result = link_tables(left_table, right_table, on=on, left_id=left_id, right_id=right_id, block_on=block_on,
                             threshold=threshold, one_to_one=one_to_one, encoder=link_encoder(encoder), k=k,
                             progress=progress, executor=executor)
    write_table_atomic(result.pairs, out)
    info = result.info
    matched = result.pairs["left_id"].nunique() if len(result.pairs) else 0
    console.print(plain(f"ids: left {_ids_used(info['left_id'], left_id)}, right "
                        f"{_ids_used(info['right_id'], right_id)}"), soft_wrap=True)
    console.print(plain(f"one-to-one: {'yes' if info['one_to_one'] else 'no'} ({info['one_to_one_reason']})"),
                  soft_wrap=True)
    console.print(plain(f"{len(result.pairs):,} pairs found ({matched:,} of {len(left_table):,} left rows matched, "
                        f"{len(right_table):,} right rows; {info['n_candidates']:,} candidate pairs scored)"), soft_wrap=True)
    console.print(plain(f"threshold {result.threshold.value:.3f} ({result.threshold.method}): "
                        f"{info['estimate'].describe()}"), soft_wrap=True)
    messages.print(plain(f"wrote {out} in {time.perf_counter() - start:.1f}s"))

