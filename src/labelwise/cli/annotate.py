"""``labelwise annotate``: label a table's text column with an LLM over a fixed label set, or transfer labels from
a zero-shot text teacher to a student on other columns (``--transfer-from`` / ``--to``)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import (DEBUG, ENCODING, MODEL, QUIET, RAY, SEP, SERVER, SERVER_MODEL, THREADS, list_option,
                                   llm_backend, read_with_text_column, writable)
from labelwise.data.io import read_text_file
from labelwise.errors import LabelwiseError


def _read_labels(labels: Optional[list[str]], labels_file: Optional[Path]) -> list[str]:
    if labels_file is not None:
        if not labels_file.is_file():
            raise LabelwiseError(f"{labels_file} does not exist: give a text file with one label per line.")
        found = [line.strip() for line in read_text_file(labels_file, "Label list").splitlines() if line.strip()]
    elif labels:
        found = labels
    else:
        raise LabelwiseError("Give the label set: --labels a,b,c or --labels-file labels.txt (one per line).")
    return list(dict.fromkeys(found))


def annotate(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with the texts.", show_default=False),
    text: Optional[str] = typer.Option(None, "--text", "-t", help="The text column (the LLM reads it).",
                                       show_default=False),
    transfer_from: Optional[List[str]] = list_option("--transfer-from", help="Label transfer (CLIP2Scene): the text "
                                                     "column(s) a sentence-embedding teacher labels zero-shot by the "
                                                     "nearest label prompt; no LLM. Needs --to."),
    to: Optional[List[str]] = list_option("--to", help="With --transfer-from: the columns the student learns to label "
                                          "from (numbers, categories, codes, other text)."),
    new: Optional[Path] = typer.Option(None, "--new", help="With --transfer-from: a table with the --to columns only; "
                                       "the student labels its rows (written to --out)."),
    prompt_template: Optional[List[str]] = list_option("--prompt-template", metavar="TEMPLATE", help="With "
                                                       "--transfer-from: prompt templates ensembled per label, {} for "
                                                       "the label (default: four generic ones)."),
    self_training: bool = typer.Option(False, "--self-training/--no-self-training", help="With --transfer-from: "
                                       "switchable self-training in the second half of the student's training (no "
                                       "gain on Banking77, a loss on emoticons: off by default)."),
    labels: Optional[List[str]] = list_option("--labels", metavar="LABEL", help="The labels (a label with a comma: "
                                              "--labels-file)."),
    labels_file: Optional[Path] = typer.Option(None, "--labels-file", help="A file with one label per line."),
    out: Path = typer.Option(Path("labelwise-annotations"), "--out", "-o", help="Folder for annotations.csv, "
                             "probabilities.parquet and summary.json."),
    pool: Optional[Path] = typer.Option(None, "--pool", help="A labelled table to take demonstrations from (read "
                                        "with --encoding, and --sep when it is a CSV/TSV like DATA)."),
    pool_text: Optional[str] = typer.Option(None, "--pool-text", help="Its text column (default: --text)."),
    pool_label: str = typer.Option("label", "--pool-label", help="Its label column."),
    shots: int = typer.Option(0, "--shots", help="Demonstrations per prompt (needs --pool)."),
    demos: str = typer.Option("knn", "--demos", help="knn: the nearest pool rows per text; fixed: one "
                              "class-balanced set for all."),
    calibration: str = typer.Option("auto", "--calibration", help="auto, domain, contextual or none (with "
                                    "--transfer-from: auto = mean, domain, mean or none)."),
    taxonomy: Optional[Path] = typer.Option(None, "--taxonomy", help="Label with this taxonomy (YAML from labelwise "
                                            "taxonomy): its categories and descriptions, plus Other."),
    distill: bool = typer.Option(False, "--distill", help="The LLM labels --sample rows; a classifier on sentence "
                                 "embeddings learns from them and labels every row (TnT-LLM)."),
    sample: int = typer.Option(1000, "--sample", help="With --distill: rows the LLM labels."),
    holdout: float = typer.Option(0.2, "--holdout", help="With --distill (or --transfer-from): share of the LLM- "
                                  "(teacher-) labelled rows kept aside to measure the classifier's (student's) "
                                  "agreement with it."),
    multi_label: bool = typer.Option(False, "--multi-label", help="Rows may get several labels (the LLM writes "
                                     "label sets; the classifier is one-vs-rest)."),
    label_column: str = typer.Option("label", "--label-column", help="Name of the new label column in the "
                                     "labelled copy of your table."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    ray: Optional[str] = RAY,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Label every row's text with an LLM: a probability over your labels per row, calibrated against the model's
    label bias. Answers are cached: rerunning costs nothing, and an interrupted run resumes.

    With --taxonomy and --distill (TnT-LLM): the LLM labels a sample with the taxonomy's categories, a cheap
    classifier learns from it and labels every row; the held-out agreement and the cost are reported.

    With --transfer-from and --to (CLIP2Scene): the packaged sentence encoder labels each row's text by the nearest
    label prompt, and a student on the --to columns learns those labels; it then labels rows that have no text
    (and the rows of --new) from the --to columns alone.

    Examples: labelwise annotate tickets.csv --text body --labels billing,bug,feature --out annotated/
              labelwise annotate tickets.csv --text body --taxonomy taxonomy.yaml --distill --out labelled/
              labelwise annotate items.csv --transfer-from description --to price,brand,sku --labels a,b --out t/
    """
    from labelwise.generate.annotate import annotate as run

    writable(out, folder=True)
    if transfer_from or to:
        _transfer(data, transfer_from, to, labels, labels_file, prompt_template, calibration, self_training, new,
                  label_column, out, quiet, encoding, sep, other=text or taxonomy or distill or multi_label or pool,
                  holdout=holdout, threads=threads)
        return
    if text is None:
        raise LabelwiseError("Give the text column the LLM reads with --text (or --transfer-from COLS --to COLS for "
                             "label transfer without an LLM).")
    if taxonomy is not None or distill or multi_label:
        _with_label_set(data, text, labels, labels_file, taxonomy, distill, sample, holdout, multi_label,
                        label_column, calibration, out, model, server, server_model, threads, quiet, encoding, sep,
                        ray)
        return
    label_set = _read_labels(labels, labels_file)
    frame = read_with_text_column(data, text, encoding=encoding, sep=sep)
    pool_frame = _read_pool(pool, encoding, sep) if pool else None
    with llm_backend(ray, str(model) if model else None, server=server, server_model=server_model,
                     threads=threads) as backend, progress_bars(enabled=not quiet) as progress:
        result = run(frame, text=text, labels=label_set, backend=backend, shots=shots,
                     pool=pool_frame, pool_text=pool_text, pool_label=pool_label, demos=demos,
                     calibration=calibration, progress=progress)
    result.save(out)
    usage = result.usage
    counts = result.to_frame()["label"].value_counts()
    console.print(plain(f"{len(result.texts):,} rows labelled with {backend.model} ({result.settings['calibration']} "
                        f"calibration): {usage.calls:,} model calls, {usage.cached:,} from the cache, "
                        f"{usage.prompt_tokens:,} prompt tokens."), soft_wrap=True)
    for label, n in counts.head(10).items():
        console.print(plain(f"  {label:<30} {n:>7,}"), soft_wrap=True)
    messages.print(plain(f"wrote {out}/annotations.csv, probabilities.parquet, summary.json"))


