"""``link(left, right, on=...)``: record linkage as embedding retrieval.

The method is LinkTransformer's (Arora & Dell 2023, "LinkTransformer: A Unified Package for Record Linkage with
Transformer Language Models"; clean-room, no code taken): serialise the chosen columns of each row
(:mod:`~labelwise.link.serialise`), embed the texts with a sentence encoder (labelwise's offline int8
all-MiniLM-L6-v2 :class:`~labelwise.features.TextEncoder` by default; rows come out L2-normalised), retrieve each
left row's ``k`` most cosine-similar right rows (:func:`labelwise.neighbours.knn`), optionally within exact blocks, and
keep the pairs scoring above a threshold (:mod:`~labelwise.link.threshold`; chosen from the scores when not given),
optionally one-to-one (:mod:`~labelwise.link.assign`).

Shapes: ``left: (n_left, ...)`` and ``right: (n_right, ...)`` DataFrames; ``pairs: (p, 3)`` with
``left_id, right_id, score``; ``candidates: (<= n_left * k, 4)`` with ``left_id, right_id, score, rank``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelwise.errors import DataError
from labelwise.link.assign import one_to_one as assign_one_to_one
from labelwise.link.serialise import _text, as_columns, check_columns, row_ids, serialise
from labelwise.link.threshold import ThresholdChoice, unsupervised_threshold
from labelwise.neighbours import knn
from labelwise.progress import ProgressCallback, report

__all__ = ["link", "LinkResult", "default_encoder", "embed_tables", "blocks"]


@dataclass
class LinkResult:
    """What :func:`link` found.

    pairs: accepted matches ``left_id, right_id, score``, best first per left row. candidates: every retrieved pair
    ``left_id, right_id, score, rank`` (rank 1 = best for that left row), before threshold and one-to-one.
    merged: the left table with the matched right rows' columns (suffix ``_right`` on clashes) and ``score``;
    unmatched left rows keep empty right columns. threshold: the value and how it was chosen.
    """

    pairs: pd.DataFrame
    candidates: pd.DataFrame
    merged: pd.DataFrame
    threshold: ThresholdChoice
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.pairs

    def save(self, directory: str | Path) -> Path:
        """Write ``pairs.csv``, ``candidates.csv`` and ``merged.csv`` (atomically) into ``directory``."""
        from labelwise.data.io import write_table_atomic

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("pairs", "candidates", "merged"):
            write_table_atomic(getattr(self, name), out / f"{name}.csv")
        return out

    def __repr__(self) -> str:
        n_left = self.info.get("n_left", "?")
        return (
            f"LinkResult({len(self.pairs):,} pairs from {n_left} left rows, threshold {self.threshold.describe()}, "
            f"{self.seconds:.1f}s)"
        )


def check_k_and_threshold(k, threshold) -> None:
    """Refuse a ``k`` that is not a positive integer and a ``threshold`` that is not a cosine in [-1, 1] (or None)."""
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise DataError(f"k must be a positive integer, got {k!r}.")
    if threshold is not None and not (-1.0 <= float(threshold) <= 1.0):  # NaN fails too
        raise DataError(f"threshold is a cosine similarity between -1 and 1; got {threshold!r}.")


def default_encoder():
    """labelwise's offline sentence encoder (int8 all-MiniLM-L6-v2, cached on disk)."""
    from labelwise.features import TextEncoder

    return TextEncoder()


def embed_tables(encoder, texts: Sequence[Sequence[str]], progress: ProgressCallback | None = None) -> list[np.ndarray]:
    """Embed several lists of texts in one encoder call; returns one ``(n_i, dim) float32`` array per list."""
    from labelwise.features.base import embed

    flat = [t for part in texts for t in part]
    vectors = embed(encoder, flat, progress) if flat else np.zeros((0, 1), np.float32)
    out, start = [], 0
    for part in texts:
        out.append(vectors[start : start + len(part)])
        start += len(part)
    return out


def blocks(table: pd.DataFrame, block_on: Sequence[str]) -> pd.Series:
    """Each row's block key (a string; None where any blocking field is missing) ``(n,) object``."""
    if not block_on:
        return pd.Series(["" for _ in range(len(table))], index=table.index, dtype=object)
    parts = [[_text(v) for v in table[c].tolist()] for c in block_on]
    keys = ["\x1f".join(vals) if all(vals) else None for vals in zip(*parts)]
    return pd.Series(keys, index=table.index, dtype=object)


def _check_table(table: Any, side: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"The {side} table must be a pandas DataFrame (got {type(table).__name__}); read files with "
            "labelwise.data.read_table(path)."
        )
    return table


def _retrieve(lv, rv, lkeys, rkeys, k, progress) -> pd.DataFrame:
    """Candidate pairs by position: ``left, right, score, rank`` (within blocks when keys are not all equal)."""
    frames = []
    right_groups = {key: np.flatnonzero((rkeys == key).to_numpy()) for key in pd.unique(rkeys.dropna())}
    left_groups = [(key, np.flatnonzero((lkeys == key).to_numpy())) for key in pd.unique(lkeys.dropna())]
    total = len(left_groups)
    for done, (key, lpos) in enumerate(left_groups, start=1):
        rpos = right_groups.get(key)
        if rpos is None or lpos.size == 0:
            continue
        idx, sim = knn(rv[rpos], min(k, rpos.size), query=lv[lpos])
        valid = idx >= 0
        rows = np.repeat(lpos, idx.shape[1]).reshape(idx.shape)
        ranks = np.broadcast_to(np.arange(1, idx.shape[1] + 1), idx.shape)
        frames.append(
            pd.DataFrame(
                {
                    "left": rows[valid],
                    "right": rpos[idx[valid]],
                    "score": np.clip(sim[valid].astype(np.float64), -1.0, 1.0),  # float error can give 1.0000001
                    "rank": ranks[valid],
                }
            )
        )
        if total > 1:
            report(progress, "searching blocks", done, total)
    if not frames:
        return pd.DataFrame({"left": [], "right": [], "score": [], "rank": []}).astype(
            {"left": np.int64, "right": np.int64, "score": np.float64, "rank": np.int64}
        )
    return pd.concat(frames, ignore_index=True)


