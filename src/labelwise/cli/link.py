"""``labelwise link``: record linkage with sentence embeddings (``labelwise dedupe`` is in :mod:`labelwise.cli.dedupe`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.options import DEBUG, QUIET, writable
from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.errors import LabelwiseError

ENCODERS = ("minilm", "hashing")


def _encoder(name: str):
    if name not in ENCODERS:
        raise LabelwiseError(f"--encoder must be one of {', '.join(ENCODERS)}; got {name!r}.")
    if name == "hashing":
        from labelwise.features import HashingTextEncoder

        return HashingTextEncoder(dim=256)
    return None  # the library's default: the offline MiniLM encoder


def _read(path: Path, encoding: Optional[str]):
    from labelwise.data import read_table

    return read_table(str(path), encoding=encoding)


def link(
    left: Path = typer.Argument(..., help="The left table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    right: Path = typer.Argument(..., help="The right table (same formats).", show_default=False),
    on: str = typer.Option(..., "--on", help="Columns to compare, comma-separated, e.g. title,authors.",
                           show_default=False),
    out: Path = typer.Option(Path("pairs.csv"), "--out", "-o", help="Where to write the pairs (left_id, right_id, "
                             "score); .csv, .tsv, .parquet or .jsonl."),
    left_id: Optional[str] = typer.Option(None, "--left-id", help="Id column of LEFT (default: row numbers)."),
    right_id: Optional[str] = typer.Option(None, "--right-id", help="Id column of RIGHT (default: row numbers)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Minimum cosine score of a match "
                                              "(default: chosen from the scores, no labels needed)."),
    one_to_one: bool = typer.Option(False, "--one-to-one", help="Each row matches at most one row on the other side."),
    block_on: Optional[str] = typer.Option(None, "--block-on", help="Columns that must be equal to compare two "
                                           "rows, comma-separated, e.g. year."),
    k: int = typer.Option(10, "--k", help="Candidates retrieved per left row."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of CSV/TSV/JSONL files "
                                           "(default utf-8), e.g. latin-1."),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' (offline sentence embeddings) or 'hashing' "
                                "(hashed words, no model: fast and rough)."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the rows of RIGHT that describe the same thing as rows of LEFT.

    Example: labelwise link dblp.csv acm.csv --on title,authors --left-id id --right-id id --out pairs.csv
    """
    from labelwise.data.io import table_format, write_table_atomic
    from labelwise.link import link as link_tables

    table_format(writable(out, folder=False))  # a wrong extension or folder fails now, not after the work
    start = time.perf_counter()
    left_table, right_table = _read(left, encoding), _read(right, encoding)
    with progress_bars(enabled=not quiet) as progress:
        result = link_tables(left_table, right_table, on=on, left_id=left_id, right_id=right_id, block_on=block_on,
                             threshold=threshold, one_to_one=one_to_one, encoder=_encoder(encoder), k=k,
                             progress=progress)
    write_table_atomic(result.pairs, out)
    matched = result.pairs["left_id"].nunique() if len(result.pairs) else 0
    console.print(plain(f"{len(result.pairs):,} pairs found ({matched:,} of {len(left_table):,} left rows matched, "
                        f"{len(right_table):,} right rows)"))
    console.print(plain(f"threshold {result.threshold.describe()}"), soft_wrap=True)
    messages.print(plain(f"wrote {out} in {time.perf_counter() - start:.1f}s"))

