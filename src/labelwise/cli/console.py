"""Terminal helpers shared by the commands: a rich console on stderr for progress and messages, and data shown as
plain text.

Anything that comes from the user's data or arguments (file names, column names, labels, texts, error messages that
quote them) is printed through :func:`plain`: never read as rich markup (``[/INST]`` stays ``[/INST]``) and with control
characters shown as escapes (``\\x1b``), so a cell cannot recolour, clear or retitle the terminal.
"""

from __future__ import annotations

import re
import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Union

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from labelwise.progress import ProgressCallback

console = Console()  # results go to stdout
messages = Console(stderr=True)  # progress and errors go to stderr

#: C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides and lone surrogates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def visible(value: object) -> str:
    """``str(value)`` with each control character, bidirectional override and lone surrogate written as its escape:
    ``"\\x1b[31mred"`` -> ``"\\\\x1b[31mred"`` (tab and newline are kept)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


Part = Union[str, "tuple[str, str]", Text]


def plain(*parts: Part) -> Text:
    """One piece of terminal output that shows data exactly as written.

    parts: strings (shown literally, through :func:`visible`), ``(string, style)`` pairs for the parts that should
    stand out (``("error:", "bold red")``), or ready :class:`rich.text.Text`.
    """
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            out.append(visible(part[0]), style=part[1])
        else:
            out.append(visible(part))
    return out


def time_left(elapsed, done: float, total) -> str:
    """The estimated time left as ``h:mm:ss``: the average time per step so far times the steps left; ``-:--:--``
    before the first step ends. (rich's own estimate uses only the last 30 s, so steps that each take minutes, such
    as LLM calls, never get one.)"""
    if not done or elapsed is None or total is None:
        return "-:--:--"
    seconds = int(round(elapsed / done * max(total - done, 0)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TimeLeftColumn(ProgressColumn):
    """:func:`time_left` of a task."""

    def render(self, task) -> Text:
        return Text(time_left(task.elapsed, task.completed, task.total), style="progress.remaining")


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """Yield a ``progress(stage, done, total)`` callback that draws one bar per stage (None when disabled)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeLeftColumn(),
    )
    bars = Progress(*columns, console=messages, transient=False)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not tasks:
            bars.start()  # drawn from the first report on: a command that stops before any work prints no blank line
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    try:
        yield update
    except KeyboardInterrupt:
        if tasks:  # Ctrl-C: the bars go (without the blank line Progress.stop adds off a terminal), so that
            bars.live.transient = True  # "interrupted" is the one line left
            bars.live.stop()
            tasks.clear()
        raise
    finally:
        if tasks:
            bars.stop()


@contextmanager
def interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C that comes while the block runs until it ends, then stop as Ctrl-C would have: a folder of files
    written together (each one atomically) is never left with half of them new. Off the main thread (where signals
    cannot be handled) the block simply runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