def _read_pool(pool: Path, encoding: Optional[str], sep: Optional[str]):
    """The --pool table, read the way DATA is: the same encoding, and the same separator when it too is a CSV/TSV."""
    from labelwise.data.io import DELIMITED_FORMATS, read_table, table_format

    return read_table(pool, encoding=encoding, sep=sep if table_format(pool) in DELIMITED_FORMATS else None)


def _with_label_set(data, text, labels, labels_file, taxonomy, distill, sample, holdout, multi_label, label_column,
                    calibration, out, model, server, server_model, threads, quiet, encoding=None, sep=None,
                    ray=None) -> None:
    """--taxonomy / --distill / --multi-label: label with a taxonomy (or a plain label set) through
    :func:`labelwise.generate.distill.label_with_taxonomy`, and write a labelled copy of the table."""
    from labelwise.data.io import write_table_atomic
    from labelwise.generate.distill import label_with_taxonomy
    from labelwise.generate.taxonomy import Category, Taxonomy

    if taxonomy is not None and (labels or labels_file):
        raise LabelwiseError("Give the labels one way: --taxonomy FILE, or --labels / --labels-file.")
    if taxonomy is not None:
        label_set = Taxonomy.load(taxonomy)
    else:
        label_set = Taxonomy([Category(name) for name in _read_labels(labels, labels_file)])
    frame = read_with_text_column(data, text, encoding=encoding, sep=sep)
    if label_column in frame.columns:
        raise LabelwiseError(f"{data} already has a column {label_column!r}; pass --label-column NAME for the new "
                             "labels so nothing of yours is overwritten.")
    texts = ["" if v is None or v != v else str(v) for v in frame[text]]
    # a taxonomy's descriptions make long instructions: room for 25 categories of 200 characters and the text
    with llm_backend(ray, str(model) if model else None, server=server, server_model=server_model, threads=threads,
                     n_ctx=8192) as backend, progress_bars(enabled=not quiet) as progress:
        result = label_with_taxonomy(texts, label_set, backend=backend, distill=distill, sample=sample,
                                     holdout=holdout, multi_label=multi_label, allow_other=taxonomy is not None,
                                     calibration=calibration, progress=progress)
    result.save(out)
    table = result.to_frame()
    labelled = frame.copy()
    labelled[label_column] = table["label"].to_numpy()
    labelled[f"{label_column}_probability"] = table["probability"].to_numpy()
    labelled[f"{label_column}_by"] = table["labelled_by"].to_numpy()
    copy = out / f"{Path(data).stem}.labelled{Path(data).suffix}"
    write_table_atomic(labelled, copy, encoding=encoding, sep=sep)  # written the way the table was read
    m = result.metrics
    console.print(plain(f"{len(texts):,} rows labelled: the LLM ({backend.model}) labelled "
                        f"{m['llm_labelled_rows']:,} with {m['llm_calls']:,} model calls "
                        f"({m['llm_calls_per_row']:.3f} per row of the table)."), soft_wrap=True)
    held = m.get("heldout_agreement")
    if held:
        key = "accuracy" if "accuracy" in held else "micro_f1"
        console.print(plain(f"classifier vs LLM on {held['rows']:,} held-out LLM-labelled rows: {key} {held[key]:.3f}"
                            + (f", Cohen's kappa {held['cohen_kappa']:.3f}" if "cohen_kappa" in held else "")
                            + (f"; {m['speedup_per_row']:,.0f}x faster per row than the LLM"
                               if "speedup_per_row" in m else "")), soft_wrap=True)
    counts = table["label"].value_counts()
    for label, n in counts.head(15).items():
        console.print(plain(f"  {label:<32} {n:>7,}"), soft_wrap=True)
    messages.print(plain(f"wrote {copy} (your table plus {label_column}, {label_column}_probability, {label_column}_by) "
                         f"and {out}/annotations.csv, probabilities.parquet, summary.json"
                         + (", classifier.joblib" if result.classifier is not None else "")))


