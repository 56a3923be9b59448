"""``labelwise extract DATA --text COL --schema schema.yaml --out DIR``: read the schema's fields out of every row's
text (TAIL: an LLM teacher labels a sample with task-aware prompts, a distilled tagger extracts every row), and its
attribute values for the rows without known ones (HyperPAVE: link prediction on the rows' hypergraph)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.cli.options import (DEBUG, ENCODING, LINK_ENCODERS, MODEL, QUIET, SEP, SERVER, SERVER_MODEL, THREADS,
                                   link_encoder, llm_backend, read_with_text_column, writable)
from labelwise.errors import DataError, ParameterError


def extract(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with the texts.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column to extract from.", show_default=False),
    schema: Path = typer.Option(..., "--schema", "-s", help="YAML schema: 'fields:' with each field's description, "
                                "type (string, number, integer, date) and optional closed set of values.",
                                show_default=False),
    out: Path = typer.Option(Path("labelwise-extract"), "--out", "-o", help="Folder for extractions.csv, spans.jsonl "
                             "and summary.json."),
    id_column: Optional[str] = typer.Option(None, "--id", help="A column of DATA that names each row; written after "
                                            "'row' in extractions.csv.", show_default=False),
    teacher_rows: int = typer.Option(200, "--teacher-rows", help="Rows the LLM labels (drawn at random); a tagger "
                                     "learns from them and extracts every other row."),
    distill: bool = typer.Option(True, "--distill/--no-distill", help="--no-distill: the LLM reads every row (slow "
                                 "on a large table)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="Worked examples shown to the LLM before each "
                                            "row: a table (JSONL/CSV) with a 'text' column and one column per field "
                                            "(empty: absent). A small base model needs one or two.",
                                            show_default=False),
    votes: int = typer.Option(1, "--votes", help="LLM answers per row; each field takes the majority (confidence: "
                              "the share that agree)."),
    known: Optional[str] = typer.Option(None, "--known", help="Attributes: the column of each row's known values, "
                                        "'attr: value' strings separated by ';' (empty: a row to label).",
                                        show_default=False),
    groups: Optional[str] = typer.Option(None, "--groups", help="Attributes: the column of the rows co-viewed or "
                                         "co-bought with each row, as row positions ('3; 5; 7').",
                                         show_default=False),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Attributes: keep the k most confident values per "
                                        "row (default: a threshold tuned on held-out known rows).",
                                        show_default=False),
    encoder: str = typer.Option("minilm", "--encoder", help=f"Attributes: text features, one of "
                                f"{', '.join(LINK_ENCODERS)} (hashing: no model, fast)."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of the row sample and of the attribute model."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    model: Optional[Path] = MODEL,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    threads: Optional[int] = THREADS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Extract the schema's fields from every row's text, with a confidence and the value's place in the text, and
    its attribute values for the rows that have none.

    Fields: an LLM (the packaged Gemma 3 270M, --model GGUF or --server) labels --teacher-rows rows with a prompt
    made from the schema (field definitions, normalisation rules, null if absent) and answers in JSON constrained by
    the schema; answers that break it are dropped. A token tagger distilled from its answers extracts every other row
    (TAIL). Answers are cached: a rerun costs nothing.

    Attributes: the rows with known values (--known) teach a link predictor on the rows' texts and their co-view
    groups (--groups) to label the other rows, values no row has yet included (HyperPAVE). No LLM is needed.

    Writes OUT/extractions.csv (row, kind, name, value, start, end, confidence, source), OUT/spans.jsonl (the values
    found in each text as spans, for labelwise audit --spans) and OUT/summary.json.

    Examples: labelwise extract receipts.csv --text text --schema schema.yaml --out fields/
              labelwise extract products.csv --text title --schema attributes.yaml --known values --out values/
    """
    from labelwise.data.extraction_schema import read_schema

    writable(out, folder=True)
    if teacher_rows < 1:
        raise ParameterError(f"--teacher-rows {teacher_rows}: pass 1 or more.")
    if votes < 1:
        raise ParameterError(f"--votes {votes}: pass 1 or more.")
    spec = read_schema(schema)
    frame = read_with_text_column(data, text, encoding=encoding, sep=sep)
    if id_column is not None and id_column not in frame.columns:
        raise DataError(f"{data} has no column {id_column!r} for --id; its columns are: "
                        f"{', '.join(map(str, frame.columns))}.")
    for option, column in (("--known", known), ("--groups", groups)):
        if column is not None and column not in frame.columns:
            raise DataError(f"{data} has no column {column!r} for {option}; its columns are: "
                            f"{', '.join(map(str, frame.columns))}.")
    if spec.attributes and known is None:
        raise ParameterError(f"{schema} lists attributes: name the column of each row's known values with --known COL "
                             "(rows with values teach the rows without).")
    if known is not None and not spec.attributes:
        raise ParameterError(f"--known {known}: {schema} lists no 'attributes:' to learn; add them or drop --known.")
    if groups is not None and known is None:
        raise ParameterError("--groups is for attribute values: give --known COL too.")
    shots = _read_examples(examples, spec, encoding) if examples is not None and spec.fields else []
    texts = ["" if v is None or v != v else str(v) for v in frame[text]]
    frames, summary = [], {"data": str(data), "text": text, "schema": str(schema)}
    result = values = None
    with progress_bars(enabled=not quiet) as progress:
        if spec.fields:
            with llm_backend(None, str(model) if model else None, server=server, server_model=server_model,
                             threads=threads) as backend:
                result = extract_field_part(texts, spec, backend, distill=distill, teacher_rows=teacher_rows,
                                            votes=votes, examples=shots, random_state=random_state,
                                            progress=progress)
            frames.append(result.to_frame())
            summary.update(result.summary)
        if spec.attributes:
            try:
                values = extract_attribute_part(texts, frame[known].tolist(), spec, None if groups is None else
                                                frame[groups].tolist(), encoder=encoder, top_k=top_k,
                                                random_state=random_state, progress=progress)
            except DataError as err:  # "row 3: ..." names the row; say which table (rows count from 0)
                raise DataError(f"{data} (--known {known}" + ("" if groups is None else f", --groups {groups}")
                                + f"; rows count from 0): {err}") from None
            frames.append(values.to_frame())
            summary["attributes"] = values.summary()
    from labelwise.generate.extraction import write_extractions

    ids = frame[id_column].tolist() if id_column is not None else None
    import pandas as pd

    table = pd.concat(frames, ignore_index=True)
    write_extractions(out, table, texts, summary, ids=ids, id_name=id_column or "id")
    if result is not None:
        _print_summary(result, table, data)
    if values is not None:
        _print_attribute_summary(values, table, data)
    messages.print(plain(f"wrote {out}/ extractions.csv, spans.jsonl, summary.json"), soft_wrap=True)


