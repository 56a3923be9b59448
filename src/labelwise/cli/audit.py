"""``labelwise audit``: find the wrong labels in a table and write one row per input row."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from labelwise.audit.checks.base import SkipReason
from labelwise.audit.privacy.inversion import DEFAULT_MAX_QUERIES, DEFAULT_MAX_SECONDS, MIN_PUBLIC_ROWS
from labelwise.audit.label_errors import AUDIT_FILTER, FILTERS, MULTI_LABEL_AUDIT_FILTER
from labelwise.cli.audit_out_of_core import out_of_core_reason, refuse_unsupported, run_out_of_core
from labelwise.cli.options import DEBUG, ENCODING, QUIET, RAY, SEP, SERVER_MODEL, list_option, run_on, writable
from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.errors import DataError, ParameterError


def audit(
    data: Optional[Path] = typer.Argument(None, help="The table: CSV, TSV, Parquet or JSON Lines, or a folder of "
                                          "Parquet files (with --reviewed: default the table that was audited).",
                                          show_default=False),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="The column holding the labels (required unless "
                                        "--spans).", show_default=False),
    spans: Optional[str] = typer.Option(None, "--spans", help="Audit span labels instead: the column of spans per "
                                        "row (JSON list of {start, end, label}, or [start, end, label] triples, "
                                        "as doccano and spaCy write them; text from --text, default 'text'). DATA "
                                        "may also be a CoNLL file (--spans is then any name, e.g. tags).",
                                        show_default=False),
    text: Optional[List[str]] = list_option("--text", "-t", help="Text column(s) to embed (several are joined). "
                                            "Without --text, --features and --embeddings, a single column of free "
                                            "text is found and used (a note says which)."),
    features: Optional[List[str]] = list_option("--features", "-f", help="Numeric or categorical feature column(s)."),
    embeddings: Optional[str] = typer.Option(None, "--embeddings", help="A column of precomputed embedding vectors."),
    pred_probs: Optional[Path] = typer.Option(
        None, "--pred-probs", help="Your own out-of-sample probabilities (.npy, .csv or .parquet; one row per input "
        "row, one column per class in sorted order or named after the classes) instead of training a model.",
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for issues.csv/.parquet (one row per input "
                                       "row), per_class.csv, noise_matrix.csv, summary.json, and arrays.npz, "
                                       "pred_probs.npy and top_suggestions.parquet, which labelwise review, export and "
                                       "AuditResult.load read (default: labelwise-audit; with --reviewed DIR: "
                                       "DIR.reaudit)."),
    reviewed: Optional[Path] = typer.Option(None, "--reviewed", help="After a review round: the audit folder that was "
                                            "reviewed. Audits again with the labels as reviewed (its review.db, or "
                                            "the labels_reviewed.csv exported into it) and the same settings, and "
                                            "writes what changed to OUT/changes.csv."),
    multi_label: bool = typer.Option(False, "--multi-label", help="Each row may carry several labels (list column)."),
    label_delimiter: Optional[str] = typer.Option(
        None, "--label-delimiter", help="Split multi-label strings on this delimiter, e.g. '|'."
    ),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Skip rows whose label is missing."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    encoder: str = typer.Option("minilm", "--encoder", help="Text features: 'minilm' (offline sentence "
                                "embeddings), 'tfidf', or 'hashing' (hashed words: no model, fast)."),
    filter_by: Optional[str] = typer.Option(None, "--filter-by", help=f"How to pick issues: {', '.join(FILTERS)} "
                                            f"(default: {AUDIT_FILTER}; {MULTI_LABEL_AUDIT_FILTER}, cleanlab's "
                                            "default set, for a multi-label column)."),
    folds: Optional[int] = typer.Option(
        None, "--folds", help="Cross-validation folds for the out-of-fold probabilities (default 5; 3 from 50,000 rows)."
    ),
    random_state: int = typer.Option(0, "--random-state", "--seed",
                                     help="Seed of every random choice (folds, model)."),
    compare_to: Optional[Path] = typer.Option(
        None, "--compare-to", help="Another split of the same data (e.g. test.csv, same columns; labels optional): "
        "checks label shift and train/test leakage.",
    ),
    report: bool = typer.Option(False, "--report", help="Also write the Dataset Nutrition Label: OUT/report.html "
                                "and OUT/report.json."),
    datasheet: Optional[Path] = typer.Option(
        None, "--datasheet", help="YAML provenance for the report (source, licence, collection_process, "
        "intended_use, contact). Default: DATA's <name>.datasheet.yaml or datasheet.yaml beside it, if present.",
    ),
    show: int = typer.Option(10, "--show", help="How many of the lowest-quality rows to print."),
    llm_judge: bool = typer.Option(False, "--llm-judge", help="Ask an LLM whether each of the worst labels fits its "
                                   "text (adds llm_judge_score and combined_quality to issues.csv)."),
    judge_rows: int = typer.Option(200, "--judge-rows", help="How many of the lowest-quality rows the judge reads "
                                   "(0: all; a local model reads about 1-3 rows/s)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The judge's GGUF file (default: the packaged "
                                         "Gemma 3 270M)."),
    server: Optional[str] = typer.Option(None, "--server", help="An OpenAI-compatible server for the judge instead "
                                         "(e.g. http://127.0.0.1:8000/v1; key from LABELWISE_LLM_API_KEY)."),
    server_model: Optional[str] = SERVER_MODEL,
    ray: Optional[str] = RAY,
    out_of_core: bool = typer.Option(False, "--out-of-core", help="Read DATA in batches and keep embeddings and "
                                     "probabilities on disk (automatic for a Parquet folder, or a file larger than "
                                     "--memory-limit in memory). CSV, TSV or Parquet; text columns only."),
    memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="Memory the out-of-core audit may use, "
                                               "e.g. 4GB or 512MB (default: half the physical memory)."),
    privacy: bool = typer.Option(False, "--privacy", help="Also audit what your model leaks through its predicted "
                                 "labels alone (LOKT label-only model inversion; docs/privacy.md): needs "
                                 "--privacy-target and --privacy-public, and the model's inputs as --features or "
                                 "--embeddings. For auditing your own models."),
    privacy_target: Optional[str] = typer.Option(None, "--privacy-target", help="The model trained on DATA: a fitted "
                                                 "scikit-learn model file you trust (joblib/pickle), or the URL of "
                                                 "your own endpoint answering POST {\"inputs\": [[...]]} with a "
                                                 "JSON list of labels (only that URL is contacted).",
                                                 show_default=False),
    privacy_public: Optional[Path] = typer.Option(None, "--privacy-public", help="Rows of the same kind the model "
                                                  "never saw (the attacker's data; same --features/--embeddings "
                                                  "columns; labels not read).", show_default=False),
    privacy_queries: int = typer.Option(DEFAULT_MAX_QUERIES, "--privacy-queries", help="Most label queries the "
                                        "privacy audit may send."),
    privacy_seconds: float = typer.Option(DEFAULT_MAX_SECONDS, "--privacy-seconds", help="Most seconds the privacy "
                                          "audit may run (it stops at this or --privacy-queries)."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the rows whose label is probably wrong.

    Trains a model with cross-validation (or takes your --pred-probs), runs confident learning, prints a
    summary and writes one row per input row to OUT/issues.csv and OUT/issues.parquet.

    Example: labelwise audit train.csv --label category --text text --out audit/
    """
    import labelwise

    if reviewed is not None:
        return audit_reviewed(reviewed, data=data, out=out, report=report, show=show, quiet=quiet,
                              **{"--label": label, "--spans": spans, "--text": text, "--features": features,
                                 "--embeddings": embeddings, "--pred-probs": pred_probs, "--multi-label": multi_label,
                                 "--label-delimiter": label_delimiter, "--compare-to": compare_to,
                                 "--llm-judge": llm_judge, "--out-of-core": out_of_core, "--folds": folds,
                                 "--filter-by": filter_by, "--datasheet": datasheet, "--drop-missing": drop_missing,
                                 "--encoding": encoding, "--sep": sep, "--encoder": encoder != "minilm",
                                 "--random-state": random_state != 0, "--judge-rows": judge_rows != 200,
                                 "--model": model, "--server": server, "--server-model": server_model, "--ray": ray,
                                 "--memory-limit": memory_limit, "--privacy": privacy})
    if data is None:
        raise ParameterError("give the table to audit (DATA), or --reviewed DIR to audit a reviewed one again.")
    out = out or Path("labelwise-audit")
    writable(out, folder=True)
    if spans is not None:
        from labelwise.cli.audit_spans import refuse_with_spans, run_span_audit

        refuse_with_spans(**{"--label": label, "--features": features, "--embeddings": embeddings,
                             "--multi-label": multi_label, "--label-delimiter": label_delimiter,
                             "--compare-to": compare_to, "--report": report, "--llm-judge": llm_judge,
                             "--out-of-core": out_of_core, "--ray": ray, "--text (more than one)": len(text or []) > 1,
                             "--privacy": privacy})
        run_span_audit(data, spans=spans, text=(text or [None])[0], pred_probs=pred_probs, out=out, encoder=encoder,
                       folds=folds, random_state=random_state, show=show, quiet=quiet)
        return
    if label is None:
        raise ParameterError("name the label column with --label (or a span column with --spans).")
    if datasheet is not None and not datasheet.is_file():
        raise DataError(f"Datasheet not found: {datasheet}. Check the path passed to --datasheet.")
    if show < 0 or judge_rows < 0:
        raise ParameterError(f"--show and --judge-rows count rows: 0 or more; got {show if show < 0 else judge_rows}.")
    if llm_judge and not text:
        raise ParameterError("--llm-judge asks whether each row's text fits its label: name the text column with "
                             "--text (it cannot judge --features or --embeddings).")
    if llm_judge and (multi_label or label_delimiter is not None):
        raise ParameterError("--llm-judge checks single labels; drop it for a multi-label audit.")
    if privacy:
        check_privacy_options(privacy_target, privacy_public, features, embeddings, privacy_queries, privacy_seconds)
    elif privacy_target is not None or privacy_public is not None:
        raise ParameterError("--privacy-target and --privacy-public only take effect with --privacy; add it to run the "
                             "privacy audit, or drop them.")
    # ---- out of core: the whole branch is in cli/audit_out_of_core.py --------------------------------------------
    reason = out_of_core_reason(data, out_of_core, memory_limit)
    if reason is not None:
        refuse_unsupported(**{"--features": features, "--embeddings": embeddings, "--multi-label": multi_label,
                              "--label-delimiter": label_delimiter, "--compare-to": compare_to, "--report": report,
                              "--datasheet": datasheet, "--llm-judge": llm_judge, "--ray": ray, "--privacy": privacy})
        result = run_out_of_core(data, reason, out=out, quiet=quiet, memory_limit=memory_limit, label=label,
                                 text=text or [], pred_probs=pred_probs, drop_missing=drop_missing, encoding=encoding,
                                 sep=sep, encoder=encoder, n_folds=folds, filter_by=filter_by or AUDIT_FILTER,
                                 random_state=random_state)
        print_summary(result, show)
        messages.print(plain(f"wrote {out}/ issues.csv, issues.parquet, per_class.csv, summary.json (and the arrays "
                             "labelwise reads back)"), soft_wrap=True)
        return
    # -------------------------------------------------------------------------------------------------------------
    if multi_label is False and label_delimiter is None:
        multi_label_arg = None  # auto-detect list columns
    else:
        multi_label_arg = True
    with run_on(ray) as executor, progress_bars(enabled=not quiet) as progress:
        result = labelwise.audit_dataset(
            str(data), label=label, text=text or None, features=features or None, embeddings=embeddings,
            pred_probs=str(pred_probs) if pred_probs is not None else None, multi_label=multi_label_arg,
            delimiter=label_delimiter, drop_missing=drop_missing, encoding=encoding, sep=sep, encoder=encoder,
            n_folds=folds, filter_by=filter_by, random_state=random_state, progress=progress,
            compare_to=str(compare_to) if compare_to is not None else None, executor=executor,
        )
    for note in result.settings.get("notes", []):  # what was decided for the user: which column is the text, folds
        messages.print(plain("note: " + note), soft_wrap=True)
    with interrupt_after():
        result.save(out)  # files first, so that nothing is lost if the terminal goes away
    if llm_judge:
        from labelwise.audit.llm_judge import judge_audit
        from labelwise.llm import open_backend

        if result.multi_label:  # a list column, detected while reading: say so before loading a model
            raise ParameterError(f"--llm-judge checks single labels, but '{label}' holds lists (a multi-label "
                                 f"audit, written to {out}/); drop --llm-judge.")

        backend = open_backend(str(model) if model else None, server=server, server_model=server_model)
        with progress_bars(enabled=not quiet) as progress:
            judge_audit(result, [backend], rows=judge_rows or None, progress=progress)
        with interrupt_after():
            result.save(out)
    written = "issues.csv, issues.parquet, per_class.csv, summary.json (and the arrays labelwise reads back)"
    leakage = None
    if privacy:
        leakage = run_privacy_audit(data, label=label, features=features, embeddings=embeddings, encoding=encoding,
                                    sep=sep, target=privacy_target, public=privacy_public, queries=privacy_queries,
                                    seconds=privacy_seconds, random_state=random_state, quiet=quiet, out=out)
        written += ", privacy.json"
    html = None
    if report:
        from labelwise.report import find_datasheet, read_datasheet, write_report

        sheet_path = datasheet if datasheet is not None else find_datasheet(data)
        sheet = read_datasheet(sheet_path) if sheet_path is not None else None
        html, _ = write_report(result, out, datasheet=sheet, privacy=leakage)
        written += ", report.html, report.json"
    print_summary(result, show)
    messages.print(plain(f"wrote {out}/ {written}"), soft_wrap=True)
    if html is not None:
        messages.print(plain(f"open the report: {html.resolve().as_uri()}"))