def _transfer(data, transfer_from, to, labels, labels_file, templates, calibration, self_training, new, label_column,
              out, quiet, encoding=None, sep=None, other=None, holdout=0.2, threads=None) -> None:
    """--transfer-from / --to: :func:`labelwise.generate.transfer.transfer_labels`, a labelled copy of the table,
    the student saved, and --new labelled by the student."""
    import numpy as np

    from labelwise.data.io import read_table, write_table_atomic
    from labelwise.generate.transfer import DEFAULT_TEMPLATES, transfer_labels

    if not transfer_from or not to:
        raise LabelwiseError("Label transfer needs both --transfer-from TEXT_COLUMNS (the teacher reads them) and --to "
                             "COLUMNS (the student learns from them).")
    if other:
        raise LabelwiseError("--transfer-from labels without an LLM: leave out --text, --taxonomy, --distill, "
                             "--multi-label and --pool.")
    method = {"auto": "mean"}.get(calibration, calibration)
    if method not in ("domain", "mean", "none"):
        raise LabelwiseError(f"--calibration with --transfer-from must be auto, domain, mean or none; got "
                             f"{calibration!r}.")
    label_set = _read_labels(labels, labels_file)
    frame = read_table(data, encoding=encoding, sep=sep)
    absent = [c for c in [*transfer_from, *to] if c not in frame.columns]
    if absent:
        raise LabelwiseError(f"{data} has no column {', '.join(map(repr, absent))}; its columns are: "
                             f"{', '.join(map(str, frame.columns))}.")
    taken = [c for c in (label_column, f"{label_column}_probability", f"{label_column}_by") if c in frame.columns]
    if taken:
        raise LabelwiseError(f"{data} already has a column {taken[0]!r}; pass --label-column NAME for the new labels "
                             "so nothing of yours is overwritten.")
    new_frame = read_table(new, encoding=encoding, sep=sep) if new is not None else None
    lacking = [] if new_frame is None else [c for c in to if c not in new_frame.columns]
    if lacking:
        raise LabelwiseError(f"--new {new} has no column {', '.join(map(repr, lacking))}: the student labels it from "
                             f"the --to columns; its columns are: {', '.join(map(str, new_frame.columns))}.")
    with progress_bars(enabled=not quiet) as progress:
        result = transfer_labels(frame, teacher_columns=transfer_from, student_columns=to, labels=label_set,
                                 templates=templates or DEFAULT_TEMPLATES, calibration=method,
                                 self_training=self_training, holdout=holdout, n_threads=threads or 1,
                                 progress=progress)
    result.save(out)
    table = result.to_frame()
    labelled = frame.copy()
    labelled[label_column] = table["label"].to_numpy()
    labelled[f"{label_column}_probability"] = np.where(table["labelled_by"] == "teacher", table["teacher_probability"],
                                                       table["student_probability"])
    labelled[f"{label_column}_by"] = table["labelled_by"].to_numpy()
    copy = out / f"{Path(data).stem}.labelled{Path(data).suffix}"
    write_table_atomic(labelled, copy, encoding=encoding, sep=sep)
    summary = result.summary()
    console.print(plain(f"{len(frame):,} rows: the teacher labelled {summary['rows_with_teacher_text']:,} from "
                        f"{', '.join(transfer_from)}; the student learned from {summary['rows_learned_from']:,} and "
                        f"labels from {', '.join(to)} alone"
                        + (f"; on {summary['heldout_rows']:,} rows it did not learn from, it agrees with the teacher "
                           f"on {summary['heldout_agreement']:.1%}" if summary["heldout_agreement"] is not None
                           else "") + "."), soft_wrap=True)
    for label, n in table["label"].value_counts().head(15).items():
        console.print(plain(f"  {label:<32} {n:>7,}"), soft_wrap=True)
    wrote = [str(copy), *(str(out / name) for name in ("annotations.csv", "summary.json", "transfer.joblib"))]
    if new_frame is not None:
        proba = result.predict_proba(new_frame)
        new_labelled = new_frame.copy()
        new_labelled[label_column] = np.asarray(result.labels, dtype=object)[proba.argmax(axis=1)]
        new_labelled[f"{label_column}_probability"] = proba.max(axis=1)
        new_labelled[f"{label_column}_by"] = "student"
        new_copy = out / f"{Path(new).stem}.labelled{Path(new).suffix}"
        write_table_atomic(new_labelled, new_copy, encoding=encoding, sep=sep)
        wrote.insert(1, str(new_copy))
    messages.print(plain(f"wrote {', '.join(wrote)}"), soft_wrap=True)
