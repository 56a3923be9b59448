"""``labelwise select``: the rows of a table to label next (active selection)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import console, messages, plain
from labelwise.cli.options import DEBUG, ENCODING, SEP, link_encoder, writable


def select(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table; rows to label have an empty label cell.",
                                show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column to embed.", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="The label column (empty = not labelled yet).",
                              show_default=False),
    budget: int = typer.Option(..., "--budget", "-n", help="How many rows to pick.", show_default=False),
    strategy: str = typer.Option("margin", "--strategy", "-s", help="random, least_confidence, margin, entropy, "
                                 "k_center (diversity, needs no labels) or rad (robust to a labeller's mistakes; "
                                 "give --labeller-error)."),
    labeller_error: Optional[float] = typer.Option(None, "--labeller-error", help="The labeller's error rate, for "
                                                   "--strategy rad (e.g. 0.1 for an LLM that is right 90% of the "
                                                   "time)."),
    out: Path = typer.Option(Path("next-rows.csv"), "--out", "-o", help="Where to write the chosen rows (with "
                             "selection_rank, row (position in DATA), and the model's guess for model-based "
                             "strategies)."),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' or 'hashing' (no model)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (random, k_center's first pick, rad)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    debug: bool = DEBUG,
) -> None:
    """Write the rows to label next: the unlabelled rows (empty label cell) a classifier on the labelled ones is
    least sure of, or the most diverse ones (k_center), or a robust sample (rad).

    Example: labelwise select tickets.csv --text body --label topic --budget 100 --strategy margin --out next.csv
    """
    from labelwise.data.io import read_table, write_table_atomic
    from labelwise.generate.next_rows import next_rows

    writable(out, folder=False)
    table = read_table(data, encoding=encoding, sep=sep)
    result = next_rows(table, text=text, label=label, budget=budget, strategy=strategy,
                       labeller_error=labeller_error, random_state=seed,
                       encoder=link_encoder(encoder))
    write_table_atomic(result.frame, out, encoding=encoding)
    console.print(f"{result.n_labelled:,} labelled, {result.n_unlabelled:,} unlabelled rows: picked "
                  f"{len(result.rows)} by {strategy}.", highlight=False, soft_wrap=True)
    messages.print(plain(f"wrote {out}"))