def check_privacy_options(target, public, features, embeddings, queries: int, seconds: float) -> None:
    """--privacy's options, checked before any work is done."""
    if target is None or public is None:
        raise ParameterError("--privacy needs --privacy-target (your model file or endpoint URL) and --privacy-public "
                             "(rows of the same kind the model never saw).")
    if not features and embeddings is None:
        raise ParameterError("--privacy reads the model's inputs from numeric --features columns or an --embeddings "
                             "column; name them (a text model's own inputs cannot be inverted here).")
    if queries < 2 * MIN_PUBLIC_ROWS or seconds <= 0:
        raise ParameterError(f"--privacy-queries must be at least {2 * MIN_PUBLIC_ROWS} and --privacy-seconds positive; "
                             f"got {queries} and {seconds}.")
    if not public.is_file():
        raise DataError(f"--privacy-public {public} is not a file; give a CSV, TSV, Parquet or JSON Lines table.")


def run_privacy_audit(data: Path, *, label: str, features, embeddings, encoding, sep, target: str, public: Path,
                      queries: int, seconds: float, random_state: int, quiet: bool, out: Path) -> dict:
    """``--privacy``: LOKT and its baselines against the target; prints the leakage, writes OUT/privacy.json and
    returns it for the report."""
    import json
    from contextlib import nullcontext

    from labelwise.audit.privacy import privacy_audit
    from labelwise.data.atomic import write_text_atomic

    status = "privacy audit: label-only model inversion (LOKT)"
    with nullcontext() if quiet else console.status(status, spinner="dots"):
        found = privacy_audit(str(data), str(public), target, label=label, features=features or None,
                              embeddings=embeddings, encoding=encoding, sep=sep, max_queries=queries,
                              max_seconds=seconds, random_state=random_state)
    leakage = found.to_dict()
    leakage["target"] = target if target.lower().startswith(("http://", "https://")) else Path(target).name
    leakage["public"] = public.name
    write_text_atomic(out / "privacy.json", json.dumps(leakage, indent=1) + "\n")
    for line in found.lines():
        console.print(plain(line), soft_wrap=True)
    return leakage


