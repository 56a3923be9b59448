"""Small inline-SVG charts for the report: no JavaScript, no external files, every data string escaped.

Each function returns a :class:`markupsafe.Markup` string of one ``<svg>`` element. Text that comes from data
(class names, titles) goes through :func:`markupsafe.escape` here, so the template may insert the chart as is.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from markupsafe import Markup, escape

FONT = "font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;font-size:11px"
INK = "#1f2933"
MUTED = "#9aa5b1"
ACCENT = "#2f6fde"
WARN = "#d64545"


def _num(x: float) -> str:
    return f"{x:.1f}"


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    highlight: Sequence[bool] | None = None,
    width: int = 640,
    bar_height: int = 14,
    value_format: str = "{:,.0f}",
    label_width: int = 190,
    title: str = "",
) -> Markup:
    """Horizontal bars, one per label, longest first as given. highlight: bars drawn in the warning colour."""
    values = [float(v) for v in values]
    n = len(values)
    top = max(values) if n and max(values) > 0 else 1.0
    plot = width - label_width - 70
    height = n * (bar_height + 4) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 4 + i * (bar_height + 4)
        colour = WARN if highlight is not None and highlight[i] else ACCENT
        length = max(plot * value / top, 0.0)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height - 3}" text-anchor="end" fill="{INK}">'
            f"<title>{escape(str(label))}</title>{escape(_short(str(label), 30))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{_num(length)}" height="{bar_height}" fill="{colour}" rx="2"/>'
            f'<text x="{_num(label_width + length + 4)}" y="{y + bar_height - 3}" fill="{INK}">'
            f"{escape(value_format.format(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    values: np.ndarray,
    *,
    bins: int = 20,
    value_range: tuple[float, float] = (0.0, 1.0),
    width: int = 640,
    height: int = 150,
    marker: float | None = None,
    x_label: str = "",
    title: str = "",
) -> Markup:
    """Vertical histogram of values in value_range; an optional vertical marker line (e.g. a threshold)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins, range=value_range)
    left, bottom, right, top_pad = 40, 28, 10, 10
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    peak = counts.max() if counts.size and counts.max() > 0 else 1
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="{MUTED}"/>',
        f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" fill="{INK}">{peak:,}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" fill="{INK}">0</text>',
    ]
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        parts.append(
            f'<rect x="{_num(left + i * bar_w + 1)}" y="{_num(top_pad + plot_h - h)}" width="{_num(bar_w - 2)}" '
            f'height="{_num(h)}" fill="{ACCENT}"><title>{edges[i]:.2f}–{edges[i + 1]:.2f}: {c:,}</title></rect>'
        )
    lo, hi = value_range
    for x in (lo, (lo + hi) / 2, hi):
        px = left + plot_w * (x - lo) / (hi - lo)
        parts.append(f'<text x="{_num(px)}" y="{height - 12}" text-anchor="middle" fill="{INK}">{x:.2g}</text>')
    if marker is not None and lo <= marker <= hi:
        px = left + plot_w * (marker - lo) / (hi - lo)
        parts.append(f'<line x1="{_num(px)}" y1="{top_pad}" x2="{_num(px)}" y2="{top_pad + plot_h}" stroke="{WARN}" '
                     'stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 1}" text-anchor="middle" fill="{MUTED}">'
                 f"{escape(x_label)}</text></svg>")
    return Markup("".join(parts))


