"""``labelwise link`` and ``labelwise dedupe``: record linkage and de-duplication with sentence embeddings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.options import DEBUG, QUIET, list_option, writable
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
    on: List[str] = list_option("--on", help="Columns to compare, e.g. title,authors.", required=True),
    out: Path = typer.Option(Path("pairs.csv"), "--out", "-o", help="Where to write the pairs (left_id, right_id, "
                             "score); .csv, .tsv, .parquet or .jsonl."),
    left_id: Optional[str] = typer.Option(None, "--left-id", help="Id column of LEFT (default: row numbers)."),
    right_id: Optional[str] = typer.Option(None, "--right-id", help="Id column of RIGHT (default: row numbers)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Minimum cosine score of a match "
                                              "(default: chosen from the scores, no labels needed)."),
    one_to_one: bool = typer.Option(False, "--one-to-one", help="Each row matches at most one row on the other side."),
    block_on: Optional[List[str]] = list_option("--block-on", help="Columns that must be equal to compare two rows, "
                                                "e.g. year."),
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


def dedupe(
    data: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    on: List[str] = list_option("--on", help="Columns to compare, e.g. name,address.", required=True),
    out: Path = typer.Option(Path("clusters.csv"), "--out", "-o", help="Where to write the table with cluster_id, "
                             "representative and score."),
    id_column: Optional[str] = typer.Option(None, "--id", help="Id column (default: row numbers)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Minimum cosine score of a duplicate pair "
                                              "(default: chosen from the scores)."),
    block_on: Optional[List[str]] = list_option("--block-on", help="Columns that must be equal."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of CSV/TSV/JSONL files."),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' or 'hashing' (no model)."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Group the rows of DATA that describe the same thing; each group gets a cluster_id and a representative.

    Example: labelwise dedupe shops.csv --on name,address --out clusters.csv
    """
    from labelwise.data.io import table_format, write_table_atomic
    from labelwise.link import dedupe as dedupe_table

    table_format(writable(out, folder=False))
    start = time.perf_counter()
    table = _read(data, encoding)
    with progress_bars(enabled=not quiet) as progress:
        result = dedupe_table(table, on=on, threshold=threshold, id_column=id_column, block_on=block_on,
                              encoder=_encoder(encoder), progress=progress)
    write_table_atomic(result, out)
    n_clusters = result["cluster_id"].nunique() if len(result) else 0
    sizes = result["cluster_id"].value_counts() if len(result) else []
    grouped = int((sizes > 1).sum()) if len(result) else 0
    console.print(plain(f"{len(result):,} rows -> {n_clusters:,} clusters ({grouped:,} with duplicates)"))
    console.print(plain(f"threshold {result.attrs['threshold'].describe()}"), soft_wrap=True)
    messages.print(plain(f"wrote {out} in {time.perf_counter() - start:.1f}s"))