def audit_reviewed(reviewed: Path, *, data: Optional[Path], out: Optional[Path], report: bool, show: int, quiet: bool,
                   **refused) -> None:
    """``labelwise audit --reviewed DIR``: the audit again with the labels as reviewed in DIR, its summary and what
    changed. ``refused``: options that the first audit's settings decide (given: a ParameterError)."""
    from labelwise.review.reaudit import reaudit

    given = [name for name, value in refused.items() if value not in (None, False, [])]
    if given:
        raise ParameterError(f"--reviewed audits again with the first audit's settings; drop {', '.join(given)}.")
    if out is None:  # beside the reviewed folder (resolved: `--reviewed .` has no name of its own)
        folder = reviewed.resolve()
        if not folder.name:
            raise ParameterError(f"--reviewed {reviewed} has no folder beside it for the new audit: give --out DIR.")
        out = folder.with_name(folder.name + ".reaudit")
    if out.resolve() == reviewed.resolve():
        raise ParameterError(f"--out {out} is the reviewed folder itself: give a new folder for the new audit.")
    writable(out, folder=True)
    with progress_bars(enabled=not quiet) as progress:
        found = reaudit(reviewed, out, data=data, progress=progress)
    result = found.after
    with interrupt_after():
        result.save(out)
        changes_csv = found.changes.save(out)
    written = "issues.csv, issues.parquet, per_class.csv, summary.json, changes.csv, changes.json"
    if report:
        from labelwise.report import write_report

        write_report(result, out)
        written += ", report.html, report.json"
    print_summary(result, show)
    for line in found.changes.lines():
        console.print(plain(line), soft_wrap=True)
    messages.print(plain(f"labels from {found.reviewed.source}; corrected table {found.table}"), soft_wrap=True)
    messages.print(plain(f"wrote {out}/ {written} (row by row: {changes_csv.name})"), soft_wrap=True)


