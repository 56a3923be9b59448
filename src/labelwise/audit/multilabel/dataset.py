"""Dataset-level summaries of multi-label label issues, as tables: which classes are most often missing or
spurious, each class's label quality, one health score for the whole dataset.

Mirrors ``cleanlab.multilabel_classification.dataset`` (2.9): the same names, signatures and DataFrames (tested
for equality), so ``from labelwise.audit.multilabel import dataset`` replaces ``from cleanlab.multilabel_classification
import dataset``. The per-class flags come from :func:`labelwise.audit.multilabel.filter.find_multilabel_issues_per_class`
(confident learning one-vs-rest, ``prune_by_noise_rate``); :func:`multilabel_health_summary` computes them once
where cleanlab computes them three times. (pandas tables: this module sits on the workflows floor; the arrays
behind them are :func:`class_issue_counts`.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelwise.audit.multilabel._inputs import indicator_and_probs
from labelwise.audit.multilabel.filter import find_multilabel_issues_per_class
from labelwise.audit.multilabel.structure import class_issue_counts
from labelwise.errors import ParameterError


def common_multilabel_issues(labels=None, pred_probs=None, *, class_names=None, confident_joint=None) -> pd.DataFrame:
    """Two rows per class: how many rows have the class although they probably should not (``In Given Label`` True,
    ``In Suggested Label`` False) and how many lack it although they probably should (False, True), as ``Num
    Examples`` and as ``Issue Probability`` (divided by the number of rows); ``Class Name`` first when
    ``class_names`` are given. Sorted by ``Issue Probability``, largest first.

    labels: List[List[int]] or (n, K) indicator; pred_probs: (n, K) float; confident_joint: (K, 2, 2) or None.
    """
    n = _num_examples(labels, confident_joint)
    issues = _per_class(labels, pred_probs, confident_joint)
    Y, _ = indicator_and_probs(labels, pred_probs)
    return _common_frame(class_issue_counts(Y, issues), n, class_names)


def rank_classes_by_multilabel_quality(labels=None, pred_probs=None, *, class_names=None, joint=None,
                                       confident_joint=None) -> pd.DataFrame:
    """One row per class: ``Label Issues`` (rows that have the class but probably should not), ``Inverse Label
    Issues`` (rows that lack it but probably should not), both as shares of all rows (``Label Noise``, ``Inverse
    Label Noise``), and ``Label Quality Score`` = 1 - Label Noise; worst class first. As in cleanlab, ``joint`` is
    the (K, 2, 2) confident joint the flags are computed with and ``confident_joint`` only gives the row count when
    ``labels`` is None."""
    common = common_multilabel_issues(labels, pred_probs, class_names=class_names, confident_joint=joint)
    return _class_frame(common, _num_examples(labels, confident_joint), class_names)


def overall_multilabel_health_score(labels=None, pred_probs=None, *, confident_joint=None) -> float:
    """1 - the share of rows with any label issue (cleanlab's overall multi-label health score)."""
    n = _num_examples(labels, None)
    return 1.0 - _per_class(labels, pred_probs, confident_joint).any(axis=1).sum() / n


def multilabel_health_summary(labels=None, pred_probs=None, *, class_names=None, num_examples=None,
                              confident_joint=None, verbose: bool = True) -> dict:
    """``{"overall_multilabel_health_score": float, "classes_by_multilabel_quality": DataFrame,
    "common_multilabel_issues": DataFrame}`` (the three functions above, one computation of the flags); with
    ``verbose`` the two tables are printed as plain text."""
    n = _num_examples(labels, None) if num_examples is None else num_examples
    Y, _ = indicator_and_probs(labels, pred_probs)
    plain = _per_class(labels, pred_probs, None)
    given_joint = plain if confident_joint is None else _per_class(labels, pred_probs, confident_joint)
    by_class = _class_frame(_common_frame(class_issue_counts(Y, plain), _num_examples(labels, None), class_names),
                            _num_examples(labels, confident_joint), class_names)
    common = _common_frame(class_issue_counts(Y, given_joint), _num_examples(labels, confident_joint), class_names)
    health = 1.0 - given_joint.any(axis=1).sum() / _num_examples(labels, None)
    if verbose:
        print(f"Multi-label health summary of {n:,} examples\n\nClasses by label quality\n{by_class.to_string()}\n\n"
              f"Common multi-label issues\n{common.to_string()}\n\nOverall health score: {health:.4f}")
    return {"overall_multilabel_health_score": health, "classes_by_multilabel_quality": by_class,
            "common_multilabel_issues": common}


# ---- tables ---------------------------------------------------------------------------------------------------


def _num_examples(labels, confident_joint) -> int:
    if labels is None and confident_joint is None:
        raise ParameterError("Give labels (or a confident_joint) so that the number of examples is known.")
    return len(labels) if labels is not None else int(np.sum(np.asarray(confident_joint)[0]))


def _per_class(labels, pred_probs, confident_joint) -> np.ndarray:
    if labels is None or pred_probs is None:
        raise ParameterError("Give both labels and pred_probs.")
    return find_multilabel_issues_per_class(labels, pred_probs, confident_joint=confident_joint)


def _common_frame(counts, n: int, class_names) -> pd.DataFrame:
    """counts: :class:`ClassIssueCounts`; two rows per class, spurious then missing, sorted as cleanlab sorts."""
    k = counts.spurious.shape[0]
    columns = {}
    if class_names is not None:
        columns["Class Name"] = [class_names[c] for c in range(k) for _ in (0, 1)]
    columns["Class Index"] = np.repeat(np.arange(k), 2)
    columns["In Given Label"] = np.tile([True, False], k)
    columns["In Suggested Label"] = np.tile([False, True], k)
    found = np.stack([counts.spurious, counts.missing], axis=1).ravel()
    columns["Num Examples"] = found
    columns["Issue Probability"] = found / n
    frame = pd.DataFrame(columns)
    return frame.sort_values(by=["Issue Probability"], ascending=False).reset_index(drop=True)


def _class_frame(common: pd.DataFrame, n: int, class_names) -> pd.DataFrame:
    """cleanlab's per-class table, rows in the order the classes first appear in ``common``."""
    order = list(dict.fromkeys(common["Class Index"].tolist()))
    spurious = common[common["In Given Label"]].set_index("Class Index")["Issue Probability"]
    missing = common[~common["In Given Label"]].set_index("Class Index")["Issue Probability"]
    columns = {"Class Index": order}
    if class_names is not None:
        columns["Class Name"] = [class_names[c] for c in order]
    columns["Label Issues"] = [int(spurious[c] * n) for c in order]
    columns["Inverse Label Issues"] = [int(missing[c] * n) for c in order]
    columns["Label Noise"] = [spurious[c] for c in order]
    columns["Inverse Label Noise"] = [missing[c] for c in order]
    columns["Label Quality Score"] = [1 - spurious[c] for c in order]
    names = [c for c in ("Class Name", "Class Index", "Label Issues", "Inverse Label Issues", "Label Noise",
                         "Inverse Label Noise", "Label Quality Score") if c in columns]
    frame = pd.DataFrame(columns)
    return frame.sort_values(by="Label Quality Score", ascending=True).reset_index(drop=True)[names]


__all__ = ["common_multilabel_issues", "rank_classes_by_multilabel_quality", "overall_multilabel_health_score",
           "multilabel_health_summary"]
