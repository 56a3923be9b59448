"""Product attribute values, multi-label and zero-shot (HyperPAVE, Gong & Eldardiry, WWW 2024; seed paper 30).

:func:`extract_attribute_values` labels the rows without known attribute values from the rows with them: every
``"attr: value"`` of the schema's ``attributes`` is a label node whose features come from its text ("attr is
value"), so values no row has yet are scored too (zero-shot); rows co-viewed or co-bought together (``groups``)
form hyperedges. The model is :class:`labelwise.learn.hypergraph.HypergraphLinkTagger`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from labelwise.data.atomic import write_bytes_atomic, write_text_atomic
from labelwise.data.extraction_schema import FRAME_COLUMNS
from labelwise.data.formula import neutralise_frame
from labelwise.errors import DataError, ParameterError
from labelwise.progress import ProgressCallback, report

__all__ = ["AttributeValueResult", "extract_attribute_values"]

_HELD_OUT = 0.2  # share of the known rows kept out to tune the threshold
_MIN_HELD_OUT = 5  # fewer known rows than this: no tuning, threshold 0.5


@dataclass
class AttributeValueResult:
    """texts: ``(n,)`` the rows' texts; labels: ``(m,)`` (attribute, value) pairs; confidence: ``(n, m) float`` in
    [0, 1] (the link probability); predicted: ``(n,) bool`` rows without known labels (the ones labelled);
    selected: ``(n, m) bool`` the values extracted (only on predicted rows); zero_shot: ``(m,) bool`` values no
    known row had; threshold: the confidence cut used (None with ``top_k`` alone)."""

    texts: list
    labels: list
    confidence: np.ndarray
    predicted: np.ndarray
    selected: np.ndarray
    zero_shot: np.ndarray
    threshold: Optional[float] = None
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One line per extracted value (columns ``row, kind, name, value, start, end, confidence, source``), by row,
        most confident first; ``start``/``end`` are the first whole-word, case-insensitive occurrence of the value in
        the row's text, else <NA>."""
        rows, cols = np.nonzero(self.selected)
        order = np.lexsort((-self.confidence[rows, cols], rows))
        rows, cols = rows[order], cols[order]
        starts, ends = [], []
        for r, c in zip(rows, cols):
            found = re.search(rf"(?<!\w){re.escape(self.labels[c][1])}(?!\w)", self.texts[r], flags=re.IGNORECASE)
            starts.append(found.start() if found else pd.NA)
            ends.append(found.end() if found else pd.NA)
        return pd.DataFrame({
            "row": rows.astype(np.int64),
            "kind": "attribute",
            "name": [self.labels[c][0] for c in cols],
            "value": [self.labels[c][1] for c in cols],
            "start": pd.array(starts, dtype="Int64"),
            "end": pd.array(ends, dtype="Int64"),
            "confidence": self.confidence[rows, cols].astype(float),
            "source": "hypergraph",
        }, columns=FRAME_COLUMNS)

    def summary(self) -> dict:
        return {"rows": len(self.texts), "rows_predicted": int(self.predicted.sum()), "values": len(self.labels),
                "zero_shot_values": [f"{a}: {v}" for (a, v), z in zip(self.labels, self.zero_shot) if z],
                "values_extracted": int(self.selected.sum()), "threshold": self.threshold, **self.settings}

    def __repr__(self) -> str:
        return (f"AttributeValueResult({len(self.texts):,} rows, {int(self.predicted.sum()):,} predicted, "
                f"{int(self.selected.sum()):,} values extracted, {int(self.zero_shot.sum())} zero-shot values)")

    def save(self, directory) -> Path:
        """``attribute_values.csv`` (:meth:`to_frame`), ``summary.json``, and ``attribute_values.npz`` +
        ``attribute_values.json`` (read by :meth:`load`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / "attribute_values.csv", neutralise_frame(self.to_frame()).to_csv(index=False))
        write_text_atomic(directory / "summary.json", json.dumps(self.summary(), indent=2) + "\n")
        import io

        buffer = io.BytesIO()
        np.savez(buffer, confidence=self.confidence, predicted=self.predicted, selected=self.selected,
                 zero_shot=self.zero_shot)
        write_bytes_atomic(directory / "attribute_values.npz", buffer.getvalue())
        meta = {"texts": list(self.texts), "labels": [list(x) for x in self.labels], "threshold": self.threshold,
                "settings": self.settings}
        write_text_atomic(directory / "attribute_values.json", json.dumps(meta) + "\n")
        return directory

    @classmethod
    def load(cls, directory) -> "AttributeValueResult":
        """The result :meth:`save` wrote into ``directory``."""
        directory = Path(directory)
        arrays, meta = directory / "attribute_values.npz", directory / "attribute_values.json"
        if not arrays.is_file() or not meta.is_file():
            raise DataError(f"{directory} has no attribute_values.npz / attribute_values.json: give the folder that "
                            "AttributeValueResult.save wrote.")
        try:
            with np.load(arrays, allow_pickle=False) as npz:
                data = {k: npz[k] for k in ("confidence", "predicted", "selected", "zero_shot")}
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{directory}: the saved attribute values are damaged ({exc}); run the extraction again.")
        return cls(info["texts"], [tuple(x) for x in info["labels"]], threshold=info["threshold"],
                   settings=info["settings"], **data)


def extract_attribute_values(texts: Sequence[str], known: Sequence[Any], attributes: Mapping[str, Sequence[str]], *,
                             groups: Optional[Sequence[Any]] = None, encoder: Any = None,
                             threshold: Optional[float] = None, top_k: Optional[int] = None, random_state: Any = 0,
                             progress: Optional[ProgressCallback] = None) -> AttributeValueResult:
    """Attribute values for the rows without known ones, values no row has included (HyperPAVE).

    texts: ``(n,) str`` each row's text (title and description). known: ``(n,)`` each row's known labels as
    ``"attr: value"`` strings (a list, or one string with several separated by ``;``), None or empty for a row to
    label. attributes: the schema's ``{attribute: [values]}``; every known label must be one of them. groups:
    ``(n,)`` per row the positions of the rows co-viewed or co-bought with it (a list, or a string such as
    ``"3; 5; 7"``; row ``i`` and its group form one hyperedge), or None. encoder: anything with
    ``encode(texts) -> (n, d)`` (default :class:`labelwise.features.text.TextEncoder`, MiniLM). threshold: keep values with confidence above it;
    top_k: keep the k most confident per row (with a threshold too: the k best above it); neither: a threshold
    tuned for micro-F1 on 20 % of the known rows held out (0.5 with fewer than 5 known rows).
    ``progress("embedding" | "training", done, total)``.
    """
    texts = [str(t) for t in texts]
    n = len(texts)
    labels, index = _schema_labels(attributes)
    edges = _known_edges(known, n, index, labels)
    hyperedges = _groups(groups, n)
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ParameterError(f"threshold must be a confidence in [0, 1], got {threshold!r}.")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
        raise ParameterError(f"top_k must be a positive integer, got {top_k!r}.")
    if encoder is None:
        from labelwise.features.text import TextEncoder

        encoder = TextEncoder()
    report(progress, "embedding", 0, n + len(labels))
    item_features = np.asarray(encoder.encode(texts), dtype=np.float32)
    label_features = np.asarray(encoder.encode([f"{a} is {v}" for a, v in labels]), dtype=np.float32)
    report(progress, "embedding", n + len(labels), n + len(labels))

    from labelwise.learn.hypergraph import HypergraphLinkTagger

    def fit(train_edges: np.ndarray) -> np.ndarray:
        model = HypergraphLinkTagger(random_state=random_state)
        return model.fit(item_features, label_features, train_edges, hyperedges, progress=progress).predict_proba()

    known_rows = np.unique(edges[:, 0])
    tuned = threshold is None and top_k is None
    if tuned:
        threshold = 0.5
        if known_rows.size >= _MIN_HELD_OUT:
            rng = np.random.default_rng(random_state if isinstance(random_state, (int, np.integer)) else 0)
            held = rng.choice(known_rows, size=max(1, int(round(_HELD_OUT * known_rows.size))), replace=False)
            proba = fit(edges[~np.isin(edges[:, 0], held)])
            truth = np.zeros((n, len(labels)), dtype=bool)
            truth[edges[:, 0], edges[:, 1]] = True
            threshold = _best_threshold(proba[held], truth[held])
    confidence = fit(edges)
    predicted = np.ones(n, dtype=bool)
    predicted[known_rows] = False
    selected = np.zeros_like(confidence, dtype=bool)
    if threshold is not None:
        selected = confidence > float(threshold)
    if top_k is not None:
        top = np.zeros_like(selected)
        best = np.argsort(-confidence, axis=1, kind="stable")[:, : int(top_k)]
        np.put_along_axis(top, best, True, axis=1)
        selected = top & selected if threshold is not None else top
    selected &= predicted[:, None]
    zero_shot = np.ones(len(labels), dtype=bool)
    zero_shot[edges[:, 1]] = False
    settings = {"threshold_tuned": tuned, "top_k": top_k, "encoder": type(encoder).__name__,
                "hyperedges": int(sum(1 for g in hyperedges.get("groups", []) if len(set(g)) >= 2))}
    return AttributeValueResult(texts, labels, confidence, predicted, selected, zero_shot,
                                None if threshold is None else float(threshold), settings)


def _schema_labels(attributes: Mapping[str, Sequence[str]]) -> tuple:
    if not isinstance(attributes, Mapping) or not attributes:
        raise DataError("attributes must be the schema's {attribute: [values]} with at least one attribute.")
    labels, index = [], {}
    for attr, values in attributes.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise DataError(f"attribute {attr!r}: give its values as a non-empty list, e.g. {attr}: [red, blue].")
        for value in values:
            key = (str(attr).strip().lower(), str(value).strip().lower())
            if key not in index:
                index[key] = len(labels)
                labels.append((str(attr).strip(), str(value).strip()))
    return labels, index


def _known_edges(known: Sequence[Any], n: int, index: dict, labels: list) -> np.ndarray:
    if known is None or len(known) != n:
        raise DataError(f"known has {0 if known is None else len(known)} entries for {n} texts: give one per row "
                        "(None or an empty list for a row to label).")
    edges = []
    for row, cell in enumerate(known):
        if _missing(cell):
            continue
        items = cell.split(";") if isinstance(cell, str) else list(cell)
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            attr, colon, value = text.partition(":")
            key = (attr.strip().lower(), value.strip().lower())
            if not colon or key not in index:
                schema = "; ".join(f"{a}: {v}" for a, v in labels[:6]) + ("; ..." if len(labels) > 6 else "")
                raise DataError(f"row {row}: known label {text!r} is not an \"attr: value\" of the schema's "
                                f"attributes ({schema}); add it to the schema or correct the label.")
            edges.append((row, index[key]))
    if not edges:
        raise DataError("no row has a known attribute value: give at least one row's \"attr: value\" labels to learn "
                        "from.")
    return np.unique(np.asarray(edges, dtype=np.int64), axis=0)


def _groups(groups: Optional[Sequence[Any]], n: int) -> dict:
    if groups is None:
        return {}
    if len(groups) != n:
        raise DataError(f"groups has {len(groups)} entries for {n} texts: give one per row (None for none).")
    out = []
    for row, members in enumerate(groups):
        if _missing(members):
            continue
        positions = _positions(members)
        if positions is None:
            raise DataError(f"row {row}: groups must list row positions (whole numbers such as '3; 5; 7'), got "
                            f"{members!r}; fix that cell.")
        bad = [p for p in positions if not 0 <= p < n]
        if bad:
            raise DataError(f"row {row}: groups names row {bad[0]}, outside the table's rows 0..{n - 1}.")
        out.append([row] + positions)
    return {"groups": out} if out else {}


def _positions(members: Any) -> Optional[list]:
    """The row positions of one groups cell: a list, one number (a table column of single positions reads as int
    or, with empty cells, as float) or a string such as ``"3; 5; 7"``; None when an entry is not a whole number."""
    if isinstance(members, str):  # "3; 5; 7" as a table cell holds it
        members = [m for m in re.split(r"[;,\s]+", members) if m]
    elif np.ndim(members) == 0:
        members = [members]
    positions = []
    for member in members:
        try:
            number = float(member)
        except (TypeError, ValueError):
            return None
        if not number.is_integer():
            return None
        positions.append(int(number))
    return positions


def _missing(cell: Any) -> bool:
    """None, NaN or pandas' NA (a scalar); a list or an array is never missing."""
    return cell is None or (np.ndim(cell) == 0 and not isinstance(cell, str) and bool(pd.isna(cell)))


def _best_threshold(proba: np.ndarray, truth: np.ndarray) -> float:
    """The confidence cut with the best micro-F1 of ``proba > t`` against ``truth``, both ``(r, m)``."""
    flat, y = proba.ravel(), truth.ravel()
    order = np.argsort(-flat, kind="stable")
    tp = np.cumsum(y[order])
    k = np.arange(1, flat.size + 1)
    f1 = 2 * tp / (k + y.sum())
    best = int(np.argmax(f1))
    below = flat[order[best + 1]] if best + 1 < flat.size else 0.0
    return float((flat[order[best]] + below) / 2)
