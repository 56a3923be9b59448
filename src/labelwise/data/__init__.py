"""labelwise.data: read a user's labelled table, validate it, and encode its labels.

Workflow floor: takes paths or DataFrames, returns :class:`LabelledTable` / :class:`LabelColumn`. Every problem with
the input raises :class:`labelwise.errors.DataError` naming the file, row and column, and the fix.
"""

from __future__ import annotations

from labelwise.data.atomic import write_bytes_atomic, write_text_atomic
from labelwise.data.corruption import flip_labels
from labelwise.data.dataset import LabelledTable, load_labelled_table
from labelwise.data.io import read_table, write_table_atomic
from labelwise.data.labels import LabelColumn, encode_labels
from labelwise.data.nlupp import load_nlupp

__all__ = [
    "LabelColumn",
    "LabelledTable",
    "encode_labels",
    "flip_labels",
    "load_labelled_table",
    "load_nlupp",
    "read_table",
    "write_bytes_atomic",
    "write_table_atomic",
    "write_text_atomic",
]
