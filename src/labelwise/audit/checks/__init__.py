"""The audit's other checks, run on a table after confident learning: class balance, column health, the error
rate's interval, exact and near duplicates (with conflicting labels), outliers, and label shift / leakage against
another split; the LLM judge's result; and, for multi-label tables, the missing and spurious labels per row with
label cardinality and co-occurrence.

One small interface per check (cleanlab's Datalab issue managers are the model): a check reads the shared
:class:`CheckInputs` and returns its typed result (per-row arrays under fixed names such as ``is_duplicate_issue``
or ``outlier_score``, plus a summary dataclass), or :class:`Skipped` saying why it could not run. The results land
in :class:`AuditChecks`, the ``checks`` attribute of an ``AuditResult``: ``result.checks.duplicates.summary``.
"""

from __future__ import annotations

from labelwise.audit.checks.balance import BalanceCheck, BalanceCheckResult
from labelwise.audit.checks.base import Check, CheckInputs, CheckResult, Skipped, SkipReason
from labelwise.audit.checks.columns import ColumnsCheck, ColumnsCheckResult, ColumnsSummary
from labelwise.audit.checks.duplicates import DuplicatesCheck, DuplicatesCheckResult, DuplicateSummary
from labelwise.audit.checks.error_interval import ErrorIntervalCheck, ErrorIntervalCheckResult, ErrorRateInterval
from labelwise.audit.checks.llm_judge import JudgeSummary, LLMJudgeCheckResult
from labelwise.audit.checks.multilabel import MultiLabelCheckResult, MultiLabelSummary, multilabel_check
from labelwise.audit.checks.outliers import OutliersCheck, OutliersCheckResult, OutlierSummary
from labelwise.audit.checks.shift import ShiftCheck, ShiftCheckResult, ShiftSummary
from labelwise.audit.checks.suite import ALL_CHECKS, AuditChecks, run_checks

__all__ = [
    "ALL_CHECKS", "AuditChecks", "run_checks", "Check", "CheckInputs", "CheckResult", "Skipped", "SkipReason",
    "BalanceCheck", "BalanceCheckResult",
    "ColumnsCheck", "ColumnsCheckResult", "ColumnsSummary",
    "ErrorIntervalCheck", "ErrorIntervalCheckResult", "ErrorRateInterval",
    "DuplicatesCheck", "DuplicatesCheckResult", "DuplicateSummary",
    "OutliersCheck", "OutliersCheckResult", "OutlierSummary",
    "ShiftCheck", "ShiftCheckResult", "ShiftSummary",
    "JudgeSummary", "LLMJudgeCheckResult",
    "MultiLabelCheckResult", "MultiLabelSummary", "multilabel_check",
]
