"""``labelwise learn``: training on imperfect labels. ``labelwise learn compare`` runs every multi-label learner on
a table a user brings (:func:`labelwise.multilabel_compare.compare_multilabel`) and writes one row per method.
``labelwise learn head`` trains a label head on a local LLM's hidden states (LS-LLaMA,
:class:`labelwise.learn.llm_label_head.LabelHead`) or on sentence embeddings, scores it on held-out rows and labels
new rows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import typer
from rich.table import Table

from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, MODEL, QUIET, SEP, list_option, read_with_text_column, writable
from labelwise.errors import DataError, ParameterError

app = typer.Typer(
    name="learn",
    help="Learn from imperfect labels: compare multi-label learners on your table (needs 'labelwise[learn]').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ENCODERS = ("minilm", "hashing", "llm")
FILES = ("compare.csv", "compare_runs.csv", "compare.svg")


@app.command("compare", no_args_is_help=True)
def compare(
    data: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column.", show_default=False),
    labels: str = typer.Option(..., "--labels", "-l", help="The multi-label column: lists (Parquet, JSON Lines) or "
                               "delimited strings with --label-delimiter.", show_default=False),
    label_delimiter: Optional[str] = typer.Option(
        None, "--label-delimiter", help="Split label strings on this delimiter, e.g. '|'."
    ),
    label_descriptions: Optional[Path] = typer.Option(
        None, "--label-descriptions", help="A description per label, embedded for the methods that read label texts: "
        "YAML or JSON {label: description}, or a table with columns 'label' and 'description'. Default: the names.",
    ),
    methods: Optional[List[str]] = list_option("--methods", "-m", metavar="NAME", help="Methods to run (default: "
                                               "all): mlcd, softcon, laso, kenet, ldam, patchct, pu-mlc, bce, "
                                               "logreg, head."),
    test_size: Optional[float] = typer.Option(None, "--test-size", help="Share of rows held out for testing, one "
                                              "random split (default 0.2; or --folds)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="K-fold cross-validation instead of one split."),
    seed: int = typer.Option(0, "--seed", "--random-state", help="Seed of the split and of every model."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for compare.csv (one row per method), compare_runs.csv "
                             "(one row per method and split) and compare.svg.", show_default=False),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Skip rows whose labels are missing."),
    encoder: str = typer.Option("minilm", "--encoder", help="Text features: 'minilm' (offline MiniLM sentence and "
                                "token embeddings), 'hashing' (hashed words: no model, fast, no synonyms) or 'llm' (a "
                                "GGUF model's pooled hidden states, LS-LLaMA; no token states)."),
    model: Optional[Path] = MODEL,
    pooling: str = typer.Option("last", "--pooling", help="With --encoder llm: 'last' token or 'mean' over tokens."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Compare every multi-label learner on your table: micro-F1, macro-F1, mAP and fit time per method.

    Each method sees the same texts embedded once, the same split and the same seed; the scores are on the
    held-out rows. Example: labelwise learn compare tickets.csv --text text --labels tags --label-delimiter '|'
    --out compare/
    """
    import labelwise.learn  # noqa: F401 - without torch: MissingExtraError naming pip install 'labelwise[learn]'
    from labelwise.data.dataset import load_labelled_table
    from labelwise.multilabel_compare import METHODS, compare_multilabel, summarise_runs

    writable(out, folder=True)
    if test_size is not None and folds is not None:
        raise ParameterError("Give --test-size or --folds, not both.")
    if encoder not in ENCODERS:
        raise ParameterError(f"--encoder must be one of {', '.join(ENCODERS)}; got {encoder!r}.")
    unknown = [m for m in methods or [] if m not in METHODS]
    if unknown:
        raise ParameterError(f"Unknown method {', '.join(map(repr, unknown))} in --methods; choose from "
                             f"{', '.join(METHODS)}.")
    table = load_labelled_table(data, label=labels, text=text, multi_label=True if label_delimiter else None,
                                delimiter=label_delimiter, drop_missing=drop_missing, encoding=encoding, sep=sep)
    column = table.labels
    if not column.multi_label:
        raise DataError(f"Column '{labels}' of {data} holds one label per row; learn compare compares multi-label "
                        "methods. Give a column of label lists, or split label strings with --label-delimiter "
                        "(e.g. '|').")
    descriptions = _label_texts(label_descriptions, column.classes) if label_descriptions is not None else None
    chosen_encoder = _encoder(encoder, model, pooling)
    splits: Any = folds if folds is not None else (test_size if test_size is not None else 0.2)
    with progress_bars(enabled=not quiet) as progress:
        runs = compare_multilabel(table.texts(), column.codes.astype(int), column.classes, label_texts=descriptions,
                                  methods=methods or None, splits=splits, seeds=[seed], encoder=chosen_encoder,
                                  n_threads=1, per_split=True, progress=progress)
    summary = summarise_runs(runs)
    for row in summary.itertuples():
        if row.note:
            messages.print(plain(f"note: {row.method}: {row.note}"), soft_wrap=True)
    with interrupt_after():
        write_comparison(summary, runs, out, title=f"{Path(data).name}: {len(table)} rows, {column.n_classes} labels")
    print_comparison(summary)
    messages.print(plain(f"wrote {out}/ {', '.join(FILES)}"), soft_wrap=True)


