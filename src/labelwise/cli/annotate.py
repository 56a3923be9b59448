"""``labelwise annotate``: label a table's text column with an LLM over a fixed label set."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import messages, progress_bars
from labelwise.errors import LabelwiseError


def _read_labels(labels: Optional[str], labels_file: Optional[Path]) -> list[str]:
    if labels_file is not None:
        if not labels_file.is_file():
            raise LabelwiseError(f"{labels_file} does not exist: give a text file with one label per line.")
        found = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif labels:
        found = [part.strip() for part in labels.split(",") if part.strip()]
    else:
        raise LabelwiseError("Give the label set: --labels a,b,c or --labels-file labels.txt (one per line).")
    return list(dict.fromkeys(found))


def annotate(
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet/JSONL table with the texts.", show_default=False),
    text: str = typer.Option(..., "--text", "-t", help="The text column.", show_default=False),
    labels: Optional[str] = typer.Option(None, "--labels", help="The labels, comma-separated."),
    labels_file: Optional[Path] = typer.Option(None, "--labels-file", help="A file with one label per line."),
    out: Path = typer.Option(Path("labelwise-annotations"), "--out", "-o", help="Folder for annotations.csv, "
                             "probabilities.parquet and summary.json."),
    pool: Optional[Path] = typer.Option(None, "--pool", help="A labelled table to take demonstrations from."),
    pool_text: Optional[str] = typer.Option(None, "--pool-text", help="Its text column (default: --text)."),
    pool_label: str = typer.Option("label", "--pool-label", help="Its label column."),
    shots: int = typer.Option(0, "--shots", help="Demonstrations per prompt (needs --pool)."),
    demos: str = typer.Option("knn", "--demos", help="knn: the nearest pool rows per text; fixed: one "
                              "class-balanced set for all."),
    calibration: str = typer.Option("auto", "--calibration", help="auto, domain, contextual or none."),
    model: Optional[Path] = typer.Option(None, "--model", help="A GGUF file (default: the packaged Gemma 3 270M)."),
    server: Optional[str] = typer.Option(None, "--server", help="An OpenAI-compatible server instead, e.g. "
                                         "http://127.0.0.1:8000/v1 (API key from LABELWISE_LLM_API_KEY)."),
    server_model: Optional[str] = typer.Option(None, "--server-model", help="The server's model name."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for a local model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Label every row's text with an LLM: a probability over your labels per row, calibrated against the model's
    label bias. Answers are cached: rerunning costs nothing, and an interrupted run resumes.

    Example: labelwise annotate tickets.csv --text body --labels billing,bug,feature --out annotated/
    """
    from labelwise.generate.annotate import annotate as run
    from labelwise.llm import open_backend

    label_set = _read_labels(labels, labels_file)
    backend = open_backend(str(model) if model else None, server=server, server_model=server_model, threads=threads)
    with progress_bars(enabled=not quiet) as progress:
        result = run(str(data), text=text, labels=label_set, backend=backend, shots=shots,
                     pool=str(pool) if pool else None, pool_text=pool_text, pool_label=pool_label, demos=demos,
                     calibration=calibration, progress=progress)
    result.save(out)
    usage = result.usage
    counts = result.to_frame()["label"].value_counts()
    messages.print(f"{len(result.texts):,} rows labelled with {backend.model} ({result.settings['calibration']} "
                   f"calibration): {usage.calls:,} model calls, {usage.cached:,} from the cache, "
                   f"{usage.prompt_tokens:,} prompt tokens.", highlight=False)
    for label, n in counts.head(10).items():
        messages.print(f"  {label:<30} {n:>7,}", highlight=False, markup=False)
    messages.print(f"wrote {out}/annotations.csv, probabilities.parquet, summary.json", highlight=False)
