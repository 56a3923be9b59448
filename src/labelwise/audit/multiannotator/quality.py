"""cleanlab 2.9's ``multiannotator`` functions with its signatures and pandas results: change the import and the
tables stay the same (tested to 1e-9). The computations are the array functions of
:mod:`~labelwise.audit.multiannotator.crowdlab`, :mod:`~labelwise.audit.multiannotator.majority_vote` and
:mod:`~labelwise.audit.multiannotator.activelab`; this module converts tables in and builds tables out.

labels_multiannotator: a (n, m) DataFrame (columns = annotator ids, NaN or pd.NA where missing) or array;
pred_probs: (n, K) float, out of sample.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from labelwise.audit.multiannotator import activelab, crowdlab
from labelwise.audit.multiannotator._inputs import as_label_matrix, as_probs, check_labels
from labelwise.audit.multiannotator.majority_vote import majority_vote_label
from labelwise.errors import DataError, ParameterError


def _matrix(labels_multiannotator) -> tuple[np.ndarray, Optional[pd.Index], Optional[pd.Index]]:
    """(labels (n, m) float with NaN, annotator ids or None, row index or None)."""
    if isinstance(labels_multiannotator, pd.DataFrame):
        frame = labels_multiannotator
        try:
            values = frame.astype(object).where(frame.notna(), np.nan).to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError("labels_multiannotator holds values that are not class indices (strings?); convert "
                                 "them with format_multiannotator_labels(labels) first.") from None
        return as_label_matrix(values), frame.columns, frame.index
    if isinstance(labels_multiannotator, np.ndarray):
        return as_label_matrix(labels_multiannotator), None, None
    raise ParameterError("labels_multiannotator must be a NumPy array or a pandas DataFrame; got "
                         f"{type(labels_multiannotator).__name__}.")


def get_label_quality_multiannotator(
    labels_multiannotator: Union[pd.DataFrame, np.ndarray],
    pred_probs: np.ndarray,
    *,
    consensus_method: Union[str, list] = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    return_weights: bool = False,
    verbose: bool = True,
    label_quality_score_kwargs: Optional[dict] = None,
) -> dict[str, Any]:
    """Consensus labels, their quality, and each annotator's quality (CROWDLAB; cleanlab's function and results).

    Returns a dict: ``label_quality`` (DataFrame, one row per example: consensus_label int64,
    consensus_quality_score, annotator_agreement, num_annotations int64, then ``consensus_label_<method>``,
    ``consensus_quality_score_<method>``, ``annotator_agreement_<method>`` for each further consensus method);
    ``detailed_label_quality`` (``quality_annotator_<id>`` per annotator, NaN where no label) if asked;
    ``annotator_stats`` (index = annotator ids, sorted by quality then agreement: annotator_quality,
    agreement_with_consensus, worst_class int64, num_examples_labeled int64) if asked; ``model_weight`` (float) and
    ``annotator_weight`` ((m,) float) with ``return_weights`` (crowdlab only).

    verbose is accepted and ignored (nothing is printed). Two deliberate differences from cleanlab: the
    annotator quality always uses ``label_quality_score_kwargs`` (cleanlab drops them when
    ``return_detailed_quality=False``), and with several consensus methods the weights returned are the main
    method's (cleanlab returns the last method's). Majority-vote ties left after every tie-break are drawn with a
    fixed seed (cleanlab uses NumPy's global random state).
    """
    labels, annotator_ids, index = _matrix(labels_multiannotator)
    if return_weights and quality_method != "crowdlab":
        raise ParameterError("return_weights needs quality_method='crowdlab' (the weights are CROWDLAB's); set "
                             "return_weights=False or quality_method='crowdlab'.")
    result = crowdlab.label_quality_multiannotator(
        labels, pred_probs, consensus_method=consensus_method, quality_method=quality_method,
        calibrate_probs=calibrate_probs, return_detailed_quality=return_detailed_quality,
        return_annotator_stats=return_annotator_stats, label_quality_score_kwargs=label_quality_score_kwargs,
        annotator_ids=annotator_ids)
    main = result.consensus
    label_quality = pd.DataFrame({"consensus_label": main.label, "consensus_quality_score": main.quality_score,
                                  "annotator_agreement": main.agreement, "num_annotations": result.num_annotations},
                                 index=index)
    for name, stats in result.others.items():
        label_quality[f"consensus_label_{name}"] = stats.label
        label_quality[f"consensus_quality_score_{name}"] = stats.quality_score
        label_quality[f"annotator_agreement_{name}"] = stats.agreement
    info: dict[str, Any] = {"label_quality": label_quality}
    if return_detailed_quality:
        info["detailed_label_quality"] = pd.DataFrame(result.detailed_label_quality, index=index,
                                                      columns=annotator_ids).add_prefix("quality_annotator_")
    if return_annotator_stats:
        stats = pd.DataFrame({"annotator_quality": result.annotator_quality,
                              "agreement_with_consensus": result.agreement_with_consensus,
                              "worst_class": result.worst_class,
                              "num_examples_labeled": result.num_examples_labeled}, index=annotator_ids)
        info["annotator_stats"] = stats.sort_values(by=["annotator_quality", "agreement_with_consensus"])
    if return_weights:
        info["model_weight"] = main.model_weight
        info["annotator_weight"] = main.annotator_weight
    return info


def get_majority_vote_label(labels_multiannotator: Union[pd.DataFrame, np.ndarray],
                            pred_probs: Optional[np.ndarray] = None, verbose: bool = True) -> np.ndarray:
    """(n,) int64 majority vote per example, ties broken as cleanlab breaks them
    (:func:`labelwise.audit.multiannotator.majority_vote.majority_vote_label`). With ``verbose`` (cleanlab's
    default) the inputs are checked as for :func:`get_label_quality_multiannotator`; nothing is printed."""
    labels, annotator_ids, _ = _matrix(labels_multiannotator)
    probs = None if pred_probs is None else as_probs(pred_probs)
    if verbose:
        check_labels(labels, probs, annotator_ids=annotator_ids)
    return majority_vote_label(labels, probs)


def get_active_learning_scores(labels_multiannotator: Optional[Union[pd.DataFrame, np.ndarray]] = None,
                               pred_probs: Optional[np.ndarray] = None,
                               pred_probs_unlabeled: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """ActiveLab scores (labeled (n,), unlabeled (u,)); lower = label next. See
    :func:`labelwise.audit.multiannotator.activelab.active_learning_scores` (arrays only)."""
    labels, annotator_ids = None, None
    if labels_multiannotator is not None:
        labels, annotator_ids, _ = _matrix(labels_multiannotator)
    return activelab.active_learning_scores(labels, pred_probs, pred_probs_unlabeled, annotator_ids=annotator_ids)


def convert_long_to_wide_dataset(labels_multiannotator_long: pd.DataFrame) -> pd.DataFrame:
    """A long table (columns ``task``, ``annotator``, ``label``: one row per given label) -> the wide table
    (index = task, one column per annotator, NaN where missing) the other functions take."""
    missing = [c for c in ("task", "annotator", "label") if c not in labels_multiannotator_long.columns]
    if missing:
        raise DataError(f"the long table has no column {', '.join(missing)}; it needs task, annotator and label.")
    doubled = labels_multiannotator_long.duplicated(["task", "annotator"])
    if doubled.any():
        row = labels_multiannotator_long[doubled].iloc[0]
        raise DataError(f"annotator {row['annotator']!r} labelled task {row['task']!r} more than once; keep one label "
                        "per (task, annotator).")
    wide = labels_multiannotator_long.pivot(index="task", columns="annotator", values="label")
    wide.index.name = None
    wide.columns.name = None
    return wide


def format_multiannotator_labels(labels) -> tuple[pd.DataFrame, dict]:
    """Any labels (strings, numbers; NaN / None / pd.NA where missing) in an (n, m) DataFrame or array -> (the same
    table with classes 0..K-1 in sorted order of the original labels, {k: original label})."""
    if isinstance(labels, pd.DataFrame):
        frame = labels
    elif isinstance(labels, np.ndarray):
        frame = pd.DataFrame(labels)
    else:
        raise ParameterError(f"labels must be a 2-D NumPy array or a pandas DataFrame; got {type(labels).__name__}.")
    values = frame.to_numpy().ravel()
    missing = np.array([pd.isna(v) or (isinstance(v, str) and v == "nan") for v in values], dtype=bool)

    def key(value):  # 3.0 and 3 are the same class
        return int(value) if isinstance(value, (float, np.floating)) and float(value).is_integer() else value

    try:
        classes = sorted({key(v) for v in values[~missing]})
    except TypeError:
        raise ParameterError("labels mix types that do not sort together (e.g. numbers and strings); give one "
                             "type of label.") from None
    mapping = {c: i for i, c in enumerate(classes)}
    codes = np.array([np.nan if gone else mapping[key(v)] for v, gone in zip(values, missing)], dtype=np.float64)
    codes = codes.reshape(frame.shape)
    formatted = pd.DataFrame(codes if missing.any() else codes.astype(np.int64), index=frame.index,
                             columns=frame.columns)
    return formatted, {i: c for c, i in mapping.items()}
