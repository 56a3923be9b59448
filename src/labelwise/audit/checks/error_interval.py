"""The error-rate interval check: a percentile bootstrap interval for confident learning's estimated label-error
rate (single-label only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from labelwise.audit import label_errors
from labelwise.audit.checks.base import CheckInputs, CheckResult, Skipped, SkipReason


@dataclass
class ErrorRateInterval:
    """lower, upper: the interval's ends (fractions of rows); confidence: its level; n_bootstrap: resamples."""

    lower: float
    upper: float
    confidence: float
    n_bootstrap: int


@dataclass
class ErrorIntervalCheckResult(CheckResult):
    """``summary``: :class:`ErrorRateInterval`. No per-row columns."""

    name: ClassVar[str] = "error_interval"
    summary: ErrorRateInterval


class ErrorIntervalCheck:
    name: ClassVar[str] = "error_interval"

    def __init__(self, n_bootstrap: int = 200, confidence: float = 0.95):
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence

    def run(self, inputs: CheckInputs) -> Union[ErrorIntervalCheckResult, Skipped]:
        if inputs.multi_label:
            return Skipped(self.name, SkipReason.MULTI_LABEL,
                           "not checked: the error-rate interval is for single-label data")
        lower, upper = label_errors.error_rate_interval(inputs.given, inputs.pred_probs, n_bootstrap=self.n_bootstrap,
                                                        confidence=self.confidence, random_state=inputs.random_state)
        return ErrorIntervalCheckResult(ErrorRateInterval(lower, upper, self.confidence, self.n_bootstrap))
