"""``labelwise review`` (start the review app on an audit) and ``labelwise export`` (write the decisions)."""

from __future__ import annotations

import getpass
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
    from labelwise.audit.result import AuditResult

    folder = path.with_name(path.name + ".labelwise")
    if AuditResult.saved_in(folder):
        return folder
    if label is None:
        raise LabelwiseError(f"{path} is a table: say which column holds the labels with --label (and --text).")
    import labelwise
    from labelwise.cli.console import progress_bars

    with progress_bars(enabled=not quiet) as progress:
        result = labelwise.audit_dataset(str(path), label=label, text=text or None, progress=progress)
    result.save(folder)
    return folder


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "reviewer"


def review(
    audit_dir: Path = typer.Argument(..., help="An audit folder (`labelwise audit ... --out DIR`), or a table to "
                                     "audit first (with --label and --text).", show_default=False),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="For a table: the label column."),
    text: Optional[List[str]] = typer.Option(None, "--text", "-t", help="For a table: text column(s) to embed."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: sqlite file review.db in the folder; "
                                     "postgresql+psycopg://user@host/db works too)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    reviewer: Optional[List[str]] = typer.Option(None, "--reviewer", "-r", help="A reviewer's name; repeat for "
                                                 "several. Each gets their own login link (default: your user name)."),
    revoke: Optional[List[str]] = typer.Option(None, "--revoke", help="Revoke every login link of this reviewer."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Review the flagged labels in your browser, worst first. Every decision is kept as an event.

    Example: labelwise audit train.csv --label category --text text --out audit/ && labelwise review audit/ -r ana -r bo
    """
    try:
        from labelwise.review.app import create_app, serve
        from labelwise.review.project import open_audit_project
    except ImportError as err:
        raise LabelwiseError(f"{err}. Install the review app with: pip install 'labelwise[review]'") from None
    store, project_id, classes = open_audit_project(prepare_audit(audit_dir, label=label, text=text), db_url=db)
    for name in revoke or []:
        messages.print(f"revoked {store.revoke_tokens(name)} login link(s) of {name}", highlight=False)
    done, total = store.progress(project_id)
    messages.print(f"{total:,} items, {done:,} reviewed. Each link logs one reviewer in; send each only to its "
                   "reviewer (links from earlier runs keep working until revoked with --revoke NAME):", highlight=False)
    for name in reviewer or [_default_reviewer()]:
        token = store.issue_token(name)
        messages.print(f"  {name}: http://{host}:{port}/login?token={token}",
                       highlight=False, soft_wrap=True)
    serve(create_app(store, project_id, classes), host=host, port=port)


def export(
    audit_dir: Path = typer.Argument(..., help="The audit folder that was reviewed.", show_default=False),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL, if not the folder's review.db."),
    data: Optional[Path] = typer.Option(None, "--data", help="The table that was audited (default: the one the "
                                        "audit recorded), to write a corrected copy of it."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write into (default: the audit folder)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Write the reviewed labels: a corrected copy of your table (<name>.reviewed.<ext>), labels_reviewed.csv and
    changelog.csv (every decision: who, when, what, why). Your original file is never changed."""
    from labelwise.audit.result import AuditResult
    from labelwise.review.project import export_decisions, open_audit_project, original_table

    store, project_id, _ = open_audit_project(audit_dir, db_url=db)
    audited = AuditResult.load(audit_dir)
    table = original_table(audit_dir, data)
    source = Path(data or audited.source_path or "dataset.csv")
    written = export_decisions(store, project_id, out or audit_dir, table=table, label_column=audited.label_column,
                               dataset_name=f"{source.stem}.reviewed{source.suffix or '.csv'}")
    done, total = store.progress(project_id)
    messages.print(f"{done:,} of {total:,} rows reviewed. Wrote:", highlight=False)
    for path in written.values():
        messages.print(f"  {path}", highlight=False, soft_wrap=True)
    if table is None:
        messages.print("No corrected copy of the table: the audited file was not found. Give it with --data.",
                       highlight=False)
