"""Progress reporting shared by every long-running step.

Library functions that can take more than a couple of seconds accept ``progress``: a callable
``progress(stage: str, done: int, total: int)`` called as work advances (``done`` counts up to ``total`` for
that ``stage``). The CLI passes one that draws a rich progress bar; notebooks may pass their own; ``None``
means silence.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Callable[[str, int, int], None]


def report(progress: Optional[ProgressCallback], stage: str, done: int, total: int) -> None:
    """Call ``progress(stage, done, total)`` when a callback was given."""
    if progress is not None:
        progress(stage, done, total)
