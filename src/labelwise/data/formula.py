"""Spreadsheet formula injection ("CSV injection"): text people typed is neutralised before it goes into a CSV cell.

A spreadsheet that opens a CSV runs a cell such as ``=HYPERLINK("http://evil.example", "click")`` as a formula.
OWASP's rule (https://owasp.org/www-community/attacks/CSV_Injection): a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading ``'``, so the spreadsheet shows it as text. labelwise applies it to
text typed in the review app (reasons, reviewer names) in every CSV or TSV it writes, and never to the user's own
cells, which are written back exactly as they were read.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula, else unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def neutralise_frame(frame):
    """A copy of the DataFrame ``frame`` in which every text cell of its object columns went through
    :func:`neutralise`."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [neutralise(v) if isinstance(v, str) else v for v in frame[column]]
    return frame
