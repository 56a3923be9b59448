"""``labelwise unlearn``: make a trained classifier forget rows or a class (LAF, paper 19, or a baseline), and
``labelwise train-classifier``: train the model file it reads (:mod:`labelwise.unlearning`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, QUIET, SEP, list_option, writable

_ROWS = (("forget_accuracy", "forget rows: accuracy"), ("remain_accuracy", "remaining rows: accuracy"),
         ("test_accuracy", "held-out rows: accuracy"), ("test_accuracy_forgotten", "held-out, forgotten class"),
         ("test_accuracy_retained", "held-out, other classes"), ("mia_forget", "MIA: forget rows called members"),
         ("mia_test", "MIA: unseen rows called members"),
         ("mia_auc", "MIA: attack AUC (0.5 = blind)"), ("seconds", "seconds"))


def unlearn(
    model: Path = typer.Argument(..., help="The model file (.safetensors) written by labelwise train-classifier.",
                                 show_default=False),
    data: Path = typer.Option(..., "--data", "-d", help="The table the model was trained on (CSV/TSV/Parquet/JSONL).",
                              show_default=False),
    forget: str = typer.Option(..., "--forget", "-f", help="A class name, row numbers (0-based data rows: 3,17,42) or "
                               "a file of them (numbers, or a table with a 'row' column); class:NAME or rows:N,... "
                               "when a class is named like a number.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the unlearned model (.safetensors).",
                             show_default=False),
    method: str = typer.Option("laf", "--method", "-m", help="laf (no labels), laf+r (LAF, then the head refitted on "
                               "10% of the remaining labels), retrain, finetune, gradient_ascent, random_labels or "
                               "pseudo_finetune."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="Where to write the metrics as JSON (default: "
                                           "beside --out, NAME.metrics.json).", show_default=False),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="LAF's epochs (default 20) or the fine-tuning "
                                         "baselines' (default 5).", show_default=False),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="LAF's temperature (default 20 for a "
                                                "class, 5 for rows).", show_default=False),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Make a classifier forget rows of its training table, or a whole class, and measure how well it forgot.

    Example: labelwise unlearn model.safetensors --data train.csv --forget card_lost --out model-forgot.safetensors
    """
    from labelwise.data.atomic import write_text_atomic
    from labelwise.errors import ParameterError
    from labelwise.unlearning import METHODS, unlearn as run

    if method not in METHODS:
        raise ParameterError(f"--method must be one of {', '.join(METHODS)}; got {method!r}.")
    if epochs is not None and epochs < 1:
        raise ParameterError(f"--epochs must be >= 1, got {epochs}.")
    if temperature is not None and not temperature > 0:
        raise ParameterError(f"--temperature must be > 0, got {temperature:g}.")
    writable(out, folder=False)
    metrics = metrics or out.with_name(f"{out.stem}.metrics.json")
    writable(metrics, folder=False, option="--metrics")
    with progress_bars(enabled=not quiet) as progress:
        result = run(model, data, forget, method=method, epochs=epochs, temperature=temperature, random_state=seed,
                     encoding=encoding, sep=sep, progress=progress)
    console.print(plain(f"forgot {result.what} with {method}: {result.n_forget:,} training rows forgotten, "
                        f"{result.n_remain:,} remain, {result.n_test:,} held out"), soft_wrap=True)
    before, after = result.before.as_dict(), result.after.as_dict()
    console.print(plain(f"{'':34}{'original':>10}{method:>16}"), soft_wrap=True)
    for key, name in _ROWS:
        if after[key] is None:
            continue
        first = "" if before[key] is None else f"{before[key]:.3f}"
        console.print(plain(f"{name:34}{first:>10}{after[key]:>16.3f}"), soft_wrap=True)
    result.model.save(out)
    write_text_atomic(metrics, json.dumps(result.metrics(), indent=2) + "\n")
    messages.print(plain(f"wrote {out} and {metrics}"), soft_wrap=True)


def train_classifier(
    data: Path = typer.Argument(..., help="A labelled table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="The label column.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the model (.safetensors).", show_default=False),
    text: Optional[List[str]] = list_option("--text", "-t", help="Text column(s) to embed."),
    features: Optional[List[str]] = list_option("--features", help="Numeric feature columns."),
    embeddings: Optional[str] = typer.Option(None, "--embeddings", help="A column of precomputed embeddings.",
                                             show_default=False),
    encoder: str = typer.Option("minilm", "--encoder", help="'minilm' or 'hashing' (no model) for --text."),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of rows held out (never trained on; unlearning "
                                    "measures test accuracy and membership inference on them)."),
    epochs: int = typer.Option(60, "--epochs", help="Training epochs."),
    seed: int = typer.Option(0, "--seed", help="Random seed (held-out rows, weights, batches)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Train a small classifier (an MLP split into encoder and head) that labelwise unlearn can make forget rows.

    Example: labelwise train-classifier train.csv --label intent --text text --out model.safetensors
    """
    from labelwise.errors import ParameterError
    from labelwise.unlearning import train_model

    if epochs < 1:
        raise ParameterError(f"--epochs must be >= 1, got {epochs}.")
    writable(out, folder=False)
    with progress_bars(enabled=not quiet) as progress:
        clf = train_model(data, label=label, text=text, features=features, embeddings=embeddings, encoder=encoder,
                          test_size=test_size, epochs=epochs, random_state=seed, encoding=encoding, sep=sep,
                          progress=progress)
    clf.save(out)
    console.print(plain(f"trained on {clf.training['n_rows'] - len(clf.heldout_rows):,} rows, "
                        f"{len(clf.heldout_rows):,} held out; {len(clf.classes)} classes; "
                        f"held-out accuracy {clf.training['heldout_accuracy']:.3f}"), soft_wrap=True)
    messages.print(plain(f"wrote {out}"))
