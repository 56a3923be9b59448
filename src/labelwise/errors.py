"""Errors a person can act on: every exception labelwise raises on purpose, in one module.

Every error labelwise raises on purpose is a :class:`LabelwiseError`. Its message says what is wrong, where
(file, row, column) and how to fix it. The CLI prints that one message and exits with status 2.

The subclasses also inherit the built-in exception a Python caller would expect (``ParameterError`` is a
``ValueError``, ``MissingExtraError`` an ``ImportError``), so ``except ValueError`` keeps working for code written
against scikit-learn or cleanlab.

    LabelwiseError
    ├── DataError            the data cannot be read or has the wrong shape (file, column, row, label values)
    ├── ParameterError       an argument or option is out of range or contradicts another (also a ValueError)
    │   └── ShapeError       arrays given to an algorithm do not have the documented shapes or values
    ├── MissingExtraError    an optional dependency is not installed (also an ImportError)
    ├── LLMError             a language model or server failed or answered unusably
    ├── CacheError           a cache cannot be used and cannot be rebuilt (read-only and incomplete, disk full)
    └── ConflictError        someone else changed a review item since it was loaded

    CacheWarning (a UserWarning, not an error): a cache file was moved aside or cannot be written; the run goes on
"""

from __future__ import annotations


class LabelwiseError(Exception):
    """Base class: a problem with the user's input or environment that the user can fix."""


class DataError(LabelwiseError):
    """The data cannot be read or does not have the expected shape (file, column, row, label values)."""


class ParameterError(LabelwiseError, ValueError):
    """An argument or option is out of range, of the wrong type, or contradicts another argument."""


class ShapeError(ParameterError):
    """Arrays given to an algorithm do not have the documented shapes or values."""


class MissingExtraError(LabelwiseError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install labelwise[extra]``."""

    def __init__(self, package: str, extra: str, purpose: str = ""):
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{package} is needed{what} but is not installed. Install it with: pip install 'labelwise[{extra}]'"
        )
        self.package = package
        self.extra = extra


class LLMError(LabelwiseError):
    """A language model or server failed, or gave an answer that cannot be used (the message says which)."""


class CacheError(LabelwiseError):
    """A cache cannot be used and cannot be rebuilt here (for example read-only and missing entries)."""


class ConflictError(LabelwiseError):
    """Someone else changed this item since you loaded it; reload it and decide again."""


class CacheWarning(UserWarning):
    """A cache file was unusable and was moved aside, or cannot be written: the run goes on (the message says how)."""
