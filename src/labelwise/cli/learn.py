"""``labelwise learn``: training on imperfect labels. ``labelwise learn compare`` runs every multi-label learner on
a table a user brings (:func:`labelwise.multilabel_compare.compare_multilabel`) and writes one row per method."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, ENCODING, QUIET, SEP, list_option, writable
from labelwise.errors import DataError, ParameterError

app = typer.Typer(
    name="learn",
    help="Learn from imperfect labels: compare multi-label learners on your table (needs 'labelwise[learn]').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ENCODERS = ("minilm", "hashing")
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
                                "token embeddings) or 'hashing' (hashed words: no model, fast, no synonyms)."),
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
    chosen_encoder = _encoder(encoder)
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


def _encoder(name: str) -> Any:
    if name == "hashing":
        from labelwise.features import HashingTextEncoder

        return HashingTextEncoder(dim=256)
    from labelwise.features import TextEncoder

    return TextEncoder()


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