def heatmap(matrix: np.ndarray, labels: Sequence[str], *, size: int = 520, title: str = "",
            row_title: str = "given label", col_title: str = "true label (estimated)") -> Markup:
    """A (k, k) matrix of values in [0, 1] as a grid of cells, darker = larger; each cell has a tooltip.

    For many classes the axis labels are omitted (tooltips still name both classes).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    k = matrix.shape[0]
    show_labels = k <= 25
    margin = 150 if show_labels else 24
    cell = max((size - margin) / max(k, 1), 2.0)
    full = margin + cell * k + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_num(full)}" height="{_num(full + 16)}" '
        f'viewBox="0 0 {_num(full)} {_num(full + 16)}" style="{FONT}"><title>{escape(title)}</title>'
    ]
    for i in range(k):
        for j in range(k):
            v = float(np.clip(matrix[i, j], 0.0, 1.0))
            if v <= 0 and i != j:
                continue
            shade = _shade(v ** 0.5)  # square root so that small noise rates are visible
            parts.append(
                f'<rect x="{_num(margin + j * cell)}" y="{_num(margin + i * cell)}" width="{_num(cell)}" '
                f'height="{_num(cell)}" fill="{shade}"><title>{escape(row_title)} {escape(str(labels[i]))} → '
                f"{escape(col_title)} {escape(str(labels[j]))}: {v:.3f}</title></rect>"
            )
    parts.append(f'<rect x="{margin}" y="{margin}" width="{_num(cell * k)}" height="{_num(cell * k)}" fill="none" '
                 f'stroke="{MUTED}"/>')
    if show_labels:
        for i, label in enumerate(labels):
            text = escape(_short(str(label), 22))
            y = margin + (i + 0.5) * cell + 4
            parts.append(f'<text x="{margin - 4}" y="{_num(y)}" text-anchor="end" fill="{INK}">{text}</text>')
            x = margin + (i + 0.5) * cell
            parts.append(f'<text transform="translate({_num(x + 4)},{margin - 4}) rotate(-60)" fill="{INK}">'
                         f"{text}</text>")
    parts.append(f'<text x="{_num(margin)}" y="{_num(full + 12)}" fill="{MUTED}">rows: {escape(row_title)}; '
                 f"columns: {escape(col_title)}</text></svg>")
    return Markup("".join(parts))


def _shade(v: float) -> str:
    """White (0) to deep blue (1)."""
    r = int(255 - v * (255 - 23))
    g = int(255 - v * (255 - 63))
    b = int(255 - v * (255 - 140))
    return f"#{r:02x}{g:02x}{b:02x}"


SERIES_COLOURS = (ACCENT, "#e8a33d", "#3e9d6b", "#8e5ac8")


def grouped_bars(
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    width: int = 640,
    bar_height: int = 10,
    label_width: int = 110,
    value_range: tuple[float, float] = (0.0, 1.0),
    title: str = "",
) -> Markup:
    """Horizontal bars in groups: for each of ``groups`` (e.g. methods) one bar per entry of ``series`` (name ->
    one value per group, e.g. ``{"micro-F1": [...], "mAP": [...]}``), with a legend on top. A NaN value draws no
    bar and says ``n/a``. Values are placed on ``value_range``. A standalone SVG document (``xmlns`` set)."""
    names = list(series)
    lo, hi = value_range
    plot = width - label_width - 50
    group_height = len(names) * (bar_height + 2) + 8
    top = 34 if title else 20
    height = top + len(groups) * group_height + 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}"><title>{escape(title)}</title>'
    ]
    if title:
        parts.append(f'<text x="4" y="12" fill="{INK}" font-weight="bold">{escape(_short(title, 90))}</text>')
    x = label_width
    for k, name in enumerate(names):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        parts.append(f'<rect x="{x}" y="{top - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{top - 5}" fill="{INK}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    for g, group in enumerate(groups):
        y0 = top + g * group_height
        parts.append(f'<text x="{label_width - 6}" y="{y0 + group_height / 2 + 2:.1f}" text-anchor="end" '
                     f'fill="{INK}"><title>{escape(str(group))}</title>{escape(_short(str(group), 18))}</text>')
        for k, name in enumerate(names):
            value = float(series[name][g])
            y = y0 + 4 + k * (bar_height + 2)
            if not np.isfinite(value):
                parts.append(f'<text x="{label_width + 2}" y="{y + bar_height - 1}" fill="{MUTED}">n/a</text>')
                continue
            length = plot * min(max((value - lo) / (hi - lo), 0.0), 1.0)
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{_num(length)}" height="{bar_height}" '
                f'fill="{SERIES_COLOURS[k % len(SERIES_COLOURS)]}"><title>{escape(str(group))} {escape(name)}: '
                f"{value:.3f}</title></rect>"
                f'<text x="{_num(label_width + length + 4)}" y="{y + bar_height - 1}" fill="{INK}">{value:.3f}</text>'
            )
    axis_y = top + len(groups) * group_height + 2
    parts.append(f'<line x1="{label_width}" y1="{axis_y}" x2="{label_width + plot}" y2="{axis_y}" stroke="{MUTED}"/>')
    for v in (lo, (lo + hi) / 2, hi):
        px = label_width + plot * (v - lo) / (hi - lo)
        parts.append(f'<text x="{_num(px)}" y="{axis_y + 13}" text-anchor="middle" fill="{INK}">{v:.2g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
