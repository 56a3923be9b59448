"""``link(left, right, on=...)``: record linkage with a hybrid pair scorer.

Retrieval is LinkTransformer's (Arora & Dell 2023, "LinkTransformer: A Unified Package for Record Linkage with
Transformer Language Models"; clean-room, no code taken): serialise the chosen columns of each row
(:mod:`~labelwise.link.serialise`), embed the texts with a sentence encoder (labelwise's offline int8
all-MiniLM-L6-v2 :class:`~labelwise.features.TextEncoder` by default) and retrieve each left row's ``k`` most
cosine-similar right rows, optionally within exact blocks; the ``k`` nearest by character 3-gram TF-IDF join them
(:func:`~labelwise.link.score.candidate_pairs`). Each candidate gets a match probability from per-column lexical
comparisons and the embedding cosine, combined by Fellegi-Sunter weights fitted by EM without labels
(:mod:`~labelwise.link.score`). With one-to-one linkage (the default when neither table repeats a row) the
probabilities account for competing pairs and the maximum-probability assignment is kept
(:mod:`~labelwise.link.assign`); the threshold maximises the F1 expected from the probabilities
(:mod:`~labelwise.link.expected`), which also give the estimated precision, recall and F1.

Shapes: ``left: (n_left, ...)`` and ``right: (n_right, ...)`` DataFrames; ``pairs: (p, 3)`` with
``left_id, right_id, score`` (score = match probability); ``candidates: (c, 5)`` with ``left_id, right_id, score,
rank, cosine``.
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
from labelwise.link.expected import best_expected_f1, expected_scores
from labelwise.link.fellegi_sunter import competing_probabilities
from labelwise.link.score import candidate_pairs, score_candidates
from labelwise.link.serialise import _text, as_columns, check_columns, column_pairs, find_id_column, row_ids, serialise
from labelwise.link.threshold import ThresholdChoice
from labelwise.progress import ProgressCallback, report

__all__ = ["link", "LinkResult", "default_encoder", "embed_tables", "blocks"]

MAX_REPEATS = 0.05  # one-to-one by default while at most this share of a table's rows repeat another's values


@dataclass
class LinkResult:
    """What :func:`link` found.

    pairs: accepted matches ``left_id, right_id, score`` (match probability), best first per left row. candidates:
    every retrieved pair ``left_id, right_id, score, rank, cosine`` (rank 1 = most probable for that left row;
    cosine of the embeddings), before threshold and one-to-one.
    merged: the left table with the matched right rows' columns (suffix ``_right`` on clashes) and ``score``;
    unmatched left rows keep empty right columns. threshold: the value and how it was chosen. info: what was
    decided (``left_id``/``right_id`` columns used, ``one_to_one`` and why, ``estimate``: an
    :class:`~labelwise.link.expected.Estimate`, ``comparisons``: the fitted weights per level).
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


def embed_tables(encoder, texts: Sequence[Sequence[str]], progress: ProgressCallback | None = None, *,
                 executor: Any = None) -> list[np.ndarray]:
    """Embed several lists of texts in one encoder call; returns one ``(n_i, dim) float32`` array per list.
    executor: runs the call (a :class:`labelwise.scale.executor.Executor`; default: this process)."""
    from labelwise.features.base import embed

    flat = [t for part in texts for t in part]
    if not flat:
        vectors = np.zeros((0, 1), np.float32)
    elif executor is not None:
        vectors = executor.embed(encoder, flat, progress=progress)
    else:
        vectors = embed(encoder, flat, progress)
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


def block_groups(keys: pd.Series) -> list[tuple[Any, np.ndarray]]:
    """The blocks of :func:`blocks`' keys: ``(key, positions)`` pairs, positions ``(m,) int`` ascending, keys in order
    of first appearance; rows whose key is None are in none. One pass (a sort), not one scan of the keys per block."""
    codes, uniques = pd.factorize(keys)  # None -> -1
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return [(key, order[bounds[g]:bounds[g + 1]]) for g, key in enumerate(uniques)]


def default_executor(executor: Any) -> Any:
    """``executor``, or a :class:`labelwise.scale.executor.LocalExecutor` when None."""
    if executor is not None:
        return executor
    from labelwise.scale.executor import LocalExecutor

    return LocalExecutor()