def _encoder(name: str, model: Optional[Path] = None, pooling: str = "last", causal: bool = True,
             threads: Optional[int] = None) -> Any:
    if name == "llm":
        from labelwise.llm.embeddings import POOLINGS, LlamaCppEmbedder

        if pooling not in POOLINGS:
            raise ParameterError(f"--pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}.")
        if threads is not None and threads < 1:
            raise ParameterError(f"--threads must be 1 or more; got {threads}.")
        return LlamaCppEmbedder(model, pooling=pooling, causal=causal, n_threads=threads or 1)
    if model is not None:
        raise ParameterError("--model names a GGUF model for --encoder llm; drop it or add --encoder llm.")
    if name == "hashing":
        from labelwise.features import HashingTextEncoder

        return HashingTextEncoder(dim=256)
    from labelwise.features import TextEncoder

    return TextEncoder()


@app.command("head", no_args_is_help=True)
def head(
    data: Path = typer.Argument(..., help="The labelled table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column.", show_default=False),
    labels: str = typer.Option(..., "--labels", "-l", help="The label column (one label per row, or label lists / "
                               "delimited strings with --label-delimiter for multi-label).", show_default=False),
    label_delimiter: Optional[str] = typer.Option(None, "--label-delimiter", help="Split label strings on this "
                                                  "delimiter, e.g. '|' (multi-label)."),
    encoder: str = typer.Option("llm", "--encoder", help="Features: 'llm' (a GGUF model's final-layer hidden "
                                "states through llama.cpp, LS-LLaMA), 'minilm' (sentence embeddings) or 'hashing'."),
    model: Optional[Path] = MODEL,
    pooling: str = typer.Option("last", "--pooling", help="With --encoder llm: 'last' (the last token's state) or "
                                "'mean' (the mean over the tokens)."),
    causal_mask: bool = typer.Option(True, "--causal-mask/--no-causal-mask", help="With --encoder llm: "
                                     "--no-causal-mask lets every token see the whole text (LS-unLLaMA's unmasking)."),
    head_kind: str = typer.Option("linear", "--head", help="'linear' (softmax / per-label sigmoid, strength chosen by "
                                  "cross-validation) or 'mlp' (one hidden layer)."),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of rows held out to score the head."),
    predict: Optional[Path] = typer.Option(None, "--predict", help="A table with the --text column whose rows the head "
                                           "(refit on every labelled row) labels: written to OUT/predictions.csv."),
    seed: int = typer.Option(0, "--seed", "--random-state", help="Seed of the split and of the head."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for scores.json, test_predictions.csv and "
                             "predictions.csv.", show_default=False),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Skip rows whose labels are missing."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the LLM (default 1)."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Train a label head on an LLM's hidden states (LS-LLaMA, frozen model) and label new rows.

    The texts are embedded once (cached on disk, so a rerun is fast), a held-out share scores the head (accuracy and
    macro-F1), then the head is refit on every row and labels --predict. llama.cpp cannot train the model itself: only
    the head learns. Example: labelwise learn head tickets.csv --text text --labels intent --model my.gguf --predict
    new.csv --out head/
    """
    from labelwise.data.dataset import load_labelled_table
    from labelwise.features.base import embed
    from labelwise.learn.llm_label_head import HEADS, LabelHead

    writable(out, folder=True)
    if encoder not in ENCODERS:
        raise ParameterError(f"--encoder must be one of {', '.join(ENCODERS)}; got {encoder!r}.")
    if head_kind not in HEADS:
        raise ParameterError(f"--head must be one of {', '.join(HEADS)}; got {head_kind!r}.")
    if not 0 < test_size < 1:
        raise ParameterError(f"--test-size must be between 0 and 1 (a share of the rows); got {test_size}.")
    chosen_encoder = _encoder(encoder, model, pooling, causal_mask, threads)
    new = read_with_text_column(predict, text, encoding=encoding, sep=sep) if predict is not None else None
    table = load_labelled_table(data, label=labels, text=text, multi_label=True if label_delimiter else None,
                                delimiter=label_delimiter, drop_missing=drop_missing, encoding=encoding, sep=sep)
    column, texts = table.labels, table.texts()
    train, test = _head_split(column, test_size, seed)
    y = column.codes.astype(int)
    if column.multi_label:
        constant = [column.classes[j] for j in np.flatnonzero(y[train].min(axis=0) == y[train].max(axis=0))]
        if constant:
            raise DataError(f"After holding out {len(test)} rows, label(s) {', '.join(map(repr, constant[:5]))} are on "
                            "every training row or on none: a head cannot learn them. Label more rows with them, drop "
                            "them, or lower --test-size.")
    with progress_bars(enabled=not quiet) as progress:
        X = embed(chosen_encoder, texts, progress)
        fitted = LabelHead(head=head_kind, C="auto", random_state=seed).fit(X[train], y[train])
        proba = fitted.predict_proba(X[test])
        scores = _head_scores(y[test], fitted.decide(proba), column.multi_label)
        if new is not None:
            new_texts = new[text].fillna("").astype(str).tolist()
            X_new = embed(chosen_encoder, new_texts, progress)
            final = LabelHead(head=head_kind, C="auto", random_state=seed).fit(X, y)
            new_proba = final.predict_proba(X_new)
    names = np.asarray(column.classes, dtype=object)
    summary = {"rows": len(texts), "train": len(train), "test": len(test), "labels": len(names),
               "multi_label": column.multi_label, "encoder": getattr(chosen_encoder, "model_id", encoder),
               "head": head_kind, **scores}
    with interrupt_after():
        _write_head(out, summary, [texts[i] for i in test], _named(y[test], names, column.multi_label),
                    _named(fitted.decide(proba), names, column.multi_label), proba,
                    None if new is None else (new_texts, _named(final.decide(new_proba), names, column.multi_label),
                                              new_proba))
    messages.print(plain(f"held-out rows: {len(test)}  accuracy {scores['accuracy']:.3f}  macro-F1 "
                         f"{scores['macro_f1']:.3f}"), soft_wrap=True)
    written = ["scores.json", "test_predictions.csv"] + (["predictions.csv"] if new is not None else [])
    messages.print(plain(f"wrote {out}/ {', '.join(written)}"), soft_wrap=True)


def _head_split(column, test_size: float, seed: int):
    """(train rows, test rows): stratified by class where every class has two rows or more (single-label)."""
    from sklearn.model_selection import train_test_split

    n = len(column.codes)
    n_test = int(round(n * test_size))
    if n_test < 1 or n - n_test < 2:
        raise DataError(f"{n} labelled rows are too few to hold out {test_size:.0%} and still train; label more rows "
                        "or change --test-size.")
    stratify = None
    if not column.multi_label:
        counts = np.bincount(column.codes)
        if counts[counts > 0].min() >= 2 and n_test >= (counts > 0).sum():
            stratify = column.codes
    return train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)


def _head_scores(truth: np.ndarray, predicted: np.ndarray, multi_label: bool) -> dict:
    from sklearn.metrics import f1_score

    exact = (predicted == truth).all(axis=1) if multi_label else predicted == truth
    return {"accuracy": float(exact.mean()),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0))}


def _named(codes: np.ndarray, names: np.ndarray, multi_label: bool) -> list[str]:
    if multi_label:
        return ["|".join(names[np.flatnonzero(row)]) for row in codes]
    return [str(names[c]) for c in codes]


def _write_head(out: Path, summary: dict, test_texts, truth, predicted, proba, new) -> None:
    """``scores.json``, ``test_predictions.csv`` (held-out rows) and ``predictions.csv`` (--predict), atomically."""
    import json

    import pandas as pd

    from labelwise.data.atomic import write_text_atomic
    from labelwise.data.formula import neutralise_frame
    from labelwise.data.io import write_table_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "scores.json", json.dumps(summary, indent=2) + "\n")
    held_out = pd.DataFrame({"text": test_texts, "label": truth, "predicted": predicted,
                             "probability": proba.max(axis=1)})
    write_table_atomic(neutralise_frame(held_out), out / "test_predictions.csv")
    if new is not None:
        texts, labels, new_proba = new
        frame = pd.DataFrame({"row": np.arange(len(texts)), "text": texts, "label": labels,
                              "probability": new_proba.max(axis=1)})
        write_table_atomic(neutralise_frame(frame), out / "predictions.csv")


def _label_texts(path: Path, classes: list[str]) -> list[str]:
    """One text per class from ``--label-descriptions``: a YAML/JSON mapping or a table (label, description); a class
    it does not name keeps its name (read as words); a name it has that no row carries is an error (a typo)."""
    import yaml

    from labelwise.data.io import read_table, read_text_file

    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            found = yaml.safe_load(read_text_file(path, "Label descriptions"))
        except yaml.YAMLError as exc:
            raise DataError(f"{path} is not valid YAML/JSON ({' '.join(str(exc).split())}). Give a mapping "
                            "{label: description}.") from None
        if not isinstance(found, dict):
            raise DataError(f"{path} must hold a mapping {{label: description}}; it holds a "
                            f"{type(found).__name__}.")
        given = {str(k): str(v) for k, v in found.items()}
    else:
        frame = read_table(path)
        if not {"label", "description"} <= set(map(str, frame.columns)):
            raise DataError(f"{path} needs the columns 'label' and 'description'; it has "
                            f"{', '.join(map(str, frame.columns))}.")
        given = {str(k): str(v) for k, v in zip(frame["label"], frame["description"])}
    stray = sorted(set(given) - set(classes))
    if stray:
        raise DataError(f"{path} describes {', '.join(map(repr, stray[:5]))}, which no row carries. Check the names "
                        "(they must match the labels exactly) or remove those entries.")
    return [given.get(c, c.replace("_", " ").replace("-", " ")) for c in classes]


def write_comparison(summary, runs, out: Path, *, title: str = "") -> None:
    """``out/compare.csv`` (one row per method), ``out/compare_runs.csv`` (one per method and split) and
    ``out/compare.svg``, each written atomically; text cells are neutralised against spreadsheet formulas."""
    from labelwise.data.atomic import write_text_atomic
    from labelwise.data.formula import neutralise_frame
    from labelwise.data.io import write_table_atomic
    from labelwise.report.svg import grouped_bars

    out.mkdir(parents=True, exist_ok=True)
    write_table_atomic(neutralise_frame(summary), out / "compare.csv")
    write_table_atomic(neutralise_frame(runs), out / "compare_runs.csv")
    series = {name: summary[metric].tolist() for name, metric in
              (("micro-F1", "micro_f1"), ("macro-F1", "macro_f1"), ("mAP", "mAP"))}
    svg = grouped_bars(summary["method"].tolist(), series, title=title or "multi-label methods compared")
    write_text_atomic(out / "compare.svg", '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg) + "\n")


def print_comparison(summary) -> None:
    """The methods that ran as a table on stdout: mean scores over the splits (their spread is in compare.csv)."""
    table = Table(show_header=True, header_style="bold")
    for name in ("method", "micro-F1", "macro-F1", "mAP", "fit s", "runs", "train", "test"):
        table.add_column(name, justify="left" if name == "method" else "right", no_wrap=True)
    for row in summary.to_dict("records"):
        if not row["runs"]:
            continue  # left out or failed: its note was printed
        cells = [plain(row["method"])]
        cells += ["-" if _missing(row[c]) else f"{row[c]:.3f}" for c in ("micro_f1", "macro_f1", "mAP")]
        cells += [f"{row['fit_seconds']:.1f}", str(row["runs"]), f"{row['n_train']:.0f}", f"{row['n_test']:.0f}"]
        table.add_row(*cells)
    console.print(table)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
