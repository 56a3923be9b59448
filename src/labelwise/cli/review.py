"""``labelwise review`` (start the review app on an audit) and ``labelwise export`` (write the decisions)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import messages
from labelwise.errors import LabelwiseError


def prepare_audit(path: Path, *, label: Optional[str], text: Optional[List[str]], quiet: bool = False) -> Path:
    """An audit folder for ``path``: the folder itself, or (for a table) ``<name>.labelwise/`` beside it, written by
    auditing the table first unless it already exists (re-opening the same data resumes the same project)."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise LabelwiseError(f"{path} is neither an audit folder nor a table. Give the folder that `labelwise audit "
                             "--out DIR` wrote, or a CSV/Parquet/JSONL table with --label.")
    folder = path.with_name(path.name + ".labelwise")
    if (folder / "issues.csv").is_file():
        return folder
    if label is None:
        raise LabelwiseError(f"{path} is a table: say which column holds the labels with --label (and --text).")
    import labelwise
    from labelwise.cli.console import progress_bars

    with progress_bars(enabled=not quiet) as progress:
        result = labelwise.audit(str(path), label=label, text=text or None, progress=progress)
    result.save(folder)
    return folder


def review(
    audit_dir: Path = typer.Argument(..., help="An audit folder (`labelwise audit ... --out DIR`), or a table to "
                                     "audit first (with --label and --text).", show_default=False),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="For a table: the label column."),
    text: Optional[List[str]] = typer.Option(None, "--text", "-t", help="For a table: text column(s) to embed."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: sqlite file review.db in the folder; "
                                     "postgresql://... works too)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    user: str = typer.Option("reviewer", "--user", help="Name recorded on your decisions."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Review the flagged labels in your browser, worst first. Every decision is kept as an event.

    Example: labelwise audit train.csv --label category --text text --out audit/ && labelwise review audit/
    """
    try:
        from labelwise.review.app import create_app, serve
        from labelwise.review.project import open_audit_project
    except ImportError as err:
        raise LabelwiseError(f"{err}. Install the review app with: pip install 'labelwise[review]'") from None
    store, project_id, classes = open_audit_project(prepare_audit(audit_dir, label=label, text=text), db_url=db)
    token = secrets.token_urlsafe(16)
    done, total = store.progress(project_id)
    messages.print(f"{total:,} items, {done:,} reviewed. Open this link to start (it logs you in):", highlight=False)
    messages.print(f"  http://{host}:{port}/login?token={token}", highlight=False, soft_wrap=True)
    serve(create_app(store, project_id, classes, token=token, user=user), host=host, port=port)


def export(
    audit_dir: Path = typer.Argument(..., help="The audit folder that was reviewed.", show_default=False),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL, if not the folder's review.db."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write (default: the audit folder)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Write the reviewed labels (labels_reviewed.csv) and every decision (changelog.csv)."""
    from labelwise.review.project import export_decisions, open_audit_project

    store, project_id, _ = open_audit_project(audit_dir, db_url=db)
    labels, changelog = export_decisions(store, project_id, out or audit_dir)
    messages.print(f"wrote {labels} and {changelog}", highlight=False)
