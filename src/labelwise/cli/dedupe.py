"""``labelwise dedupe``: group the rows of one table that describe the same thing (match probabilities from the
hybrid scorer ``link`` uses, average-linkage clusters)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, QUIET, RAY, SEP, link_encoder, list_option, run_on, writable


def dedupe(
    data: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    on: List[str] = list_option("--on", help="Columns to compare, e.g. name,address.", required=True),
    out: Path = typer.Option(Path("clusters.csv"), "--out", "-o", help="Where to write the table with cluster_id, "
                             "representative and score."),
    id_column: Optional[str] = typer.Option(None, "--id", help="Id column (default: a column named 'id' in any "
                                            "case when its values are unique, else row numbers)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Mean match probability (0-1) two groups' "
                                              "pairs must reach to merge (default 0.5; with --scorer cosine, a "
                                              "cosine chosen from the scores)."),
    clustering: str = typer.Option("average", "--clustering", help="'average' (average linkage: lookalikes do not "
                                   "chain) or 'components' (every chain of close pairs is one group)."),
    block_on: Optional[List[str]] = list_option("--block-on", help="Columns that must be equal."),
    scorer: str = typer.Option("hybrid", "--scorer", help="'hybrid' (match probabilities from character n-grams, "
                               "words, numbers and codes per column beside the embeddings, Fellegi-Sunter weights "
                               "fitted without labels) or 'cosine' (embedding cosine, not calibrated)."),
    k: int = typer.Option(10, "--k", help="Candidate pairs per row from each search (embeddings, character "
                          "n-grams); more than the largest expected group."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' or 'hashing' (no model)."),
    ray: Optional[str] = RAY,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Group the rows of DATA that describe the same thing; each group gets a cluster_id and a representative.

    Example: labelwise dedupe shops.csv --on name,address --out clusters.csv
    """
    from labelwise.data.io import read_table, table_format, write_table_atomic
    from labelwise.link import dedupe as dedupe_table
    from labelwise.link.serialise import find_id_column

    table_format(writable(out, folder=False))
    start = time.perf_counter()
    table = read_table(data, encoding=encoding, sep=sep)
    if id_column is None:
        id_column, note = find_id_column(table)
        console.print(plain(f"{note}; pass --id to name one"), soft_wrap=True)
    with run_on(ray) as executor, progress_bars(enabled=not quiet) as progress:
        result = dedupe_table(table, on=on, threshold=threshold, id_column=id_column, block_on=block_on,
                              encoder=link_encoder(encoder), k=k, clustering=clustering, scorer=scorer,
                              progress=progress, executor=executor)
    write_table_atomic(result, out)
    sizes = result["cluster_id"].value_counts()
    grouped = int((sizes > 1).sum())
    console.print(plain(f"{len(result):,} rows -> {len(sizes):,} clusters ({grouped:,} with duplicates, the largest "
                        f"{int(sizes.max())} rows; scorer: {scorer}, clustering: {clustering})"), soft_wrap=True)
    console.print(plain(f"threshold {result.attrs['threshold'].describe()}"), soft_wrap=True)
    console.print(plain(result.attrs["estimate"].describe()), soft_wrap=True)
    messages.print(plain(f"wrote {out} in {time.perf_counter() - start:.1f}s"))
