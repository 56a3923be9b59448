"""labelwise.report: the Dataset Nutrition Label, one self-contained HTML file plus report.json."""

from labelwise.report.build import find_datasheet, read_datasheet, report_data, write_report

__all__ = ["write_report", "report_data", "read_datasheet", "find_datasheet"]