def _check_table(table: Any, side: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"The {side} table must be a pandas DataFrame (got {type(table).__name__}); read files with "
            "labelwise.data.read_table(path)."
        )
    return table


def _candidates(left_cols, right_cols, lv, rv, lkeys, rkeys, k, progress, search) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs by position (``(p,) int`` each), within blocks when the keys are not all equal."""
    right_groups = dict(block_groups(rkeys))
    left_groups = block_groups(lkeys)
    a_all, b_all = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for done, (key, lpos) in enumerate(left_groups, start=1):
        rpos = right_groups.get(key)
        if rpos is None or lpos.size == 0:
            continue
        a, b = candidate_pairs([[col[i] for i in lpos] for col in left_cols],
                               [[col[i] for i in rpos] for col in right_cols],
                               left_vectors=None if lv is None else lv[lpos],
                               right_vectors=None if rv is None else rv[rpos], k=k, search=search)
        a_all.append(lpos[a])
        b_all.append(rpos[b])
        if len(left_groups) > 1:
            report(progress, "searching blocks", done, len(left_groups))
    return np.concatenate(a_all), np.concatenate(b_all)


def _repeats(table: pd.DataFrame, columns: Sequence[str]) -> int:
    """How many rows repeat an earlier row's compared values (after trimming and lower-casing)."""
    texts = pd.DataFrame({c: [_text(v).lower() for v in table[c].tolist()] for c in columns})
    return int(texts.duplicated().sum()) if len(texts) else 0