def print_summary(result, show: int = 10) -> None:
    """The terminal summary: headline numbers, most-confused pairs, lowest-quality rows."""
    s = result.summary()
    console.print(plain((str(s["source"]), "bold"), f": {s['rows_audited']:,} rows audited"
                        + (f" of {s['rows_in_input']:,}" if s["rows_in_input"] != s["rows_audited"] else "")
                        + f", {s['classes']} classes" + (" (multi-label)" if s["multi_label"] else "")), soft_wrap=True)
    console.print(plain("estimated label error rate ", (f"{s['estimated_error_rate']:.1%}", "bold"), "; flagged ",
                        (f"{s['flagged']:,}", "bold"), f" rows ({s['flagged_share']:.1%}) with {s['filter_by']}"),
                  soft_wrap=True)
    if "accuracy_of_out_of_fold_model" in s:
        console.print(f"out-of-fold model agrees with the given labels on {s['accuracy_of_out_of_fold_model']:.1%} "
                      "of rows", highlight=False, soft_wrap=True)
    checks = result.checks
    health = []
    if checks.duplicates is not None:
        d = checks.duplicates.summary
        health.append(f"{d.duplicate_rows:,} near-duplicate rows ({d.conflicting_rows:,} with conflicting labels)")
    if checks.outliers is not None:
        health.append(f"{checks.outliers.summary.n_outliers:,} outliers")
    ratio = checks.balance.summary.imbalance_ratio if checks.balance is not None else float("nan")
    if ratio == ratio:  # not NaN
        health.append(f"imbalance {ratio:.1f}:1")
    if health:
        console.print(plain("; ".join(health)), soft_wrap=True)
    if checks.multilabel is not None:
        m = checks.multilabel.summary
        console.print(plain(f"labels per row: {m.cardinality.mean:.2f} on average, {m.cardinality.empty_share:.1%} of "
                            f"rows without one; {m.rows_with_missing:,} rows probably lack a label, "
                            f"{m.rows_with_spurious:,} carry a spurious one (issues.csv: missing_labels, "
                            "spurious_labels)"), soft_wrap=True)
    if checks.shift is not None:
        shift = checks.shift.summary
        console.print(plain(f"label shift vs {shift.other_name} ({shift.other_rows:,} rows): {shift.verdict}"),
                      soft_wrap=True)
        leakage = leakage_line(shift)
        if leakage:
            console.print(plain(leakage), soft_wrap=True)
    elif checks.why_not("shift") is not None and checks.why_not("shift").reason != SkipReason.NO_OTHER_SPLIT:
        messages.print(plain(f"label shift and leakage {checks.why_not('shift').message}"), soft_wrap=True)
    if result.classes_too_small:
        tiny = result.classes_too_small
        messages.print(plain(f"note: {len(tiny)} class(es) have a single row, so no model can check their label: "
                             + ", ".join(map(str, tiny[:10])) + (" ..." if len(tiny) > 10 else "")), soft_wrap=True)
    pairs = result.confused_pairs(10)
    if len(pairs):
        table = Table(title="Most confused: given label -> probably true label", title_justify="left")
        table.add_column("given")
        table.add_column("suggested")
        table.add_column("rows", justify="right")
        for given, suggested, count in pairs.itertuples(index=False):
            table.add_row(plain(str(given)), plain(str(suggested)), str(count))
        console.print(table)
    worst = result.worst(show)
    if show > 0 and len(worst):
        table = Table(title=f"{len(worst)} lowest-quality labels", title_justify="left")
        table.add_column("row", justify="right")
        table.add_column("given", overflow="fold")
        table.add_column("suggested", overflow="fold")
        extra = [c for c in ("missing_labels", "spurious_labels") if c in worst]
        for column in extra:
            table.add_column(column.removesuffix("_labels"), overflow="fold")
        table.add_column("quality", justify="right")
        if "text" in worst:
            table.add_column("text", overflow="fold", max_width=60)
        for rec in worst.to_dict("records"):
            cells = [str(rec["row"]), plain(str(rec["given_label"])), plain(str(rec["suggested_label"])),
                     *(plain(str(rec[c])) for c in extra), f"{rec['label_quality']:.3f}"]
            if "text" in rec:
                cells.append(plain(_short(str(rec["text"]))))
            table.add_row(*cells)
        console.print(table)


