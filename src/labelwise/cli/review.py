"""``labelwise review`` (start the review app on an audit) and ``labelwise export`` (write the decisions)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Optional

import typer

from labelwise.cli.console import messages
from labelwise.errors import LabelwiseError


def review(
    audit_dir: Path = typer.Argument(..., help="The folder `labelwise audit ... --out DIR` wrote.", show_default=False),
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
    store, project_id, classes = open_audit_project(audit_dir, db_url=db)
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
