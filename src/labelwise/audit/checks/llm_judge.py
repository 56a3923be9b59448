"""The LLM judge's result: an LLM's second opinion on the worst labels (the judge itself is
:func:`labelwise.audit.llm_judge.judge_audit`, run after the audit because it needs an LLM backend).

Per row: ``llm_judge_score`` (P(the given label fits the text), mean over prompts and models; NaN for rows not
judged) and ``combined_quality`` (rank mean of that score and confident learning's label quality among the judged
rows; low = both think the label is wrong; NaN elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from labelwise.audit.checks.base import CheckResult


@dataclass
class JudgeSummary:
    """rows_judged: how many rows the judge read (the lowest-quality ones); models: the LLMs asked; prompts: how
    many prompts each row was asked with."""

    rows_judged: int
    models: list[str]
    prompts: int


@dataclass
class LLMJudgeCheckResult(CheckResult):
    """Per audited row (n): ``llm_judge_score`` float in [0, 1], ``combined_quality`` float in (0, 1] (both NaN
    where not judged). ``summary``: :class:`JudgeSummary`."""

    name: ClassVar[str] = "llm_judge"
    row_columns: ClassVar[tuple[str, ...]] = ("llm_judge_score", "combined_quality")
    summary: JudgeSummary
    llm_judge_score: np.ndarray
    combined_quality: np.ndarray
