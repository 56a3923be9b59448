"""Bar and line charts rendered with matplotlib from known tables, with their exact ground truth (ChartReader,
paper 15: the notes' section 15.4 verification data).

Each chart is drawn by matplotlib's Agg renderer in memory (no pyplot, no fonts: ticks and tick labels are off)
at ``size`` x ``size`` pixels, then Gaussian pixel noise is added. Its ground truth comes from the same figure's
transforms (``ax.transData``), so it is exact, not measured from the pixels:

- the table: ``label`` ("A", "B", ...), ``value`` (float), ``x`` (pixel column of the bar's or point's centre);
- the axis: ``(value_lo, value_hi, row_lo, row_hi)``: the value at the bottom of the plot and at its top and the
  (continuous) pixel rows where they lie, what a tick reader would give (the derenderers calibrate from it: no OCR);
- the key points, in continuous pixel coordinates ``(x, y)`` (x to the right, y down; pixel ``(r, c)`` covers
  ``[c, c + 1) x [r, r + 1)``, its centre is ``(c + .5, r + .5)``): for bars ``top_left``, ``top_right`` (the
  bar's top corners) and ``center`` (the rectangle's centre), each ``(k, 2)``; for lines ``point`` ``(k, 2)``.

Styles (:data:`STYLE_A`, the notes' training mix): ``grid`` (horizontal gridlines in the bars' hue family, behind
the bars), ``labels`` (a value-label blob above each bar: a small rectangle in a darker shade of the bar colour, as
a label in the bar's colour would look without fonts) and ``whiskers`` (error bars in a darker shade). The unseen
style ``hatched=True`` draws the bars hatched (never in the training mix). Bars are drawn without pixel snapping so
that the pixels match the transforms exactly (antialiased edges).

matplotlib is a dev dependency: it is imported here only, when a chart is drawn.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from labelwise.errors import MissingExtraError, ParameterError

__all__ = ["Charts", "STYLE_A", "STYLES", "bar_charts", "line_charts"]

STYLES = ("grid", "labels", "whiskers")
#: the notes' training mix: each chart independently has gridlines (50 %), value labels (30 %), whiskers (20 %)
STYLE_A = {"grid": 0.5, "labels": 0.3, "whiskers": 0.2}
LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Charts:
    """Rendered charts and their ground truth.

    images: ``(n, size, size, 3) float32`` in [0, 1]; tables: ``n`` frames (``label``, ``value``, ``x``); axes:
    ``(n, 4) float64`` ``value_lo, value_hi, row_lo, row_hi``; keypoints: ``n`` dicts of ``(k_i, 2) float64`` pixel
    points (bars: ``top_left``, ``top_right``, ``center``; lines: ``point``); styles: ``n`` frozensets of style
    names (``grid``, ``labels``, ``whiskers``, ``hatched``); kind: ``"bar"`` or ``"line"``.
    """

    images: np.ndarray
    tables: list
    axes: np.ndarray
    keypoints: list
    styles: list
    kind: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, rows) -> "Charts":
        """The charts at positions ``rows`` (a sequence of ints), same kind."""
        rows = [int(r) for r in rows]
        return Charts(self.images[rows], [self.tables[r] for r in rows], self.axes[rows],
                      [self.keypoints[r] for r in rows], [self.styles[r] for r in rows], self.kind, dict(self.meta))


def _figure(size: int):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is in the dev extra
        raise MissingExtraError("matplotlib", "dev", "rendering test charts (labelwise.testing.charts)") from exc
    fig = Figure(figsize=(size / 100.0, size / 100.0), dpi=100)
    return fig, FigureCanvasAgg(fig)


def _check(n: int, size: int, noise: float, n_items: tuple, styles: Optional[Mapping[str, float]]) -> dict:
    if int(n) < 0:
        raise ParameterError(f"n must be >= 0, got {n}.")
    if int(size) < 32:
        raise ParameterError(f"size must be at least 32 pixels, got {size}.")
    if noise < 0:
        raise ParameterError(f"noise must be >= 0, got {noise}.")
    lo, hi = n_items
    if not 1 <= lo <= hi:
        raise ParameterError(f"the number of bars or points must be a range (lo, hi) with 1 <= lo <= hi, got "
                             f"{n_items}.")
    styles = dict(styles or {})
    unknown = set(styles) - set(STYLES)
    if unknown:
        raise ParameterError(f"unknown chart styles {sorted(unknown)}; known: {', '.join(STYLES)}.")
    for name, p in styles.items():
        if not 0 <= float(p) <= 1:
            raise ParameterError(f"style {name!r} needs a probability in [0, 1], got {p}.")
    return styles


def _colour(rng: np.random.Generator) -> tuple:
    """A saturated, mid-dark colour (hue, saturation, value) -> RGB."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.5, 1.0), rng.uniform(0.45, 0.85)
    return h, s, v