def _ranks(left: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Rank of each pair among its left row's pairs by score (1 = best), ``(p,) int``."""
    order = np.lexsort((-score, left))
    ranks = np.empty(left.size, dtype=np.int64)
    if left.size:
        first = np.r_[True, left[order][1:] != left[order][:-1]]
        starts = np.maximum.accumulate(np.where(first, np.arange(left.size), 0))
        ranks[order] = np.arange(left.size) - starts + 1
    return ranks


def link(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str | Sequence[str],
    *,
    left_id: str | None = None,
    right_id: str | None = None,
    block_on: str | Sequence[str] | None = None,
    threshold: float | None = None,
    one_to_one: bool | None = None,
    encoder: Any = None,
    k: int = 10,
    progress: ProgressCallback | None = None,
    executor: Any = None,
) -> LinkResult:
    """Find the rows of ``right`` that describe the same entity as rows of ``left``.

    on: the columns to compare, e.g. ``["title", "authors"]`` or ``"title,authors"``; ``"title=name"`` (or a
    ``("title", "name")`` pair) compares the left column ``title`` with the right column ``name``.
    left_id / right_id: id columns (unique); default: the table's ``id`` column (any case) when it has one, else
    row positions 0..n-1. block_on: columns that must be equal (exactly, after trimming) for two rows to be
    compared; rows with a missing blocking value are never matched. threshold: minimum match probability (0..1) of
    an accepted pair; ``None``: the cut that maximises the F1 expected from the probabilities
    (:func:`~labelwise.link.expected.best_expected_f1`). one_to_one: each right row matches at most one left row and
    vice versa; ``None``: one-to-one unless more than ``MAX_REPEATS`` (5%) of either table's rows repeat another
    row's compared values (a few identical rows, such as DBLP's "Editor's Notes", are not duplicates of one entity).
    encoder: anything with ``encode(texts) -> (n, d)``; default :class:`labelwise.features.TextEncoder`; ``False``
    compares without embeddings. k: candidates retrieved per left row by each of embedding and TF-IDF search. progress:
    ``progress(stage, done, total)``. executor: where embedding and the embedding kNN run (a
    :class:`labelwise.scale.executor.Executor`; default ``LocalExecutor()``; ``executor_for("auto")`` for a Ray
    cluster); the pairs do not depend on it.

    Each candidate pair gets a match probability from the hybrid scorer (:func:`~labelwise.link.score.score_candidates`:
    lexical comparisons per column and the embedding cosine, Fellegi-Sunter weights fitted by EM without labels).
    """
    start = time.perf_counter()
    left = _check_table(left, "left")
    right = _check_table(right, "right")
    mapping = column_pairs(on)
    if not mapping:
        raise DataError("on= names no columns: give the columns to compare, e.g. on=['name', 'address'].")
    lcols = [a for a, _ in mapping]
    rcols = [b for _, b in mapping]
    block_columns = as_columns(block_on, "block_on")
    check_columns(left, lcols, "left")
    check_columns(right, rcols, "right")
    for table, side in ((left, "left"), (right, "right")):
        check_columns(table, block_columns, side, what="block_on")
    check_k_and_threshold(k, None)
    if threshold is not None and not (0.0 <= float(threshold) <= 1.0):
        raise DataError(f"threshold is a match probability between 0 and 1; got {threshold!r}.")
    left_id = left_id if left_id is not None else find_id_column(left)[0]
    right_id = right_id if right_id is not None else find_id_column(right)[0]
    lids = row_ids(left, left_id, "left")
    rids = row_ids(right, right_id, "right")
    if one_to_one is None:
        repeats = (_repeats(left, lcols), _repeats(right, rcols))
        one_to_one = repeats[0] <= MAX_REPEATS * len(left) and repeats[1] <= MAX_REPEATS * len(right)
        why = (f"automatic: on, {repeats[0]:,} left and {repeats[1]:,} right rows repeat another row's compared "
               f"values (at most {MAX_REPEATS:.0%} allowed)")
        if not one_to_one:
            why = why.replace("automatic: on", "automatic: off") + "; pass --one-to-one to force it"
    else:
        why = "given"

    executor = default_executor(executor)
    left_cols = [[_text(v) for v in left[c].tolist()] for c in lcols]
    right_cols = [[_text(v) for v in right[c].tolist()] for c in rcols]
    lv = rv = None
    if len(left) and len(right) and encoder is not False:
        if encoder is None:
            encoder = default_encoder()
        right_named = right[rcols].set_axis(lcols, axis=1)  # the encoder sees the same field names on both sides
        lv, rv = embed_tables(encoder, [serialise(left, lcols), serialise(right_named, lcols)], progress,
                              executor=executor)
    report(progress, "searching", 0, 1)
    a, b = _candidates(left_cols, right_cols, lv, rv, blocks(left, block_columns), blocks(right, block_columns),
                       int(k), progress, executor.knn)
    report(progress, "searching", 1, 1)
    report(progress, "scoring pairs", 0, 1)
    scores = score_candidates(left_cols, right_cols, a, b, left_vectors=lv, right_vectors=rv, names=lcols)
    report(progress, "scoring pairs", 1, 1)
    if one_to_one:
        prob = competing_probabilities(a, b, scores.log_odds)
        floor = 0.01 if threshold is None else min(0.01, float(threshold))
        live = np.flatnonzero(prob >= floor)
        assigned = live[assign_one_to_one(a[live], b[live], prob[live])]
    else:
        prob = scores.probability
        assigned = np.arange(a.size)
    total = float(prob.sum())
    if threshold is None:
        estimate = best_expected_f1(prob[assigned], total)
        choice = ThresholdChoice(estimate.threshold, "expected F1", estimate.describe())
    else:
        estimate = expected_scores(prob[assigned], total, float(threshold))
        choice = ThresholdChoice(float(threshold), "given", estimate.describe())
    accepted = assigned[prob[assigned] >= choice.value]
    ranks = _ranks(a, prob)
    accepted = accepted[np.lexsort((ranks[accepted], a[accepted]))]

    cosine = (np.einsum("ij,ij->i", lv[a], rv[b]).astype(np.float64) if lv is not None and a.size
              else np.full(a.size, np.nan))
    pairs = pd.DataFrame({"left_id": lids[a[accepted]], "right_id": rids[b[accepted]],
                          "score": prob[accepted]})
    order = np.lexsort((ranks, a))
    candidates = pd.DataFrame({"left_id": lids[a[order]], "right_id": rids[b[order]], "score": prob[order],
                               "rank": ranks[order], "cosine": cosine[order]})
    acc_frame = pd.DataFrame({"left": a[accepted], "right": b[accepted], "score": prob[accepted]})
    merged = _merge(left, right, acc_frame)
    info = {"n_left": len(left), "n_right": len(right), "n_candidates": int(a.size), "on": mapping,
            "block_on": block_columns, "one_to_one": bool(one_to_one), "one_to_one_reason": why,
            "left_id": left_id, "right_id": right_id, "estimate": estimate, "comparisons": scores.describe(),
            "em_iterations": scores.model.n_iter_, "prior": scores.model.lambda_}
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
