"""Options several commands share, declared once: which LLM to use, and how much to show; reading the table
whose text column they work on; checking, before any work, that the output can be written; and where the heavy
stages run (``--ray``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

import typer

from labelwise.errors import DataError, ParameterError

MODEL = typer.Option(None, "--model", help="A GGUF file (default: the packaged Gemma 3 270M).")
SERVER = typer.Option(None, "--server", help="An OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1 "
                      "(API key from LABELWISE_LLM_API_KEY).")
SERVER_MODEL = typer.Option(None, "--server-model", help="The server's model name.")
THREADS = typer.Option(None, "--threads", help="CPU threads for a local model.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars.")
DEBUG = typer.Option(False, "--debug", help="Show full tracebacks on errors.")
ENCODING = typer.Option(None, "--encoding", help="Text encoding of CSV/TSV/JSONL files (default utf-8), e.g. latin-1.")
LINK_ENCODERS = ("minilm", "hashing")
SEP = typer.Option(None, "--sep", help="Field separator of a CSV/TSV file, e.g. ';' or tab (default: ',' for .csv, "
                   "tab for .tsv).")


def comma_list(values: Optional[List[str]]) -> Optional[List[str]]:
    """A list option's values, each split on commas and stripped: ``--on a,b`` and ``--on a --on b`` both give
    ``["a", "b"]``. None when the option was not given."""
    parts = [part.strip() for value in values or [] for part in value.split(",")]
    return [part for part in parts if part] or None


def list_option(*names: str, help: str, metavar: str = "COL", required: bool = False) -> Any:
    """A list option: every one takes both forms, ``--x a,b`` and ``--x a --x b`` (so a name cannot hold a comma;
    ``--labels-file`` is there for labels that do)."""
    return typer.Option(... if required else None, *names, help=f"{help} Several: {names[0]} a,b or repeat {names[0]}.",
                        metavar=f"{metavar}[,{metavar}...]", callback=comma_list, show_default=False)


def link_encoder(name: str):
    """The encoder ``--encoder NAME`` names for link and dedupe: ``"minilm"`` -> None (the library's default, the
    offline MiniLM sentence encoder), ``"hashing"`` -> hashed words (no model)."""
    if name not in LINK_ENCODERS:
        raise ParameterError(f"--encoder must be one of {', '.join(LINK_ENCODERS)}; got {name!r}.")
    if name == "hashing":
        from labelwise.features import HashingTextEncoder

        return HashingTextEncoder(dim=256)
    return None


def read_with_text_column(data: Path, text: str, *, encoding: str | None = None, sep: str | None = None):
    """The table at ``data`` (a DataFrame), after checking it has the ``--text`` column ``text``."""
    from labelwise.data.io import read_table

    frame = read_table(data, encoding=encoding, sep=sep)
    if text not in frame.columns:
        raise DataError(f"{data} has no column {text!r}; its columns are: {', '.join(map(str, frame.columns))}. "
                        "Pass the text column with --text.")
    return frame


def writable(path: Path, *, folder: bool, option: str = "--out") -> Path:
    """``path``, after checking that it can be written: a folder (``folder``) or a file whose nearest existing parent
    is a folder we may write in. Called before the work, so that a wrong --out fails at once and not at the end."""
    if path.exists() and path.is_dir() != folder:
        kind, want = ("a file", "a folder (created if missing)") if folder else ("a folder", "a file name")
        raise ParameterError(f"{option} {path} is {kind}; give {want}.")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ParameterError(f"{option} {path} cannot be created: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {path} cannot be written: no permission to write in {parent}. Choose another "
                        f"{option}.")
    return path


# ---- running on a Ray cluster (--ray) ---------------------------------------------------------------------------

RAY = typer.Option(None, "--ray", metavar="auto|ADDRESS", show_default=False, help="Run the heavy stages on a Ray "
                   "cluster: 'auto' joins the cluster started on this machine with `ray start` (or RAY_ADDRESS; with "
                   "neither, a Ray instance on this machine alone), ADDRESS is the head's HOST:PORT. Same results as "
                   "without it. Needs pip install 'labelwise[ray]'.")


def _note(connection) -> None:
    """Print what connecting decided, when the user should know it (a local instance was started)."""
    from labelwise.cli.console import messages, plain

    if connection is not None and connection.note:
        messages.print(plain("note: ", connection.note))


@contextmanager
def run_on(ray: Optional[str]) -> Iterator[Any]:
    """The executor of the heavy stages for ``--ray`` (None: this machine; see
    :func:`labelwise.scale.executor.executor_for`), closed when the command ends."""
    from labelwise.scale.executor import executor_for

    with executor_for(ray) as chosen:
        _note(getattr(chosen, "connection", None))
        yield chosen


@contextmanager
def llm_backend(ray: Optional[str], model: Optional[str], **options) -> Iterator[Any]:
    """The LLM backend ``--model``/``--server`` ask for (``options`` as for :func:`labelwise.llm.open_backend`): here,
    or with ``--ray`` one per actor of a pool on the cluster (:class:`labelwise.scale.ray_llm.PooledBackend`), ended
    when the command ends."""
    import labelwise.llm

    if ray is None:
        yield labelwise.llm.open_backend(model, **options)
        return
    from labelwise.scale.ray_llm import PooledBackend

    with PooledBackend(labelwise.llm.backend_spec(model, **options), address=ray) as pooled:
        _note(pooled.connection)
        yield pooled
