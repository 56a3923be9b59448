"""labelwise.report: the Dataset Nutrition Label, one self-contained HTML file plus report.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "write_report": "labelwise.report.build",
    "report_data": "labelwise.report.build",
    "read_datasheet": "labelwise.report.build",
    "find_datasheet": "labelwise.report.build",
})

if TYPE_CHECKING:
    from labelwise.report.build import find_datasheet, read_datasheet, report_data, write_report
