"""Terminal helpers shared by the commands: a rich console on stderr for progress and messages."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from labelwise.progress import ProgressCallback

console = Console()  # results go to stdout
messages = Console(stderr=True)  # progress and errors go to stderr


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """Yield a ``progress(stage, done, total)`` callback that draws one bar per stage (None when disabled)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=messages, transient=False) as bars:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update
