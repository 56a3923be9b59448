"""Chart images -> tables, and text <-> table cell references (ChartReader, paper 15: Cheng et al., ICCV 2023;
the notes' section 15).

- :func:`derender_charts`: chart images and their axes -> one ``pd.DataFrame`` per chart (``item``, ``value``,
  ``x``), with any derenderer that has ``predict_values(images, axes)``: the learned
  :class:`labelwise.learn.chart_derenderer.KeypointDerenderer` or the rule-based :class:`ColumnScanDerenderer`
  (the default: it needs no training).
- :class:`ColumnScanDerenderer`: the heuristic baseline of the notes: the dominant non-background colour (grey and
  black, the axis lines, excluded), then per
  bar (a run of columns holding that colour) the top-most run of it in each column (``run="top"``, the notes'
  rule) or the run standing on the baseline (``run="baseline"``, a stronger variant); for line charts the line
  colour's run per column, vertices at evenly spaced columns (the count chosen by the fit of the polyline).
- :func:`relaxed_cell_accuracy`: the share of true cells recovered within 5 % of the axis range, and the share of
  charts with the right number of items.
- :class:`DataVariableReplacer`: ChartReader's data-variable replacement: numbers and entities in a text that match
  table cells become cell references (``<C1R3>``), and back. An ambiguous match is reported and left as text, never
  silently bound.

An axis is ``(value_lo, value_hi, row_lo, row_hi)`` per chart: two values and their pixel rows (what a tick reader
gives; no OCR here, see :mod:`labelwise.assign.chart_keypoints`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from labelwise.assign.chart_keypoints import rows_to_values
from labelwise.errors import DataError, ParameterError, ShapeError

__all__ = ["Binding", "ColumnScanDerenderer", "DataVariableReplacer", "derender_charts", "relaxed_cell_accuracy"]


def _images(images: Any) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ShapeError(f"images must be (n, H, W, 3) RGB in [0, 1], got shape {arr.shape}.")
    return arr


def _axes(axes: Any, n: int) -> np.ndarray:
    ax = np.asarray(axes, dtype=np.float64)
    if ax.shape != (n, 4):
        raise ShapeError(f"axes must be (n, 4) (value_lo, value_hi, row_lo, row_hi) with n = {n} charts, got shape "
                         f"{ax.shape}.")
    return ax


class ColumnScanDerenderer:
    """The column-scan heuristic (the notes' ``HeuristicBarDerenderer``), numpy only, nothing to train.

    kind: ``"bar"`` or ``"line"``; color_tol: the RGB distance within which a pixel has the dominant colour;
    background_tol: the distance from the background (the image's median colour) from which a pixel is ink;
    min_column_pixels: a column belongs to a bar from this many pixels of the colour on; min_width: the narrowest
    bar in columns; run: ``"top"`` (the top-most run of the colour in a column: the notes' rule) or ``"baseline"``
    (the run that reaches the baseline); max_points: the most vertices tried for a line chart.
    """

    def __init__(self, kind: str = "bar", color_tol: float = 0.25, background_tol: float = 0.3,
                 min_column_pixels: int = 3, min_width: int = 2, run: str = "top", max_points: int = 12):
        self.kind = kind
        self.color_tol = color_tol
        self.background_tol = background_tol
        self.min_column_pixels = min_column_pixels
        self.min_width = min_width
        self.run = run
        self.max_points = max_points

    def fit(self, images: Any = None, keypoints: Any = None) -> "ColumnScanDerenderer":
        """Nothing to learn (the same interface as the learned derenderer)."""
        return self

    def _mask(self, img: np.ndarray, baseline: float) -> np.ndarray:
        """Pixels of the dominant non-background colour above the baseline ``(H, W) bool``."""
        h = img.shape[0]
        plot = img[: max(1, min(h, int(np.floor(baseline))))]
        background = np.median(plot.reshape(-1, 3), axis=0)
        ink = np.linalg.norm(plot - background, axis=-1) > self.background_tol
        ink &= np.ptp(plot, axis=-1) > 0.15  # grey and black ink (the axis lines) never counts as the data colour
        mask = np.zeros(img.shape[:2], dtype=bool)
        if not ink.any():
            return mask
        pixels = plot[ink]
        bins = np.clip((pixels * 6).astype(np.int64), 0, 5)
        codes = bins[:, 0] * 36 + bins[:, 1] * 6 + bins[:, 2]
        dominant = pixels[codes == np.bincount(codes).argmax()].mean(axis=0)
        mask[: len(plot)] = np.linalg.norm(plot - dominant, axis=-1) < self.color_tol
        return mask

    def _bars(self, mask: np.ndarray, baseline: int) -> tuple[list, list]:
        cols = mask.sum(axis=0) >= self.min_column_pixels
        xs, tops = [], []
        c = 0
        w = len(cols)
        while c < w:
            if not cols[c]:
                c += 1
                continue
            end = c
            while end < w and cols[end]:
                end += 1
            if end - c >= self.min_width:
                inner = range(c + 1, end - 1) if end - c >= 4 else range(c, end)  # skip antialiased edge columns
                col_tops = [self._top(mask[:, j], baseline) for j in inner]
                col_tops = [t for t in col_tops if t is not None]
                if col_tops:
                    xs.append((c + end) / 2.0)
                    tops.append(float(np.median(col_tops)))
            c = end
        return xs, tops

    def _top(self, column: np.ndarray, baseline: int) -> Optional[float]:
        rows = np.flatnonzero(column[:baseline])
        if not len(rows):
            return None
        if self.run == "top":
            return float(rows[0])
        # the run reaching the baseline (allowing a one-pixel gap for the axis line's antialiasing)
        r = rows[-1]
        if r < baseline - 3:
            return None
        while r - 1 >= 0 and column[r - 1]:
            r -= 1
        return float(r)

    def _line(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = np.flatnonzero(mask.any(axis=0))
        if len(present) < 2:
            return np.zeros(0), np.zeros(0)
        # the longest stretch of columns holding the colour is the line
        splits = np.flatnonzero(np.diff(present) > 4) + 1
        stretch = max(np.split(present, splits), key=len)
        ys = np.array([np.flatnonzero(mask[:, j]).mean() + 0.5 for j in stretch])
        xs = stretch + 0.5
        best, best_n = np.inf, 2
        for n in range(2, min(self.max_points, len(stretch)) + 1):
            knots = np.linspace(xs[0], xs[-1], n)
            fit = np.interp(xs, knots, np.interp(knots, xs, ys))
            err = np.mean(np.abs(fit - ys)) + 0.15 * n  # a small price per vertex: the simplest polyline that fits
            if err < best:
                best, best_n = err, n
        knots = np.linspace(xs[0], xs[-1], best_n)
        return knots, np.interp(knots, xs, ys)

    def predict_values(self, images: Any, axes: Any) -> list:
        """``images (n, H, W, 3)``, ``axes (n, 4)`` -> ``n`` dicts: ``kind``, ``x (k,)`` the items' pixel columns,
        ``value (k,)``."""
        if self.kind not in ("bar", "line"):
            raise ParameterError(f"kind must be 'bar' or 'line', got {self.kind!r}.")
        if self.run not in ("top", "baseline"):
            raise ParameterError(f"run must be 'top' or 'baseline', got {self.run!r}.")
        imgs = _images(images)
        ax = _axes(axes, len(imgs))
        out = []
        for img, a in zip(imgs, ax):
            baseline = int(np.floor(max(a[2], a[3]) if a[0] <= a[1] else min(a[2], a[3])))
            mask = self._mask(img, baseline)
            if self.kind == "bar":
                xs, tops = self._bars(mask, baseline)
                out.append({"kind": "bar", "x": np.asarray(xs, dtype=np.float64),
                            "value": rows_to_values(np.asarray(tops, dtype=np.float64), a)})
            else:
                xs, ys = self._line(mask)
                out.append({"kind": "line", "x": xs, "value": rows_to_values(ys, a)})
        return out


def derender_charts(images: Any, axes: Any, model: Any = None) -> list:
    """Chart images -> one table per chart.

    images: ``(n, H, W, 3)`` in [0, 1]; axes: ``(n, 4)`` ``value_lo, value_hi, row_lo, row_hi``; model: a fitted
    derenderer with ``predict_values(images, axes)`` (the learned
    :class:`~labelwise.learn.chart_derenderer.KeypointDerenderer`), or None for :class:`ColumnScanDerenderer`'s
    bar rule. Returns ``n`` frames, items left to right: ``item`` (0, 1, ...), ``value`` (float), ``x`` (the item's
    pixel column); ``frame.attrs["kind"]`` is ``"bar"`` or ``"line"``.
    """
    model = ColumnScanDerenderer() if model is None else model
    if not hasattr(model, "predict_values"):
        raise ParameterError(f"model must have predict_values(images, axes) (a KeypointDerenderer or a "
                             f"ColumnScanDerenderer), got {type(model).__name__}.")
    imgs = _images(images)
    ax = _axes(axes, len(imgs))
    tables = []
    for found in model.predict_values(imgs, ax):
        frame = pd.DataFrame({"item": np.arange(len(found["value"])),
                              "value": np.asarray(found["value"], dtype=np.float64),
                              "x": np.asarray(found["x"], dtype=np.float64)})
        frame.attrs["kind"] = found["kind"]
        tables.append(frame)
    return tables


def relaxed_cell_accuracy(predicted: Sequence[pd.DataFrame], truth: Sequence[pd.DataFrame], axes: Any, *,
                          tolerance: float = 0.05) -> dict:
    """The notes' chart-to-table metrics.

    predicted, truth: one frame per chart with a ``value`` column (and ``x``, the item's pixel column, to match
    items by position); axes: ``(n, 4)`` (the range is ``|value_hi - value_lo|``). Items are matched one-to-one by
    ``x`` (Hungarian, pairs farther apart than half the closest spacing of the true items do not match); without an
    ``x`` column in both, in order when the counts agree, else not at all. A true cell is right when its match is
    within ``tolerance`` x the axis range. Returns ``relaxed_cell_accuracy`` (right cells / true cells),
    ``count_accuracy`` (charts with as many items as the truth / charts), ``n_charts``, ``n_cells``.
    """
    ax = _axes(axes, len(truth))
    if len(predicted) != len(truth):
        raise ShapeError(f"predicted has {len(predicted)} tables, truth has {len(truth)}; give one per chart.")
    right = cells = same_count = 0
    for pred, true, a in zip(predicted, truth, ax):
        tv = np.asarray(true["value"], dtype=np.float64)
        pv = np.asarray(pred["value"], dtype=np.float64)
        cells += len(tv)
        same_count += int(len(pv) == len(tv))
        if not len(tv) or not len(pv):
            continue
        tol = tolerance * abs(a[1] - a[0])
        if "x" in true and "x" in pred:
            tx, px = np.asarray(true["x"], dtype=np.float64), np.asarray(pred["x"], dtype=np.float64)
            reach = np.min(np.diff(np.sort(tx))) / 2.0 if len(tx) > 1 else np.inf
            dist = np.abs(tx[:, None] - px[None, :])
            rows, cols = linear_sum_assignment(np.where(dist <= reach, dist, 1e9))
            keep = dist[rows, cols] <= reach
            rows, cols = rows[keep], cols[keep]
        elif len(pv) == len(tv):
            rows = cols = np.arange(len(tv))
        else:
            continue
        right += int(np.sum(np.abs(pv[cols] - tv[rows]) <= tol))
    return {"relaxed_cell_accuracy": right / max(cells, 1), "count_accuracy": same_count / max(len(truth), 1),
            "n_charts": len(truth), "n_cells": cells}


# ---------------------------------------------------------------------------------------- data-variable replacement
_NUMBER = re.compile(r"(?<![\w.])(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(\s?(?:%|bn|[kKMB])(?![\w]))?")
_TOKEN = re.compile(r"<C(\d+)R(\d+)(?:\|([^>]*))?>")
_SCALES = {"%": (100.0, 1.0), "k": (1e-3,), "K": (1e-3,), "M": (1e-6,), "B": (1e-9,), "bn": (1e-9,)}


@dataclass(frozen=True)
class Binding:
    """One number or entity found in the text: ``start``, ``end`` (character offsets in the text), ``text``,
    ``cells`` (the ``(row, column)`` positions it matches), ``status`` ("bound": one cell, replaced by ``token``;
    "ambiguous": several cells, left as text; "unmatched": a number that matches no cell, left as text)."""

    start: int
    end: int
    text: str
    cells: tuple
    status: str
    token: str = ""


def _render(value: Any, fmt: str) -> str:
    """A cell's value in the form ``fmt`` (``""``: ``str(value)``; else ``"<scale>:<format spec>"``)."""
    if not fmt:
        return str(value.item() if isinstance(value, np.generic) else value)
    scale, spec = fmt.split(":", 1)
    return format(float(value) * float(scale), spec)


class DataVariableReplacer:
    """ChartReader's data-variable replacement: values and entities in a text that match cells of a table become
    cell references, so a text model learns to point at cells instead of copying numbers; :meth:`decode` puts the
    table's values back.

    A reference is ``<C{column}R{row}>`` (0-based positions) when the text shows the cell exactly as ``str(cell)``,
    else ``<C{column}R{row}|{scale}:{format spec}>`` (``"42"`` for 42.0 is ``|1:.0f``, ``"1.2"`` in ``"1.2 M"`` for
    1,203,456 is ``|1e-06:.1f``, ``"45"`` in ``"45%"`` for 0.45 is ``|100:.0f``); the unit after a number stays in
    the text. A number matches a cell when the cell rendered with the number's own form (its decimals, thousands
    separators, and the scale its unit implies) gives the same string, and the two differ by at most ``rel_tol`` of
    the cell's size; an entity matches a text cell equal to it (whole words). A number or entity matching several
    cells is reported as ambiguous and left as text: nothing is ever picked silently. ``decode(encode(text))`` gives
    back the text exactly.
    """

    def __init__(self, rel_tol: float = 0.01, entities: bool = True):
        self.rel_tol = rel_tol
        self.entities = entities

    def _number_candidates(self, number: str, unit: str, table: pd.DataFrame) -> list:
        decimals = len(number.split(".")[1]) if "." in number else 0
        spec = f"{',' if ',' in number else ''}.{decimals}f"
        parsed = float(number.replace(",", ""))
        scales = _SCALES.get(unit.strip(), (1.0,))
        found = []
        for j, col in enumerate(table.columns):
            for i, cell in enumerate(table[col].tolist()):
                if isinstance(cell, (bool, np.bool_)) or not isinstance(cell, (int, float, np.integer, np.floating)):
                    continue
                if not np.isfinite(float(cell)):
                    continue
                for scale in scales:
                    if number == str(cell) and scale == 1.0:
                        found.append((i, j, ""))
                        break
                    scaled = float(cell) * scale
                    if format(scaled, spec) == number and abs(scaled - parsed) <= self.rel_tol * max(abs(scaled),
                                                                                                     1e-12):
                        found.append((i, j, f"{scale:g}:{spec}"))
                        break
        return found

    def encode(self, text: str, table: pd.DataFrame) -> tuple[str, list]:
        """``text`` -> (template, bindings): every number or entity bound to exactly one cell replaced by its
        reference; ``bindings``: a :class:`Binding` per number or entity found, in text order."""
        if _TOKEN.search(text):
            raise DataError(f"the text already holds a cell reference ({_TOKEN.search(text).group(0)!r}); it cannot "
                            f"be told apart from a replaced value. Remove it before encoding.")
        spans: dict = {}
        for m in _NUMBER.finditer(text):
            cands = self._number_candidates(m.group(1), m.group(2) or "", table)
            spans[(m.start(1), m.end(1))] = cands
        if self.entities:
            for j, col in enumerate(table.columns):
                for i, cell in enumerate(table[col].tolist()):
                    if not isinstance(cell, str) or not cell.strip():
                        continue
                    for m in re.finditer(rf"(?<!\w){re.escape(cell)}(?!\w)", text):
                        spans.setdefault((m.start(), m.end()), []).append((i, j, ""))
        # overlapping finds: the longer one wins (a number inside an entity name is part of the name)
        chosen = []
        for (s, e) in sorted(spans, key=lambda se: (-(se[1] - se[0]), se[0])):
            if all(e <= cs or s >= ce for cs, ce in chosen):
                chosen.append((s, e))
        bindings, pieces, last = [], [], 0
        for s, e in sorted(chosen):
            cands = list(dict.fromkeys(spans[(s, e)]))
            cells = tuple(sorted({(i, j) for i, j, _ in cands}))
            if len(cells) == 1:
                i, j, fmt = cands[0]
                token = f"<C{j}R{i}|{fmt}>" if fmt else f"<C{j}R{i}>"
                bindings.append(Binding(s, e, text[s:e], cells, "bound", token))
                pieces += [text[last:s], token]
                last = e
            else:
                bindings.append(Binding(s, e, text[s:e], cells, "ambiguous" if cells else "unmatched"))
        pieces.append(text[last:])
        return "".join(pieces), bindings

    def decode(self, template: str, table: pd.DataFrame) -> str:
        """Replace every ``<C{column}R{row}...>`` in ``template`` by that cell of ``table`` in the reference's form."""
        def fill(m: re.Match) -> str:
            j, i, fmt = int(m.group(1)), int(m.group(2)), m.group(3) or ""
            if j >= table.shape[1] or i >= table.shape[0]:
                raise DataError(f"the reference {m.group(0)} points outside the table ({table.shape[0]} rows x "
                                f"{table.shape[1]} columns); decode with the table the text was encoded with.")
            return _render(table.iat[i, j], fmt)

        return _TOKEN.sub(fill, template)