def extract_field_part(texts, spec, backend, *, distill, teacher_rows, votes, examples, random_state, progress):
    """The fields half of ``labelwise extract``: :func:`labelwise.generate.extraction.extract_fields`."""
    from labelwise.generate.extraction import extract_fields

    return extract_fields(texts, spec, backend, distill=distill, teacher_rows=teacher_rows, n_votes=votes,
                          examples=examples, random_state=random_state, progress=progress)


def extract_attribute_part(texts, known, spec, groups, *, encoder, top_k, random_state, progress):
    """The attributes half of ``labelwise extract``: :func:`labelwise.generate.attribute_values
    .extract_attribute_values` with the schema's attributes."""
    from labelwise.generate.attribute_values import extract_attribute_values

    return extract_attribute_values(texts, known, spec.attributes, groups=groups, encoder=link_encoder(encoder),
                                    top_k=top_k, random_state=random_state, progress=progress)


def _read_examples(path: Path, spec, encoding) -> list:
    """--examples: ``[(text, {field: value})]`` from a table with a ``text`` column and field columns."""
    from labelwise.data.io import read_table

    table = read_table(path, encoding=encoding)
    if "text" not in table.columns:
        raise DataError(f"{path} has no 'text' column; --examples needs 'text' and one column per field "
                        f"({', '.join(spec.fields)}).")
    unknown = [c for c in table.columns if c != "text" and c not in spec.fields]
    if unknown:
        raise DataError(f"{path}: column {unknown[0]!r} is not a field of the schema ({', '.join(spec.fields)}).")
    shots = []
    for _, row in table.iterrows():
        values = {name: (None if name not in row or row[name] != row[name] or str(row[name]).strip() == ""
                         else row[name]) for name in spec.fields}
        shots.append((str(row["text"]), {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}))
    return shots


def _print_summary(result, table, data) -> None:
    s = result.summary
    line = (f"{s['rows']:,} rows of {data}: the LLM ({s['teacher']}) labelled {s['teacher_rows']:,} "
            f"({s['teacher_usable_rows']:,} usable; dropped {s['teacher_dropped']['unparseable']} unparseable, "
            f"{s['teacher_dropped']['invalid']} off-schema answers)")
    if "student_rows" in s:
        line += (f"; the distilled tagger extracted {s['student_rows']:,} rows "
                 f"({s['teacher_ms_per_row'] / max(s['student_ms_per_row'], 1e-9):,.0f}x faster per row)")
    console.print(plain(line + "."), soft_wrap=True)
    for name in result.fields:
        found = table[table["name"] == name]
        located = int(found["start"].notna().sum())
        console.print(plain(f"  {name:<20} {len(found):>7,} values ({located:,} found in the text), mean confidence "
                            f"{found['confidence'].mean() if len(found) else float('nan'):.2f}"), soft_wrap=True)


def _print_attribute_summary(values, table, data) -> None:
    s = values.summary()
    found = table[table["kind"] == "attribute"]
    zero_shot = len(s["zero_shot_values"])
    known = s["rows"] - s["rows_predicted"]
    console.print(plain(f"attribute values of {data}: {known:,} rows with known values taught "
                        f"the {s['rows_predicted']:,} rows without; {len(found):,} values given (mean confidence "
                        f"{found['confidence'].mean() if len(found) else float('nan'):.2f}), from {s['values']} "
                        f"values of which {zero_shot} no row had."), soft_wrap=True)
