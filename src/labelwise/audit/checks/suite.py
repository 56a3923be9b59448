"""The checks an audit runs after confident learning, in order, and :class:`AuditChecks`, where their results land."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from labelwise.audit.checks.balance import BalanceCheck, BalanceCheckResult
from labelwise.audit.checks.base import CheckInputs, CheckResult, Skipped, SkipReason, to_json
from labelwise.audit.checks.columns import ColumnsCheck, ColumnsCheckResult
from labelwise.audit.checks.duplicates import DuplicatesCheck, DuplicatesCheckResult
from labelwise.audit.checks.error_interval import ErrorIntervalCheck, ErrorIntervalCheckResult
from labelwise.audit.checks.llm_judge import LLMJudgeCheckResult
from labelwise.audit.checks.multilabel import MultiLabelCheckResult
from labelwise.audit.checks.outliers import OutliersCheck, OutliersCheckResult
from labelwise.audit.checks.shift import ShiftCheck, ShiftCheckResult
from labelwise.errors import ParameterError

ALL_CHECKS = ("balance", "columns", "error_interval", "duplicates", "outliers", "shift")
RESULT_TYPES: dict[str, type[CheckResult]] = {t.name: t for t in (
    MultiLabelCheckResult, BalanceCheckResult, ColumnsCheckResult, ErrorIntervalCheckResult, DuplicatesCheckResult, OutliersCheckResult,
    ShiftCheckResult, LLMJudgeCheckResult)}


@dataclass
class AuditChecks:
    """The other checks' results, one typed attribute per check (None when it did not run), and ``skipped``: why a
    requested check did not run. ``llm_judge`` is filled later, by :func:`labelwise.audit.llm_judge.judge_audit`;
    ``multilabel`` by the audit workflow, for a multi-label table (its per-row columns come first in issues.csv)."""

    multilabel: Optional[MultiLabelCheckResult] = None
    balance: Optional[BalanceCheckResult] = None
    columns: Optional[ColumnsCheckResult] = None
    error_interval: Optional[ErrorIntervalCheckResult] = None
    duplicates: Optional[DuplicatesCheckResult] = None
    outliers: Optional[OutliersCheckResult] = None
    shift: Optional[ShiftCheckResult] = None
    llm_judge: Optional[LLMJudgeCheckResult] = None
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, outcome: Union[CheckResult, Skipped]) -> None:
        """Keep a check's result, or why it did not run (replacing what an earlier run of that check left)."""
        name = outcome.check if isinstance(outcome, Skipped) else outcome.name
        self.skipped = [s for s in self.skipped if s.check != name]
        if isinstance(outcome, Skipped):
            setattr(self, name, None)
            self.skipped.append(outcome)
        else:
            setattr(self, name, outcome)

    def results(self) -> list[CheckResult]:
        """The checks that ran, in order."""
        return [r for r in (getattr(self, name) for name in RESULT_TYPES) if r is not None]

    def why_not(self, check: str) -> Optional[Skipped]:
        """Why ``check`` did not run, or None (it ran, or it was not requested)."""
        return next((s for s in self.skipped if s.check == check), None)

    # ---- for AuditResult.save / load ---------------------------------------------------------------------------

    def summaries_json(self) -> dict:
        """{check: its summary as JSON values}, for the checks that ran."""
        return {r.name: to_json(r.summary) for r in self.results()}

    def skipped_json(self) -> dict:
        """{check: {"reason", "message"}}, for the checks that did not run."""
        return {s.check: {"reason": s.reason.value, "message": s.message} for s in self.skipped}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every result's arrays, named ``<check>.<attribute>``."""
        return {f"{r.name}.{key}": value for r in self.results() for key, value in r.arrays().items()}

    @classmethod
    def restore(cls, summaries: dict, skipped: dict, arrays: dict[str, np.ndarray]) -> "AuditChecks":
        """The inverse of :meth:`summaries_json`, :meth:`skipped_json` and :meth:`arrays`."""
        out = cls()
        for name, summary in summaries.items():
            prefix = f"{name}."
            mine = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
            out.add(RESULT_TYPES[name].restore(summary, mine))
        for name, why in skipped.items():
            out.add(Skipped(name, SkipReason(why["reason"]), why["message"]))
        return out


def run_checks(inputs: CheckInputs, *, checks: Sequence[str] = ALL_CHECKS,
               duplicate_threshold: float = 0.95) -> AuditChecks:
    """Run the named checks on the shared inputs, in the order of ``ALL_CHECKS``; duplicate_threshold: cosine
    similarity for near-duplicates (also for leakage across splits)."""
    unknown = set(checks) - set(ALL_CHECKS)
    if unknown:
        raise ParameterError(f"unknown checks {sorted(unknown)}; choose from {', '.join(ALL_CHECKS)}.")
    out = AuditChecks()
    for check in (BalanceCheck(), ColumnsCheck(), ErrorIntervalCheck(), DuplicatesCheck(duplicate_threshold),
                  OutliersCheck(), ShiftCheck(duplicate_threshold)):
        if check.name in checks:
            out.add(check.run(inputs))
    return out

