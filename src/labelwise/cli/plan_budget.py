"""``labelwise plan-budget``: how many weak labels (LLM, crowd) and how many expert labels to buy for a budget,
simulated on a pilot table (paper 26, :mod:`labelwise.generate.budget`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import (DEBUG, ENCODING, QUIET, SEP, link_encoder, list_option, read_with_text_column,
                                   writable)


def _mix(row) -> str:
    return f"{int(round(row.n_oracle)):,} expert + {int(round(row.n_weak)):,} weak (f = {row.best_f:g})"


def plan_budget(
    data: Path = typer.Argument(..., help="The pilot table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    text: str = typer.Option(..., "--text", help="Column with the text to label.", show_default=False),
    oracle: str = typer.Option(..., "--oracle", help="Column with the expert labels (on a sample; empty elsewhere).",
                               show_default=False),
    weak: str = typer.Option(..., "--weak", help="Column with the cheap labels (LLM or crowd) on every row.",
                             show_default=False),
    oracle_cost: float = typer.Option(..., "--oracle-cost", help="Cost of one expert label.", show_default=False),
    weak_cost: float = typer.Option(..., "--weak-cost", help="Cost of one weak label.", show_default=False),
    budgets: Optional[List[str]] = list_option("--budgets", metavar="B", help="Budgets to simulate, in the costs' "
                                               "unit (default: 2, 8, 32, ... expert labels' worth up to every expert "
                                               "label of the pilot)."),
    budget: Optional[float] = typer.Option(None, "--budget", help="Your budget: recommend a mix for it.",
                                           show_default=False),
    seeds: int = typer.Option(5, "--seeds", help="Runs per budget and mix, each on its own draw of rows (the "
                              "interval is over them)."),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' (the packaged sentence encoder) or 'hashing' "
                                "(hashed words, no model: fast, less accurate)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for runs.csv, summary.csv, frontier.csv "
                                       "and summary.json.", show_default=False),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Simulate buying weak and expert labels at several budgets on a pilot table, and print the best mix per budget.

    Example: labelwise plan-budget pilot.csv --text text --oracle expert --weak llm --oracle-cost 1 --weak-cost 0.05
    """
    from labelwise.errors import ParameterError
    from labelwise.generate.budget import pareto_frontier, plan_budget as plan

    if out is not None:
        writable(out, folder=True)
    if budgets is not None:
        try:
            budgets = [float(b) for b in budgets]
        except ValueError:
            raise ParameterError(f"--budgets must be numbers, got {','.join(budgets)}.") from None
    if budget is not None and not 0 < budget < float("inf"):
        raise ParameterError(f"--budget must be > 0 and finite, got {budget:g}.")
    start = time.perf_counter()
    table = read_with_text_column(data, text, encoding=encoding, sep=sep)
    with progress_bars(enabled=not quiet) as progress:
        result = plan(table, text=text, oracle=oracle, weak=weak, cost_oracle=oracle_cost, cost_weak=weak_cost,
                      budgets=budgets, budget=budget, encoder=link_encoder(encoder), n_seeds=seeds, progress=progress)
    p = result.params
    console.print(plain(f"pilot: {p['oracle_pool']:,} expert labels to buy from, {p['weak_pool']:,} weak labels, "
                        f"{p['test_rows']:,} expert labels held out to measure accuracy; {len(p['classes'])} labels; "
                        f"expert {oracle_cost:g}, weak {weak_cost:g} per label; {seeds} seeds"), soft_wrap=True)
    front = pareto_frontier(result)
    console.print(plain(f"{'budget':>8}  {'best mix':<32} {'accuracy [95%]':<20} {'cost':>8}  regime"), soft_wrap=True)
    for row in front.itertuples():
        console.print(plain(f"{row.budget:>8g}  {_mix(row):<32} {row.accuracy:.3f} [{row.lo:.2f}-{row.hi:.2f}]  "
                            f"{row.cost:>8.4g}  {row.regime}"), soft_wrap=True)
    capped = result.runs[result.runs["cost"] < result.runs["budget"] - min(oracle_cost, weak_cost) - 1e-9]
    if len(capped):
        console.print(plain(f"note: at budget {capped['budget'].min():g} and above some mixes want more labels than "
                            "the pilot holds; they were capped and cost less than the budget"), soft_wrap=True)
    if budget is not None:
        row = next(front[front["budget"] == float(budget)].itertuples())
        console.print(plain(f"recommended for {budget:g}: buy {_mix(row)}, expected accuracy {row.accuracy:.3f} "
                            f"({row.lo:.3f}-{row.hi:.3f}), cost {row.cost:.4g} ({row.regime} regime)"), soft_wrap=True)
    if out is not None:
        result.save(out)
        messages.print(plain(f"wrote {out}/ (runs.csv, summary.csv, frontier.csv, summary.json) in "
                             f"{time.perf_counter() - start:.1f}s"))
