"""The column-health check: per column of the table, its type, missing cells, distinct values and notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labelwise.audit.checks.base import CheckInputs, CheckResult
from labelwise.audit.composition import ColumnHealth, column_health


@dataclass
class ColumnsSummary:
    """columns: one :class:`~labelwise.audit.composition.ColumnHealth` per column of the audited table, in order."""

    columns: list[ColumnHealth]


@dataclass
class ColumnsCheckResult(CheckResult):
    """``summary``: :class:`ColumnsSummary`. No per-row columns."""

    name: ClassVar[str] = "columns"
    summary: ColumnsSummary


class ColumnsCheck:
    name: ClassVar[str] = "columns"

    def run(self, inputs: CheckInputs) -> ColumnsCheckResult:
        return ColumnsCheckResult(ColumnsSummary(column_health(inputs.table.frame)))