def leakage_line(shift) -> str | None:
    """One line on train/test leakage from the shift check's summary: how many rows of the other split are exact copies
    of rows here, and how many have a near-duplicate; None when neither was measured."""
    n = max(shift.other_rows, 1)
    parts = []
    if shift.exact_leakage is not None:
        parts.append(f"{shift.exact_leakage:,} of its {shift.other_rows:,} rows ({shift.exact_leakage / n:.1%}) are "
                     "exact copies of rows here")
    if shift.leakage is not None:
        parts.append(f"{shift.leakage:,} ({shift.leakage / n:.1%}) have a near-duplicate here (cosine >= "
                     f"{shift.leakage_threshold or 0.95:.2f})")
    if not parts:
        return None
    found = bool(shift.exact_leakage or shift.leakage)
    return f"{'leakage' if found else 'no leakage'} from {shift.other_name}: " + "; ".join(parts)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report(
    data: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or JSON Lines.", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="The column holding the labels.", show_default=False),
    text: Optional[List[str]] = list_option("--text", "-t", help="Text column(s) to embed."),
    features: Optional[List[str]] = list_option("--features", "-f", help="Feature column(s)."),
    embeddings: Optional[str] = typer.Option(None, "--embeddings", help="A column of precomputed embedding vectors."),
    pred_probs: Optional[Path] = typer.Option(None, "--pred-probs", help="Your own out-of-sample probabilities."),
    compare_to: Optional[Path] = typer.Option(None, "--compare-to", help="Another split: label shift and leakage."),
    datasheet: Optional[Path] = typer.Option(None, "--datasheet", help="YAML provenance for the report."),
    out: Path = typer.Option(Path("labelwise-report"), "--out", "-o", help="Folder for report.html, report.json and "
                             "the audit files."),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Skip rows whose label is missing."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    encoder: str = typer.Option("minilm", "--encoder", help="Text features: 'minilm' or 'tfidf'."),
    random_state: int = typer.Option(0, "--random-state", "--seed", help="Seed of every random choice."),
    ray: Optional[str] = RAY,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Write the Dataset Nutrition Label for a labelled table: one self-contained HTML page and report.json.

    The same audit as `labelwise audit ... --report`. Example:
    labelwise report train.csv --label category --text text --compare-to test.csv --out report/
    """
    audit(data=data, reviewed=None, label=label, spans=None, text=text, features=features, embeddings=embeddings,
          pred_probs=pred_probs, out=out, multi_label=False, label_delimiter=None, drop_missing=drop_missing,
          encoding=encoding, sep=sep,
          encoder=encoder, filter_by=None, folds=None, random_state=random_state, compare_to=compare_to,
          report=True, datasheet=datasheet, show=10, llm_judge=False, judge_rows=0, model=None, server=None,
          server_model=None, ray=ray, out_of_core=False, memory_limit=None, privacy=False, privacy_target=None,
          privacy_public=None, privacy_queries=DEFAULT_MAX_QUERIES, privacy_seconds=DEFAULT_MAX_SECONDS, quiet=quiet,
          debug=debug)
