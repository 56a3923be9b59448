"""``labelwise review`` (start the review app on an audit) and ``labelwise export`` (write the decisions)."""

from __future__ import annotations

import datetime as _dt
import getpass
import re
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import console, messages, plain
from labelwise.cli.options import ENCODING, SEP, list_option
from labelwise.errors import LabelwiseError, ParameterError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> Optional[_dt.timedelta]:
    """A duration such as ``90s``, ``30m``, ``12h`` or ``7d``; ``never`` for no limit (None)."""
    text = text.strip().lower()
    if text == "never":
        return None
    found = re.fullmatch(r"(\d{1,7})([smhd])", text)
    if found is None or int(found.group(1)) == 0:
        raise ParameterError(f"{option} takes a duration such as 30m, 12h or 7d (or never); got {text!r}.")
    return _dt.timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def prepare_audit(path: Path, *, label: Optional[str], text: Optional[List[str]], quiet: bool = False,
                  encoding: Optional[str] = None, sep: Optional[str] = None) -> Path:
    """An audit folder for ``path``: the folder itself, or (for a table) ``<name>.labelwise/`` beside it, written by
    auditing the table (read with ``encoding`` and ``sep``, which the audit records for the export) first unless it
    already exists (re-opening the same data resumes the same project)."""
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
    from labelwise.cli.console import interrupt_after, progress_bars

    with progress_bars(enabled=not quiet) as progress:
        result = labelwise.audit_dataset(str(path), label=label, text=text or None, encoding=encoding, sep=sep,
                                         progress=progress)
    for note in result.settings.get("notes", []):
        messages.print(plain("note: " + note), soft_wrap=True)
    with interrupt_after():
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
    text: Optional[List[str]] = list_option("--text", "-t", help="For a table: text column(s) to embed."),
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: sqlite file review.db in the folder; "
                                     "postgresql+psycopg://user@host/db works too)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    reviewer: Optional[List[str]] = list_option("--reviewer", "-r", metavar="NAME", help="Reviewer name(s): each "
                                                "gets their own login link (default: your user name)."),
    revoke: Optional[List[str]] = list_option("--revoke", metavar="NAME", help="Revoke every login link of these "
                                              "reviewers and end their sessions (on running servers too, at their "
                                              "next click)."),
    session_idle: str = typer.Option("12h", "--session-idle", help="A session ends after this long without a request "
                                     "(30m, 12h, 7d, or never)."),
    session_max_age: str = typer.Option("7d", "--session-max-age", help="A session ends this long after its login, "
                                        "however busy (or never)."),
    link_max_age: str = typer.Option("7d", "--link-max-age", help="Login links printed now work for this long (or "
                                     "never: until revoked)."),
    single_use_links: bool = typer.Option(False, "--single-use-links", help="Login links printed now work once."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark the session cookie Secure: use it "
                                        "behind an https proxy (over https it is Secure anyway)."),
    reviewers_per_item: Optional[int] = typer.Option(None, "--reviewers-per-item", metavar="K",
                                                     help="How many reviewers label each item, independently and "
                                                     "blind to each other (default: the project's, 1 for a new "
                                                     "one). With K > 1 each item goes to K reviewers; see the "
                                                     "agreement page and the export's consensus."),
    order: str = typer.Option("quality", "--order", help="Queue order: 'quality' (worst label first) or "
                              "'informative' (most informative to label next, from a model refit in the background "
                              "on the audit's features with the labels as reviewed so far)."),
    strategy: str = typer.Option("margin", "--strategy", "-s", help="With --order informative: margin, "
                                 "least_confidence, entropy or k_center (as in labelwise select)."),
    refit_every: int = typer.Option(10, "--refit-every", help="With --order informative: refit after this many "
                                    "decisions (or 30 s after the first since the last refit)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Review the flagged labels in your browser, worst first (or most informative first). Every decision is kept
    as an event.

    Example: labelwise audit train.csv --label category --text text --out audit/ && labelwise review audit/ -r ana -r bo
    """
    from labelwise.audit.result import AuditResult

    try:
        from labelwise.review.app import bind, create_app, serve
        from labelwise.review.project import open_audit_project
        from labelwise.review.store import SessionPolicy
    except ImportError as err:
        raise LabelwiseError(f"{err}. Install the review app with: pip install 'labelwise[review]'") from None
    if order not in ("quality", "informative"):
        raise ParameterError(f"--order takes quality or informative; got {order!r}.")
    if refit_every < 1:
        raise ParameterError(f"--refit-every counts decisions: 1 or more; got {refit_every}.")
    if order == "quality" and (strategy != "margin" or refit_every != 10):
        raise ParameterError("--strategy and --refit-every set the informative order: add --order informative.")
    policy = SessionPolicy(idle=parse_duration(session_idle, "--session-idle"),
                           max_age=parse_duration(session_max_age, "--session-max-age"))
    link_age = parse_duration(link_max_age, "--link-max-age")
    folder = prepare_audit(audit_dir, label=label, text=text, encoding=encoding, sep=sep)
    audited = AuditResult.load(folder)
    ranked = None
    if order == "informative":
        from labelwise.review.informative import InformativeOrder, check_refittable

        check_refittable(audited, strategy)  # before the server starts: a wrong option is one line, not a log
    store, project_id, classes = open_audit_project(folder, db_url=db, audit=audited)
    if order == "informative":
        ranked = InformativeOrder(store, project_id, audited, strategy=strategy, refit_every=refit_every)
    if reviewers_per_item is not None:
        store.set_reviewers_per_item(project_id, reviewers_per_item)
    per_item = store.reviewers_per_item(project_id)
    if per_item > 1 and not reviewer:  # a default account would take a share of everyone's items
        known = ", ".join(store.reviewers(project_id)) or "none yet"
        raise ParameterError(f"This project has {per_item} reviewers per item: name the reviewers to print links "
                             f"for with -r NAME (its reviewers: {known}).")
    for name in revoke or []:
        messages.print(plain(f"revoked {store.revoke_tokens(project_id, name)} login link(s) of {name}"), soft_wrap=True)
    store.prune(project_id, policy)  # ended sessions and spent links go: they do not pile up over many starts
    sock = bind(host, port)  # before printing links: a busy port is an error, not a link that leads nowhere
    done, total = store.progress(project_id)
    if link_age is None:
        lasting = "once" if single_use_links else "until revoked"
    else:
        lasting = f"{'once, ' if single_use_links else ''}for {link_max_age}"
    each = f" {per_item} reviewers answer each item, blind to each other." if per_item > 1 else ""
    console.print(f"{total:,} items, {done:,} reviewed.{each} Each link logs one reviewer in and works {lasting}; send "
                  "each only to its reviewer (revoke with --revoke NAME):", highlight=False, soft_wrap=True)
    tokens = store.issue_tokens(project_id, reviewer or [_default_reviewer()], max_age=link_age,
                                single_use=single_use_links)
    for name, token in tokens.items():
        console.print(plain(f"  {name}: http://{_url_host(host)}:{sock.getsockname()[1]}/login?token={token}"),
                      soft_wrap=True)
    if ranked is not None:
        messages.print(plain(f"queue order: most informative first by {strategy}, refit in the background (worst "
                             "label first until the first refit is done)"), soft_wrap=True)
    serve(create_app(store, project_id, classes, policy=policy, secure_cookies=secure_cookies, order=ranked,
                     pred_probs=audited.pred_probs, row_ids=audited.row_ids), sock)


def _url_host(host: str) -> str:
    """``host`` as it goes into a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def export(
    audit_dir: Path = typer.Argument(..., help="The audit folder that was reviewed.", show_default=False),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL, if not the folder's review.db."),
    data: Optional[Path] = typer.Option(None, "--data", help="The table that was audited (default: the one the "
                                        "audit recorded), to write a corrected copy of it."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write into (default: the audit folder)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of the table, also of its "
                                           "corrected copy (default: the one it was audited with, else utf-8)."),
    sep: Optional[str] = typer.Option(None, "--sep", help="Field separator of a CSV/TSV table, also of its corrected "
                                      "copy (default: the one it was audited with, else the format's)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Write the reviewed labels: a corrected copy of your table (<name>.reviewed.<ext>), labels_reviewed.csv and
    changelog.csv (every decision: who, when, what, why). Every value nobody changed is written back exactly as it
    was read; text typed by reviewers is neutralised against spreadsheet formulas. Your original file is never
    changed. With several reviewers per item the label is their consensus, and annotations.csv, consensus.csv,
    annotators.csv and agreement.csv are written too."""
    from labelwise.audit.result import AuditResult
    from labelwise.errors import DataError
    from labelwise.review.project import export_decisions, open_audit_project

    audited = AuditResult.load(audit_dir)
    store, project_id, _ = open_audit_project(audit_dir, db_url=db, audit=audited)
    settings = audited.settings or {}
    source = data or audited.source_path
    if source is not None and not Path(source).is_file():
        if data is not None:
            raise DataError(f"{data} does not exist. Give the table that was audited with --data.")
        source = None
    result = export_decisions(store, project_id, out or audit_dir, source=source,
                              label_column=audited.label_column,
                              encoding=encoding or settings.get("encoding"), sep=sep or settings.get("sep"),
                              delimiter=settings.get("label_delimiter") or "|",
                              expected_rows=audited.n_input_rows, pred_probs=audited.pred_probs,
                              row_ids=audited.row_ids)
    console.print(f"{result.reviewed:,} of {result.total:,} rows reviewed", highlight=False, soft_wrap=True)
    messages.print("wrote:", highlight=False)
    for path in result.paths.values():
        messages.print(plain(f"  {path}"), soft_wrap=True)
    for note in result.notes:
        messages.print(plain(f"note: {note}"), soft_wrap=True)
    if source is None:
        messages.print("No corrected copy of the table: the audited file was not found. Give it with --data.",
                       highlight=False)
