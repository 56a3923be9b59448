"""Errors a person can act on.

Every error labelwise raises on purpose is a :class:`LabelwiseError`. Its message says what is wrong, where
(file, row, column) and how to fix it. The CLI prints that one message and exits with status 2.
"""

from __future__ import annotations


class LabelwiseError(Exception):
    """Base class: a problem with the user's input or environment that the user can fix."""


class DataError(LabelwiseError):
    """The data cannot be read or does not have the expected shape (file, column, row, label values)."""


class MissingExtraError(LabelwiseError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install labelwise[extra]``."""

    def __init__(self, package: str, extra: str, purpose: str = ""):
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{package} is needed{what} but is not installed. Install it with: pip install 'labelwise[{extra}]'"
        )
        self.package = package
        self.extra = extra


class ShapeError(LabelwiseError, ValueError):
    """Arrays given to an algorithm do not have the documented shapes or values."""
