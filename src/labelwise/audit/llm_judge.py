"""An LLM judge of given labels, as a second opinion next to confident learning.

Seed paper: "Are LLMs Better than Reported? Detecting Label Errors and Mitigating Their Effect on Model
Performance" (2024): an ensemble of LLM prompts asked whether a given label fits its text flags label errors, and
agreeing with it matters more than any single prompt. Here every prompt asks a yes/no question about the (text,
given label) pair and is answered by scoring " Yes" against " No" (never by parsing free text): P(yes) per row
and prompt, normalised over the two answers. The judge's score is the mean P(yes) over prompts (and over
backends, when several models are given): shape (n,), high = the label looks right.

:func:`combine_with_confident_learning` averages the percentile ranks of the judge's score and of confident
learning's label-quality score, so neither scale dominates: shape (n,), low = probably wrong.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from scipy.stats import rankdata

from labelwise.audit.checks.llm_judge import JudgeSummary, LLMJudgeCheckResult
from labelwise.errors import ParameterError
from labelwise.llm.backend import Backend
from labelwise.llm.scoring import label_log_likelihoods

PROMPTS = (
    "Text: {text}\nProposed label: {label}\nIs the proposed label correct for this text? Answer Yes or No.\nAnswer:",
    "Here is a message and the category an annotator chose for it.\nMessage: {text}\nCategory: {label}\n"
    "Does the category describe the message? Answer:",
    "Label checking. The labels come from this set: {labels}.\nText: {text}\nGiven label: {label}\n"
    "Is the given label the right one from the set? Answer:",
)


def _clean(text, limit: int = 600) -> str:
    return " ".join(str(text).split())[:limit]


def judge_labels(texts: Sequence[str], given: Sequence[str], *, backends: Sequence[Backend],
                 classes: Optional[Sequence[str]] = None, prompts: Sequence[str] = PROMPTS,
                 progress: Optional[Callable[[str, int, int], None]] = None) -> np.ndarray:
    """(n,) mean P(yes) over prompts and backends that ``given[i]`` is the right label for ``texts[i]``."""
    if len(texts) != len(given):
        raise ParameterError(f"texts ({len(texts)}) and given labels ({len(given)}) must have the same length.")
    label_list = ", ".join(classes) if classes is not None else ""
    total = len(texts) * len(prompts) * len(backends)
    votes = np.zeros(len(texts))
    done = 0
    for backend in backends:
        for template in prompts:
            for i, (text, label) in enumerate(zip(texts, given)):
                prompt = template.format(text=_clean(text), label=label, labels=label_list)
                yes, no = label_log_likelihoods(backend, prompt, ["Yes", "No"])
                votes[i] += 1.0 / (1.0 + np.exp(no - yes))
                done += 1
                if progress is not None:
                    progress("LLM judge", done, total)
    return votes / (len(prompts) * len(backends))


def combine_with_confident_learning(label_quality: np.ndarray, judge_yes: np.ndarray) -> np.ndarray:
    """(n,) mean of the two scores' percentile ranks in (0, 1]; low = both think the label is wrong."""
    q = np.asarray(label_quality, dtype=np.float64)
    j = np.asarray(judge_yes, dtype=np.float64)
    if q.shape != j.shape:
        raise ParameterError(f"label_quality {q.shape} and judge scores {j.shape} must have the same shape.")
    return (rankdata(q) + rankdata(j)) / (2 * len(q))


def judge_audit(result, backends: Sequence[Backend], *, rows: Optional[int] = 200,
                progress: Optional[Callable[[str, int, int], None]] = None) -> LLMJudgeCheckResult:
    """Ask the judge about the ``rows`` lowest-quality rows of an audit (all rows: ``rows=None``) and attach the
    answers as ``result.checks.llm_judge`` (:class:`~labelwise.audit.checks.LLMJudgeCheckResult`): per audited row,
    ``llm_judge_score`` (P(label fits), NaN where not judged) and ``combined_quality`` (rank mean with confident
    learning among the judged rows, NaN elsewhere). Needs the audit's texts. Returns that result.
    """
    if result.texts is None:
        raise ParameterError("The LLM judge reads the text of each row: audit with --text.")
    if result.multi_label:
        raise ParameterError("The LLM judge checks single labels; this audit is multi-label.")
    order = np.argsort(result.label_quality, kind="stable")
    chosen = order if rows is None else order[:rows]
    given = [result.classes[c] for c in result.given[chosen]]
    yes = judge_labels([result.texts[i] for i in chosen], given, backends=backends, classes=result.classes,
                       progress=progress)
    n = len(result.label_quality)
    yes_full, combined_full = np.full(n, np.nan), np.full(n, np.nan)
    yes_full[chosen] = yes
    combined_full[chosen] = combine_with_confident_learning(result.label_quality[chosen], yes)
    judged = LLMJudgeCheckResult(JudgeSummary(int(len(chosen)), [b.model for b in backends], len(PROMPTS)),
                                 llm_judge_score=yes_full, combined_quality=combined_full)
    result.checks.add(judged)
    return judged
