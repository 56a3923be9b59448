"""Options several commands share, declared once: which LLM to use, and how much to show."""

from __future__ import annotations

import typer

MODEL = typer.Option(None, "--model", help="A GGUF file (default: the packaged Gemma 3 270M).")
SERVER = typer.Option(None, "--server", help="An OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1 "
                      "(API key from LABELWISE_LLM_API_KEY).")
SERVER_MODEL = typer.Option(None, "--server-model", help="The server's model name.")
THREADS = typer.Option(None, "--threads", help="CPU threads for a local model.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars.")
DEBUG = typer.Option(False, "--debug", help="Show full tracebacks on errors.")
