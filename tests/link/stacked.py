"""DBLP-ACM read once for every test that uses it, two linked tables stacked into one de-duplication table with its
true entities, and pairwise scores of a clustering; shared by tests/link/, tests/scale/ and bench/dedupe.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelwise.data import read_table
from labelwise.link.clustering import connected_clusters


def stack(left: pd.DataFrame, right: pd.DataFrame, truth_left, truth_right, prefixes=("l:", "r:")):
    """``(table, entity)``: ``left`` over ``right`` with ids ``prefix + id`` (column ``id``), and each row's true
    entity ``(n,) int`` from the true pairs' ids (``truth_left[i]`` in left matches ``truth_right[i]`` in right)."""
    table = pd.concat([left.assign(id=prefixes[0] + left["id"].astype(str)),
                       right.assign(id=prefixes[1] + right["id"].astype(str))], ignore_index=True)
    pos = {v: k for k, v in enumerate(table["id"])}
    i = [pos[prefixes[0] + str(x)] for x in truth_left]
    j = [pos[prefixes[1] + str(x)] for x in truth_right]
    return table, connected_clusters(len(table), i, j)


def read_dblp_acm(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(dblp, acm, truth)`` from ``folder``: DBLP2.csv (Latin-1), ACM.csv and the perfect mapping, whose columns are
    named ``left_id`` (DBLP) and ``right_id`` (ACM)."""
    dblp = read_table(folder / "DBLP2.csv", encoding="latin-1")
    acm = read_table(folder / "ACM.csv")
    truth = read_table(folder / "DBLP-ACM_perfectMapping.csv")
    truth.columns = ["left_id", "right_id"]
    return dblp, acm, truth


def stacked_dblp_acm(folder: Path):
    """DBLP2.csv (Latin-1) over ACM.csv from ``folder``: 4,910 rows, entities from the perfect mapping."""
    dblp, acm, truth = read_dblp_acm(folder)
    return stack(dblp, acm, truth["left_id"], truth["right_id"], ("dblp:", "acm:"))


def pairwise_scores(cluster: np.ndarray, entity: np.ndarray) -> dict:
    """Pairwise precision, recall, F1 of ``cluster`` against ``entity`` (both ``(n,) int``): every pair of rows in
    one cluster is a predicted pair, every pair in one entity a true pair."""
    pairs = lambda counts: int((counts * (counts - 1) // 2).sum())  # noqa: E731
    tp = pairs(pd.DataFrame({"c": cluster, "e": entity}).groupby(["c", "e"]).size().to_numpy())
    predicted = pairs(np.bincount(cluster))
    true = pairs(np.bincount(entity))
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