def _rgb(h: float, s: float, v: float) -> tuple:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def _axes(fig):
    """The one axes every chart of a batch is drawn on (creating axes costs more than drawing a chart)."""
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(0.72)  # one pixel at 100 dpi
    return ax


def _reset(ax, rng: np.random.Generator) -> None:
    """Remove the previous chart's artists and place the plot area at random margins."""
    for artist in [*ax.patches, *ax.lines, *ax.collections]:
        artist.remove()
    ax.containers.clear()
    left, bottom = rng.uniform(0.06, 0.14), rng.uniform(0.06, 0.12)
    width, height = 1 - left - rng.uniform(0.03, 0.08), 1 - bottom - rng.uniform(0.04, 0.1)
    ax.set_position((left, bottom, width, height))


def _to_pixels(ax, size: int, xy: np.ndarray) -> np.ndarray:
    """Data coordinates ``(k, 2)`` -> continuous pixel coordinates ``(x right, y down)``."""
    disp = ax.transData.transform(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    return np.stack([disp[:, 0], size - disp[:, 1]], axis=1)


def _draw(fig, canvas, noise: float, rng: np.random.Generator) -> np.ndarray:
    canvas.draw()
    img = np.asarray(canvas.buffer_rgba(), dtype=np.float32)[..., :3] / 255.0
    if noise:
        img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _pick_styles(styles: dict, rng: np.random.Generator) -> set:
    return {name for name in STYLES if rng.uniform() < styles.get(name, 0.0)}


def _decorate(ax, size: int, x: np.ndarray, tops: np.ndarray, ymax: float, hsv: tuple, chosen: set, widths_px: float,
              rng: np.random.Generator, zorder: float = 3) -> None:
    """Gridlines, whiskers and value-label blobs around items at data ``x`` with data tops ``tops``."""
    h, s, v = hsv
    rows = _to_pixels(ax, size, [(0.0, 0.0), (0.0, ymax)])[:, 1]
    px_per_unit = (rows[0] - rows[1]) / ymax
    if "grid" in chosen:  # lighter or darker shades of the same hue, thin, behind the items
        n_lines = int(rng.integers(3, 7))
        shade = _rgb(h + rng.uniform(-0.04, 0.04), s * rng.uniform(0.5, 1.0), v * rng.uniform(0.9, 1.25))
        for y in np.linspace(0, ymax, n_lines + 1)[1:]:
            ax.axhline(y, color=shade, linewidth=0.72 * rng.uniform(1.0, 1.6), zorder=0.5)
    reach = tops.copy()
    if "whiskers" in chosen:
        err = rng.uniform(0.03, 0.1, size=len(x)) * ymax
        dark = _rgb(h, s, v * rng.uniform(0.5, 0.9))
        ax.errorbar(x, tops, yerr=err, fmt="none", ecolor=dark, elinewidth=0.72, capsize=rng.uniform(1.0, 2.5),
                    capthick=0.72, zorder=zorder + 1)
        reach = tops + err
    if "labels" in chosen:  # a blob where a value label would be printed
        from matplotlib.patches import Rectangle

        colour = _rgb(h, s, v * rng.uniform(0.6, 1.0))
        for xi, top in zip(x, reach):
            gap = rng.uniform(1.0, 3.0) / px_per_unit
            height = rng.uniform(2.0, 4.0) / px_per_unit
            width = max(2.0, widths_px * rng.uniform(0.6, 1.1)) / _px_per_unit_x(ax, size)
            ax.add_patch(Rectangle((xi - width / 2, top + gap), width, height, facecolor=colour, edgecolor="none",
                                   zorder=zorder + 2, snap=False))


def _px_per_unit_x(ax, size: int) -> float:
    a = _to_pixels(ax, size, [(0.0, 0.0), (1.0, 0.0)])
    return float(a[1, 0] - a[0, 0])


def _table(values: np.ndarray, xs_px: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"label": list(LABELS[:len(values)]), "value": values.astype(np.float64),
                         "x": xs_px.astype(np.float64)})


