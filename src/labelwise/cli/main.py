"""The ``labelwise`` command: one Typer app, one module per command group.

Exit status: 0 on success, 2 when the input or options are wrong (the message says how to fix it),
1 on a bug in labelwise (rerun with --debug for the traceback, and please report it), 130 when stopped by Ctrl-C
(SIGINT), as the shell's convention has it (128 + 2), so that ``labelwise audit ... && labelwise review ...`` stops
there. That includes ``labelwise review``, whose server Ctrl-C normally stops: uvicorn shuts it down cleanly (every
decision is already stored) and then re-raises the signal for the same reason.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from labelwise import __version__
from labelwise.cli import adapt as adapt_command
from labelwise.cli import annotate as annotate_command
from labelwise.cli import audit as audit_command
from labelwise.cli import audit_boxes as audit_boxes_command
from labelwise.cli import audit_images as audit_images_command
from labelwise.cli import convert as convert_command
from labelwise.cli import dedupe as dedupe_command
from labelwise.cli import extract as extract_command
from labelwise.cli import federate as federate_command
from labelwise.cli import guide as guide_command
from labelwise.cli import label_graph as label_graph_command
from labelwise.cli import learn as learn_command
from labelwise.cli import link as link_command
from labelwise.cli import plan_budget as plan_budget_command
from labelwise.cli import project_spans as project_spans_command
from labelwise.cli import review as review_command
from labelwise.cli import select as select_command
from labelwise.cli import taxonomy as taxonomy_command
from labelwise.cli import unlearn as unlearn_command
from labelwise.cli.console import console, messages, plain
from labelwise.errors import LabelwiseError

# typer 0.20 (which Flower pins) escapes "[default: ...]" and "[required]" for rich markup whenever rich is installed,
# even in plain help (rich_markup_mode=None), which then showed "\[required]"; its other uses of the flag check the mode
typer.core.HAS_RICH = False
app = typer.Typer(
    name="labelwise",
    help="Find wrong labels, fix them, generate new ones, and learn from imperfect labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no rich boxes, and flags shown as flags (rich mode prints <bool> for them)
)
app.command("audit", no_args_is_help=True)(audit_command.audit)
app.command("audit-images", no_args_is_help=True)(audit_images_command.audit_images)
app.command("audit-boxes", no_args_is_help=True)(audit_boxes_command.audit_boxes)
app.command("report", no_args_is_help=True)(audit_command.report)
app.command("review", no_args_is_help=True)(review_command.review)
app.command("taxonomy", no_args_is_help=True)(taxonomy_command.taxonomy)
app.command("annotate", no_args_is_help=True)(annotate_command.annotate)
app.command("export", no_args_is_help=True)(review_command.export)
app.command("link", no_args_is_help=True)(link_command.link)
app.command("dedupe", no_args_is_help=True)(dedupe_command.dedupe)
app.command("guide", no_args_is_help=True)(guide_command.guide)
app.command("extract", no_args_is_help=True)(extract_command.extract)
app.command("project-spans", no_args_is_help=True)(project_spans_command.project_spans)
app.command("plan-budget", no_args_is_help=True)(plan_budget_command.plan_budget)
app.command("select", no_args_is_help=True)(select_command.select)
app.command("adapt", no_args_is_help=True)(adapt_command.adapt)
app.command("label-graph", no_args_is_help=True)(label_graph_command.label_graph)
app.command("unlearn", no_args_is_help=True)(unlearn_command.unlearn)
app.command("train-classifier", no_args_is_help=True)(unlearn_command.train_classifier)
app.add_typer(learn_command.app, name="learn")
app.add_typer(convert_command.app, name="convert")
app.add_typer(federate_command.app, name="federate")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labelwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """labelwise: a toolkit for the whole life of a dataset's labels."""
    # --debug is read by main() from the arguments (and LABELWISE_DEBUG=1 from the environment); setting the
    # environment here would leak into every later call in the same process


def _is_usage_error(err: Exception) -> bool:
    """Typer bundles its own copy of click; accept the ClickException of either."""
    return any(cls.__name__ == "ClickException" for cls in type(err).__mro__) and hasattr(err, "show")


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one plain line on stderr (a cache moved aside, ...): no source line, no markup."""
    messages.print(plain(f"warning: {' '.join(str(message).split())}"), soft_wrap=True)


def _help_hint(err: Exception) -> str:
    """`` (see labelwise audit --help)`` for a usage error raised inside a command."""
    ctx = getattr(err, "ctx", None)
    return f" (see {ctx.command_path} --help)" if ctx is not None else " (see labelwise --help)"


INTERRUPTED = 130  # 128 + SIGINT


def _interrupted() -> int:
    """Ctrl-C: one line on stderr, no traceback, exit status 130."""
    messages.print("interrupted", highlight=False)
    return INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning errors into one clear line and an exit status."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("LABELWISE_DEBUG") == "1"
    shown, warnings.showwarning = warnings.showwarning, _warning_line
    try:
        code = app(args=args, prog_name="labelwise", standalone_mode=False)
        if code == INTERRUPTED:  # Typer turns a KeyboardInterrupt inside a command into Exit(130), returned here
            return _interrupted()
    except LabelwiseError as err:
        if debug:
            messages.print_exception()
        messages.print(plain(("error:", "bold red"), f" {err}"), soft_wrap=True)
        return 2
    except typer.Exit as done:
        return _interrupted() if done.exit_code == INTERRUPTED else done.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except Exception as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # `labelwise` or `labelwise audit` alone: the help, as --help
            console.print(plain(err.format_message()), soft_wrap=True)
            return err.exit_code
        if _is_usage_error(err):  # a wrong option or argument: the parser's message in one line, exit 2
            messages.print(plain(("error:", "bold red"), f" {err.format_message()}{_help_hint(err)}"), soft_wrap=True)
            return err.exit_code
        if debug:
            messages.print_exception()
        else:
            messages.print(
                plain(("internal error:", "bold red"), f" {type(err).__name__}: {err}\n"
                      "This is a bug in labelwise. Rerun with --debug for the traceback and please report it."),
                soft_wrap=True,
            )
        return 1
    finally:
        warnings.showwarning = shown  # a caller of main() in the same process keeps its own warning display
    return 0


if __name__ == "__main__":
    sys.exit(main())
