"""``labelwise adapt``: correct a fitted classifier for a stream whose class mix changed (label shift), batch by
batch, and report the estimated class prior over time (:func:`labelwise.adapt_stream.adapt_stream`)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, QUIET, SEP, list_option, writable


def adapt(
    model: str = typer.Argument(..., metavar="MODEL", show_default=False, help="A fitted scikit-learn classifier "
                                "(or pipeline) saved with joblib.dump(model, 'model.joblib'): loading it runs code "
                                "stored in the file, so give only files you trust. Or 'columns': no model, both "
                                "tables carry its probabilities in columns named --proba-prefix + class."),
    source: Path = typer.Option(..., "--source", show_default=False, help="Labelled rows from the distribution "
                                "the model was trained on (its training table, or better a held-out part): they "
                                "give the class prior the model learnt. CSV, TSV, Parquet or JSON Lines."),
    stream: Path = typer.Option(..., "--stream", show_default=False, help="The new rows, in arrival order. A label "
                                "column there is optional and only used to score the predictions."),
    label: str = typer.Option(..., "--label", "-l", show_default=False, help="The label column of --source."),
    features: Optional[List[str]] = list_option("--features", help="The model's input columns (default: the "
                                                "columns it was fitted on, else every column but --label)."),
    text: Optional[str] = typer.Option(None, "--text", "-t", help="The one text column a text pipeline (e.g. "
                                       "TF-IDF + logistic regression) takes, instead of --features."),
    proba_prefix: str = typer.Option("proba_", "--proba-prefix", help="With MODEL 'columns': the prefix of the "
                                     "probability columns (proba_cat, proba_dog, ...)."),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Rows per batch: the prior is re-estimated "
                                   "after each."),
    momentum: float = typer.Option(0.9, "--momentum", help="Weight of the running prior estimate at each batch "
                                   "(0: each batch on its own)."),
    prior_update: str = typer.Option("em", "--prior-update", help="'em' (each batch's maximum-likelihood prior by "
                                     "EM, then momentum) or 'online' (one EM step per batch)."),
    calibrate: bool = typer.Option(False, "--calibrate", help="Calibrate the model on --source first (bias-corrected "
                                   "temperature scaling); only when --source was held out from training."),
    out: Path = typer.Option(..., "--out", "-o", show_default=False, help="Folder for priors.csv (the estimated "
                             "prior after each batch) and predictions.csv (the corrected predictions)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Correct a classifier's predictions on a stream whose class mix has shifted.

    The stream is read in batches; after each, the class prior is re-estimated by EM from the model's
    probabilities and that batch's predictions are re-weighted by prior / training prior. Writes the prior over time
    and the corrected predictions. Example: labelwise adapt model.joblib --source train.csv --stream new.csv
    --label label --batch-size 200 --out adapted/
    """
    from labelwise.adapt_stream import PROBABILITY_COLUMNS, adapt_stream, load_model

    writable(out, folder=True)
    loaded = model if model == PROBABILITY_COLUMNS else load_model(model)
    with progress_bars(enabled=not quiet) as progress:
        result = adapt_stream(loaded, source, stream, label=label, features=features, text=text,
                              proba_prefix=proba_prefix, batch_size=batch_size, momentum=momentum,
                              prior_update=prior_update, calibrate=calibrate, encoding=encoding, sep=sep,
                              progress=progress)
    with interrupt_after():
        result.save(out)
    print_summary(result)
    messages.print(plain(f"wrote {out}/ priors.csv, predictions.csv"), soft_wrap=True)


def print_summary(result) -> None:
    """The classes whose prior moved most (source -> the last estimate) and, on a labelled stream, the stream's own
    class shares and the accuracy before and after the correction."""
    import numpy as np

    moved = np.argsort(-np.abs(result.prior - result.source_prior), kind="stable")[:10]
    table = Table(show_header=True, header_style="bold", title="class prior: source, estimate after the last batch"
                  + (", and the stream's labels" if result.stream_prior is not None else ""))
    labelled = result.stream_prior is not None
    for name in ("class", "source", "estimate", "change") + (("stream",) if labelled else ()):
        if name == "class":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right", no_wrap=True, min_width=6)
    for j in moved:
        table.add_row(plain(result.classes[j]), f"{result.source_prior[j]:.3f}", f"{result.prior[j]:.3f}",
                      f"{result.prior[j] - result.source_prior[j]:+.3f}",
                      *((f"{result.stream_prior[j]:.3f}",) if labelled else ()))
    console.print(table)
    changed = int((result.predictions["prediction"] != result.predictions["source_prediction"]).sum())
    line = (f"{len(result.predictions):,} rows in {len(result.priors)} batches; {changed:,} predictions changed by the "
            "correction")
    if "accuracy_adapted" in result.priors:
        rows = result.priors["rows"].to_numpy()
        before = float(np.average(result.priors["accuracy_source"], weights=rows))
        after = float(np.average(result.priors["accuracy_adapted"], weights=rows))
        line += f"; accuracy on the stream's labels {before:.3f} -> {after:.3f}"
    console.print(line + ".", highlight=False, soft_wrap=True)