def link(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str | Sequence[str],
    *,
    left_id: str | None = None,
    right_id: str | None = None,
    block_on: str | Sequence[str] | None = None,
    threshold: float | None = None,
    one_to_one: bool = False,
    encoder: Any = None,
    k: int = 10,
    progress: ProgressCallback | None = None,
) -> LinkResult:
    """Find the rows of ``right`` that describe the same entity as rows of ``left``.

    on: the columns to compare (both tables need them), e.g. ``["title", "authors"]`` or ``"title,authors"``.
    left_id / right_id: id columns (unique); default: row positions 0..n-1. block_on: columns that must be equal
    (exactly, after trimming) for two rows to be compared; rows with a missing blocking value are never matched.
    threshold: minimum cosine score of a match; ``None``: chosen from the scores without labels
    (:func:`~labelwise.link.threshold.unsupervised_threshold`). one_to_one: each right row matches at most one left
    row and vice versa (maximum-score assignment). encoder: anything with ``encode(texts) -> (n, d)``; default
    :class:`labelwise.features.TextEncoder`. k: candidates retrieved per left row. progress: ``progress(stage, done,
    total)``.
    """
    start = time.perf_counter()
    left = _check_table(left, "left")
    right = _check_table(right, "right")
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the columns to compare, e.g. on=['name', 'address'].")
    block_columns = as_columns(block_on, "block_on")
    for table, side in ((left, "left"), (right, "right")):
        check_columns(table, columns, side)
        check_columns(table, block_columns, side, what="block_on")
    check_k_and_threshold(k, threshold)
    lids = row_ids(left, left_id, "left")
    rids = row_ids(right, right_id, "right")

    if len(left) and len(right):
        if encoder is None:
            encoder = default_encoder()
        lv, rv = embed_tables(encoder, [serialise(left, columns), serialise(right, columns)], progress)
        report(progress, "searching", 0, 1)
        cand = _retrieve(lv, rv, blocks(left, block_columns), blocks(right, block_columns), int(k), progress)
        report(progress, "searching", 1, 1)
    else:
        cand = _retrieve(np.zeros((0, 1)), np.zeros((0, 1)), pd.Series([], dtype=object), pd.Series([], dtype=object), 1, None)

    if threshold is not None:
        choice = ThresholdChoice(float(threshold), "given")
    else:
        top1 = cand.loc[cand["rank"] == 1, "score"].to_numpy()
        top2 = cand.loc[cand["rank"] == 2, "score"].to_numpy()
        choice = unsupervised_threshold(top1, top2)
    accepted = cand[cand["score"] >= choice.value]
    if one_to_one:
        accepted = accepted[assign_one_to_one(accepted["left"], accepted["right"], accepted["score"])]
    accepted = accepted.sort_values(["left", "rank"], kind="stable")

    pairs = pd.DataFrame(
        {
            "left_id": lids[accepted["left"].to_numpy(dtype=np.int64)],
            "right_id": rids[accepted["right"].to_numpy(dtype=np.int64)],
            "score": accepted["score"].to_numpy(dtype=np.float64),
        }
    )
    candidates = pd.DataFrame(
        {
            "left_id": lids[cand["left"].to_numpy(dtype=np.int64)],
            "right_id": rids[cand["right"].to_numpy(dtype=np.int64)],
            "score": cand["score"].to_numpy(dtype=np.float64),
            "rank": cand["rank"].to_numpy(dtype=np.int64),
        }
    )
    merged = _merge(left, right, accepted)
    info = {"n_left": len(left), "n_right": len(right), "n_candidates": len(cand), "on": columns,
            "block_on": block_columns, "one_to_one": bool(one_to_one)}
    return LinkResult(pairs, candidates, merged, choice, time.perf_counter() - start, info)


def _merge(left: pd.DataFrame, right: pd.DataFrame, accepted: pd.DataFrame) -> pd.DataFrame:
    """Left rows (all of them, in order; repeated when a row has several matches) with their matches' columns."""
    lpos = np.arange(len(left))
    match = pd.DataFrame({"_left": accepted["left"].to_numpy(dtype=np.int64),
                          "_right": accepted["right"].to_numpy(dtype=np.int64),
                          "score": accepted["score"].to_numpy(dtype=np.float64)})
    base = pd.DataFrame({"_left": lpos}).merge(match, on="_left", how="left")
    out_left = left.reset_index(drop=True).iloc[base["_left"].to_numpy()].reset_index(drop=True)
    has = base["_right"].notna().to_numpy()
    right_part = right.reset_index(drop=True)
    rename = {c: (f"{c}_right" if c in left.columns or c == "score" else c) for c in right_part.columns}
    if len(right_part) == 0:
        right_rows = pd.DataFrame({c: [None] * len(base) for c in right_part.columns})
    else:
        right_rows = right_part.iloc[base["_right"].fillna(0).astype(np.int64).to_numpy()].reset_index(drop=True)
    right_rows = right_rows.rename(columns=rename)
    if len(right_rows):
        right_rows = right_rows.astype(object)
        right_rows.loc[~has, :] = None
    merged = pd.concat([out_left, right_rows], axis=1) if len(right_part.columns) else out_left
    merged["score"] = base["score"].to_numpy()
    return merged
