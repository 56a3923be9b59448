"""Options several commands share, declared once: which LLM to use, and how much to show; and reading the table
whose text column they work on."""

from __future__ import annotations

from pathlib import Path

import typer

from labelwise.errors import DataError

MODEL = typer.Option(None, "--model", help="A GGUF file (default: the packaged Gemma 3 270M).")
SERVER = typer.Option(None, "--server", help="An OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1 "
                      "(API key from LABELWISE_LLM_API_KEY).")
SERVER_MODEL = typer.Option(None, "--server-model", help="The server's model name.")
THREADS = typer.Option(None, "--threads", help="CPU threads for a local model.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars.")
DEBUG = typer.Option(False, "--debug", help="Show full tracebacks on errors.")


def read_with_text_column(data: Path, text: str):
    """The table at ``data`` (a DataFrame), after checking it has the ``--text`` column ``text``."""
    from labelwise.data.io import read_table

    frame = read_table(data)
    if text not in frame.columns:
        raise DataError(f"{data} has no column {text!r}; its columns are: {', '.join(map(str, frame.columns))}. "
                        "Pass the text column with --text.")
    return frame