def _render(n: int, size: int, noise: float, styles: dict, n_items: tuple, random_state: int, kind: str, draw,
            meta: dict) -> Charts:
    """The loop both chart kinds share: a random table per chart, drawn by ``draw(ax, rng, x, values, ymax, hsv,
    chosen) -> (keypoints, item columns in pixels)``, then rasterised with noise."""
    rng = np.random.default_rng(random_state)
    fig, canvas = _figure(size)
    ax = _axes(fig)
    images, tables, axes, keypoints, chosen_all = [], [], [], [], []
    for _ in range(int(n)):
        _reset(ax, rng)
        k = int(rng.integers(n_items[0], n_items[1] + 1))
        ymax = float(rng.choice([1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 1000.0]))
        values = np.round(rng.uniform(0.08, 0.85, size=k) * ymax, 3)
        ax.set_ylim(0.0, ymax)
        hsv = _colour(rng)
        chosen = _pick_styles(styles, rng)
        kp, xs_px = draw(ax, rng, np.arange(k, dtype=np.float64), values, ymax, hsv, chosen)
        rows = _to_pixels(ax, size, [(0.0, 0.0), (0.0, ymax)])[:, 1]
        images.append(_draw(fig, canvas, noise, rng))
        tables.append(_table(values, xs_px))
        axes.append((0.0, ymax, rows[0], rows[1]))
        keypoints.append(kp)
        chosen_all.append(frozenset(chosen | {name for name in ("hatched", "dashed") if meta.get(name)}))
    return Charts(np.stack(images) if images else np.zeros((0, size, size, 3), np.float32), tables,
                  np.asarray(axes, dtype=np.float64).reshape(-1, 4), keypoints, chosen_all, kind,
                  {"size": size, "noise": noise, "styles": styles, "random_state": random_state, **meta})


def bar_charts(n: int, *, size: int = 64, styles: Optional[Mapping[str, float]] = None, hatched: bool = False,
               noise: float = 0.05, n_bars: tuple = (3, 8), random_state: int = 0) -> Charts:
    """``n`` single-series vertical bar charts from random tables, with exact ground truth (see the module).

    styles: each style's probability per chart (``None``: clean; :data:`STYLE_A`: the notes' training mix);
    hatched: draw every bar hatched (the unseen style); noise: the pixel noise's standard deviation (0.05 in the
    notes); n_bars: the inclusive range of bars per chart; random_state: the seed (same seed, same charts).
    Values are drawn uniformly in [0.08, 0.85] of the axis maximum, itself one of a few round numbers.
    """
    styles = _check(n, size, noise, n_bars, styles)

    def draw(ax, rng, x, values, ymax, hsv, chosen):
        width = rng.uniform(0.45, 0.8)
        ax.set_xlim(-0.5 - rng.uniform(0.05, 0.4), len(x) - 0.5 + rng.uniform(0.05, 0.4))
        bar_kw: dict = {"color": _rgb(*hsv), "snap": False, "zorder": 2, "linewidth": 0}
        if hatched:
            bar_kw.update(hatch=str(rng.choice(["///", "\\\\\\", "xx", "..", "--"])),
                          edgecolor=_rgb(hsv[0], hsv[1] * 0.4, min(1.0, hsv[2] * 1.3)))
        ax.bar(x, values, width=width, **bar_kw)
        _decorate(ax, size, x, values, ymax, hsv, chosen, width * _px_per_unit_x(ax, size), rng)
        centre = _to_pixels(ax, size, np.stack([x, values / 2], axis=1))
        return ({"top_left": _to_pixels(ax, size, np.stack([x - width / 2, values], axis=1)),
                 "top_right": _to_pixels(ax, size, np.stack([x + width / 2, values], axis=1)),
                 "center": centre}, centre[:, 0])

    return _render(n, size, noise, styles, n_bars, random_state, "bar", draw, {"hatched": hatched})


def line_charts(n: int, *, size: int = 64, styles: Optional[Mapping[str, float]] = None, dashed: bool = False,
                noise: float = 0.05, n_points: tuple = (4, 9), random_state: int = 0) -> Charts:
    """``n`` single-series line charts from random tables (key points ``point``: the line's vertices).

    styles as for :func:`bar_charts` (``labels`` puts a blob above each point, ``whiskers`` error bars at the
    points); dashed: the unseen style (a dashed line); the other parameters as for :func:`bar_charts`.
    """
    styles = _check(n, size, noise, n_points, styles)

    def draw(ax, rng, x, values, ymax, hsv, chosen):
        ax.set_xlim(-rng.uniform(0.2, 0.6), len(x) - 1 + rng.uniform(0.2, 0.6))
        ax.plot(x, values, color=_rgb(*hsv), linewidth=0.72 * rng.uniform(1.0, 2.0), zorder=2,
                linestyle="--" if dashed else "-", snap=False)
        _decorate(ax, size, x, values, ymax, hsv, chosen, 3.0, rng)
        points = _to_pixels(ax, size, np.stack([x, values], axis=1))
        return {"point": points}, points[:, 0]

    return _render(n, size, noise, styles, n_points, random_state, "line", draw, {"dashed": dashed})
