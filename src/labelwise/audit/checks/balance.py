"""The class-balance check: rows per class, imbalance ratio, entropy, and the classes too small to learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labelwise.audit.checks.base import CheckInputs, CheckResult
from labelwise.audit.composition import BalanceResult, class_balance


@dataclass
class BalanceCheckResult(CheckResult):
    """``summary``: :class:`~labelwise.audit.composition.BalanceResult` (per-class arrays in the order of the
    audit's classes). No per-row columns."""

    name: ClassVar[str] = "balance"
    summary: BalanceResult


class BalanceCheck:
    name: ClassVar[str] = "balance"

    def run(self, inputs: CheckInputs) -> BalanceCheckResult:
        return BalanceCheckResult(class_balance(inputs.given, len(inputs.classes)))
