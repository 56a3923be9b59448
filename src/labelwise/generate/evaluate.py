"""How well labels made without the truth recover it: for judging an induced taxonomy against known classes.

A taxonomy made by an LLM or by clustering has its own names and its own granularity, so accuracy does not apply.
Three figures that need no name matching:

- adjusted mutual information (AMI) between predicted and true labels (0: chance, 1: the same partition up to
  renaming);
- the share of true classes *matched* by some predicted label: class i and label g match when each is the other's
  best partner by Jaccard overlap of their rows (mutual best match; a coarse label can match at most one class);
- the accuracy after mapping each predicted label to its majority true class (purity).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from labelwise.errors import ParameterError


def contingency(true: Sequence, predicted: Sequence) -> tuple:
    """(table (n_true_classes, n_predicted_labels) int, true classes, predicted labels)."""
    t_names, t = np.unique(np.asarray([str(v) for v in true]), return_inverse=True)
    p_names, p = np.unique(np.asarray([str(v) for v in predicted]), return_inverse=True)
    table = np.zeros((len(t_names), len(p_names)), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table, list(t_names), list(p_names)


def mutual_best_matches(table: np.ndarray) -> list:
    """Pairs (true index, predicted index) that are each other's best partner by Jaccard overlap."""
    table = np.asarray(table, dtype=np.float64)
    union = table.sum(axis=1, keepdims=True) + table.sum(axis=0, keepdims=True) - table
    jaccard = np.divide(table, union, out=np.zeros_like(table), where=union > 0)
    best_pred = jaccard.argmax(axis=1)
    best_true = jaccard.argmax(axis=0)
    return [(i, int(g)) for i, g in enumerate(best_pred) if jaccard[i, g] > 0 and best_true[g] == i]


def taxonomy_alignment(true: Sequence, predicted: Sequence) -> dict:
    """AMI, matched share of true classes, purity, and the sizes, for n predicted labels against n true ones."""
    from sklearn.metrics import adjusted_mutual_info_score

    if len(true) != len(predicted):
        raise ParameterError(f"{len(true)} true labels but {len(predicted)} predicted")
    table, t_names, p_names = contingency(true, predicted)
    matches = mutual_best_matches(table)
    return {"rows": int(table.sum()), "true_classes": len(t_names), "predicted_labels": len(p_names),
            "ami": float(adjusted_mutual_info_score([str(v) for v in true], [str(v) for v in predicted])),
            "matched_share": len(matches) / max(len(t_names), 1),
            "matched": sorted((t_names[i], p_names[g]) for i, g in matches),
            "purity": float(table.max(axis=0).sum() / max(table.sum(), 1))}
