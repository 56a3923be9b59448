"""Build the Dataset Nutrition Label from an audit: ``report.json`` (every number) and ``report.html``.

Seed paper: Holland, Hosny, Newman, Joseph, Chmielinski, "The Dataset Nutrition Label: A Framework To Drive Higher
Data Quality Standards" (2018): a standard, glanceable label on top, then one module per analysis (provenance,
composition, label distribution, label quality, duplicates, outliers, splits). labelwise builds it from its own
audit, so it is never stale. The HTML is one self-contained file: inline CSS, inline SVG charts, no script, no
network; every string from the data is escaped (Jinja2 autoescape; the charts escape their own text).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from labelwise.audit.checks.base import to_json
from labelwise.audit.checks.shift import MLLS_NAME
from labelwise.data.atomic import write_text_atomic
from labelwise.errors import DataError
from labelwise.report import svg

SCHEMA_VERSION = 1
EXAMPLES = 15  # rows shown per example table; the page stays light however big the data
MAX_BARS = 40  # classes drawn in the distribution chart (the largest and smallest halves)
DATASHEET_KEYS = ("source", "licence", "license", "collection_process", "intended_use", "contact", "description")


def read_datasheet(path) -> dict:
    """Read a YAML datasheet (a mapping of provenance fields) into a dict of strings."""
    import yaml

    from labelwise.data.io import read_text_file

    path = Path(path)
    try:
        loaded = yaml.safe_load(read_text_file(path, "Datasheet"))
    except yaml.YAMLError as err:
        raise DataError(f"Datasheet {path} is not valid YAML ({err}). Fix the file or leave --datasheet out.") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise DataError(f"Datasheet {path} must be a YAML mapping (key: value lines), not a {type(loaded).__name__}.")
    try:
        return {str(k): _plain(v) for k, v in loaded.items()}
    except RecursionError:  # a YAML anchor used inside itself: a: &x [*x]
        raise DataError(f"Datasheet {path} has a value that contains itself (a YAML anchor used inside its own "
                        "value). Write the values out.") from None


def find_datasheet(data_path) -> Optional[Path]:
    """The datasheet beside a data file: ``<stem>.datasheet.yaml`` or ``datasheet.yaml`` (also ``.yml``)."""
    if data_path is None:
        return None
    data_path = Path(data_path)
    for name in (f"{data_path.stem}.datasheet.yaml", f"{data_path.stem}.datasheet.yml", "datasheet.yaml", "datasheet.yml"):
        candidate = data_path.parent / name
        if candidate.is_file():
            return candidate
    return None


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _finite(x) -> Optional[float]:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def report_data(result, *, datasheet: Optional[dict] = None, name: Optional[str] = None,
                privacy: Optional[dict] = None) -> dict:
    """Everything the report shows, as JSON-serialisable values (the schema is in docs/report.md). privacy: the
    label-only privacy audit's ``InversionAudit.to_dict()`` (``labelwise audit --privacy``), shown in its section."""
    from labelwise import __version__

    frame = result.to_frame(include_unaudited=False)
    has_text = "text" in frame.columns
    texts = frame["text"].tolist() if has_text else None
    summary = result.summary()
    per_class = result.per_class()
    checks = result.checks
    balance = checks.balance.summary if checks.balance is not None else None
    duplicates = checks.duplicates.summary if checks.duplicates is not None else None
    outliers = checks.outliers.summary if checks.outliers is not None else None
    shift = checks.shift.summary if checks.shift is not None else None
    columns = checks.columns.summary.columns if checks.columns is not None else []

    worst = frame.sort_values("label_quality", kind="stable").head(EXAMPLES)
    worst_columns = ["row", "given_label", "suggested_label", "missing_labels", "spurious_labels", "label_quality",
                     "text"]
    interval = list(result.error_rate_interval) if result.error_rate_interval else None
    return {
        "schema_version": SCHEMA_VERSION,
        "labelwise_version": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset": {
            "name": name or Path(str(result.source)).name,
            "source": str(result.source),
            "label_column": result.label_column,
            "rows": int(summary["rows_in_input"]),
            "multi_label": bool(result.multi_label),
        },
        "provenance": datasheet or None,
        "headline": {
            "rows": result.n_rows,
            "classes": len(result.classes),
            "estimated_error_rate": float(result.error_rate),
            "error_rate_interval": interval,
            "flagged": result.n_issues,
            "duplicate_rows": duplicates.duplicate_rows if duplicates else None,
            "conflicting_duplicate_rows": duplicates.conflicting_rows if duplicates else None,
            "outliers": outliers.n_outliers if outliers else None,
            "imbalance_ratio": _finite(balance.imbalance_ratio) if balance else None,
            "small_classes": int(balance.small.sum()) if balance else 0,
            "shift_verdict": shift.short_verdict if shift else "not checked",
        },
        "composition": {"columns": [_column(c) for c in columns]},
        "label_distribution": _distribution(balance, result.classes) if balance else {},
        "label_quality": {
            "method": result.filter_by,
            "quality_score": result.quality_method,
            "estimated_error_rate": float(result.error_rate),
            "error_rate_interval": interval,
            "flagged": result.n_issues,
            "model_agreement": summary.get("accuracy_of_out_of_fold_model"),
            "per_class": _records(per_class.sort_values(
                "estimated_noise_rate" if "estimated_noise_rate" in per_class else "flagged_share",
                ascending=False, kind="stable")),
            "noise_matrix": result.noise.noise_matrix.round(4).tolist() if result.noise is not None else None,
            "classes": list(result.classes),
            "confused_pairs": _records(result.confused_pairs(10)),
            "quality_histogram": np.histogram(result.label_quality, bins=20, range=(0, 1))[0].tolist(),
            "has_text": has_text,
            "worst_examples": _records(worst[[c for c in worst_columns if c in worst.columns]]),
        },
        "label_sets": _label_sets(checks.multilabel, result.classes) if checks.multilabel is not None else None,
        "duplicates": _duplicate_examples(checks.duplicates, result, texts) if duplicates else None,
        "outliers": _outlier_examples(checks.outliers, result, texts) if outliers else None,
        "splits": _splits(shift) if shift else None,
        "privacy": _privacy(privacy) if privacy else None,
        "skipped": {module: _why_not(checks, check) for module, check in
                    (("duplicates", "duplicates"), ("outliers", "outliers"), ("splits", "shift"))},
    }


def _privacy(leakage: dict) -> dict:
    """The privacy section: LOKT first, then the baselines; ``leaks`` when LOKT beats chance and every baseline."""
    methods = leakage["methods"]
    lokt = methods["lokt"]
    baselines = [m for name, m in methods.items() if name != "lokt"]
    out = dict(leakage, rows=[methods[name] for name in ("lokt", *(n for n in methods if n != "lokt"))])
    out["best_baseline"] = max(baselines, key=lambda m: m["attack_accuracy"]) if baselines else None
    out["leaks"] = bool(lokt["attack_accuracy"] > leakage["chance"]
                        and all(lokt["attack_accuracy"] > m["attack_accuracy"] for m in baselines))
    return out


def _why_not(checks, check: str) -> str:
    skipped = checks.why_not(check)
    return skipped.message if skipped is not None else "not run"


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _label_names(result, index: int) -> str:
    return "|".join(result.label_names(result.given[index : index + 1])[0])


def _column(health) -> dict:
    out = {k: v for k, v in to_json(health).items() if k != "text_length"}
    out["notes"] = health.notes
    return out


def _distribution(balance, classes) -> dict:
    return {"classes": list(classes), "counts": balance.counts.tolist(), "shares": balance.shares.round(6).tolist(),
            "imbalance_ratio": balance.imbalance_ratio, "entropy": balance.entropy, "min_count": balance.min_count,
            "small_classes": [classes[i] for i in np.flatnonzero(balance.small)]}


def _label_sets(check, classes) -> dict:
    """Multi-label: labels per row, the most frequent label pairs, and the classes by missing / spurious counts."""
    s = check.summary
    card, co, counts = s.cardinality, s.cooccurrence, s.per_class
    n = max(int(card.counts.sum()), 1)
    return {
        "cardinality": {"counts": card.counts.tolist(), "mean": card.mean, "empty_share": card.empty_share,
                        "max": card.max, "density": card.density},
        "pairs_seen": co.pairs_seen,
        "cooccurrence": [{"first": classes[a], "second": classes[b], "count": int(c), "lift": float(lift),
                          "pmi": float(pmi), "npmi": float(npmi)}
                         for a, b, c, lift, pmi, npmi in zip(co.first, co.second, co.count, co.lift, co.pmi, co.npmi)],
        "classes": [{"class": classes[c], "n_given": int(counts.given[c]), "n_spurious": int(counts.spurious[c]),
                     "n_missing": int(counts.missing[c]), "label_quality_score": 1.0 - counts.spurious[c] / n}
                    for c in s.class_order],
        "rows_with_missing": s.rows_with_missing, "rows_with_spurious": s.rows_with_spurious,
        "missing_labels": s.missing_labels, "spurious_labels": s.spurious_labels, "health_score": s.health_score,
        "delimiter": s.delimiter,
    }


def _duplicate_examples(duplicates, result, texts) -> dict:
    out = to_json(duplicates.summary)
    pairs, similarity, conflict = duplicates.pairs, duplicates.pair_similarity, duplicates.pair_conflict
    order = np.lexsort((-similarity, ~conflict))[:EXAMPLES]  # conflicting pairs first, most similar first
    out["examples"] = [
        {
            "row_a": int(result.row_ids[a]), "row_b": int(result.row_ids[b]), "similarity": float(similarity[i]),
            "conflict": bool(conflict[i]), "label_a": _label_names(result, a), "label_b": _label_names(result, b),
            "text_a": texts[a] if texts else None, "text_b": texts[b] if texts else None,
        }
        for i, (a, b) in ((i, pairs[i]) for i in order)
    ]
    return out


def _outlier_examples(outliers, result, texts) -> dict:
    out = to_json(outliers.summary)
    scores = outliers.outlier_score
    flagged = np.flatnonzero(outliers.is_outlier_issue)
    top = flagged[np.argsort(-scores[flagged], kind="stable")][:EXAMPLES]
    out["examples"] = [
        {"row": int(result.row_ids[i]), "label": _label_names(result, i), "score": float(scores[i]),
         "text": texts[i] if texts else None}
        for i in top
    ]
    distance = outliers.outlier_distance
    top = float(max(distance.max(initial=0.0), outliers.summary.threshold) * 1.05) or 1.0
    out["distance_range"] = [0.0, top]
    out["distance_histogram"] = np.histogram(distance, bins=20, range=(0.0, top))[0].tolist()
    return out


def _splits(shift) -> dict:
    """The shift check's summary in report.json's ``splits`` layout."""
    out = {"other_name": shift.other_name, "other_rows": shift.other_rows, "verdict": shift.verdict,
           "short_verdict": shift.short_verdict, "leakage": shift.leakage, "test": None, "estimate": None,
           "estimate_bbse": None, "estimate_bbse_interval": None, "estimate_bbse_l1": None}
    if shift.test is not None:
        test = shift.test
        out["test"] = {"statistic": test.statistic, "dof": test.dof, "p_value": test.p_value,
                       "cramers_v": test.cramers_v, "shifted": test.shifted}
        out["unknown_labels"] = shift.unknown_labels
        out["other_prior"] = shift.other_prior.tolist()
    if shift.mlls is not None:
        mlls, bbse = shift.mlls, shift.bbse
        out["estimate"] = {"method": MLLS_NAME, "target_prior": mlls.estimate.tolist(), "lower": mlls.lower.tolist(),
                           "upper": mlls.upper.tolist(), "source_prior": mlls.source_prior.tolist(),
                           "l1_shift": mlls.l1_shift, "importance_weights": mlls.importance_weights.tolist()}
        out["estimate_bbse"] = bbse.estimate.tolist()
        out["estimate_bbse_interval"] = [bbse.lower.tolist(), bbse.upper.tolist()]
        out["estimate_bbse_l1"] = bbse.l1_shift
    return out


def _charts(data: dict, result) -> dict:
    charts = {}
    dist = data["label_distribution"]
    if dist:
        dist.setdefault("truncated", False)
        names, counts = list(dist["classes"]), list(dist["counts"])
        order = np.argsort(-np.asarray(counts), kind="stable")
        if len(order) > MAX_BARS:
            order = np.concatenate([order[: MAX_BARS // 2], order[-MAX_BARS // 2:]])
            dist["truncated"], dist["shown"] = True, MAX_BARS
        small = set(dist.get("small_classes", []))
        charts["distribution"] = svg.bar_chart(
            [names[i] for i in order], [counts[i] for i in order],
            highlight=[names[i] in small for i in order], title="rows per class",
        )
    sets = data["label_sets"]
    if sets:
        counts = sets["cardinality"]["counts"]
        charts["cardinality"] = svg.bar_chart([f"{m} label{'' if m == 1 else 's'}" for m in range(len(counts))],
                                              counts, title="rows by number of labels")
        pairs = sets["cooccurrence"]
        if pairs:
            charts["cooccurrence"] = svg.bar_chart([f"{p['first']} & {p['second']}" for p in pairs],
                                                   [p["count"] for p in pairs], title="rows carrying both labels")
        worst = [c for c in sets["classes"] if c["n_missing"] + c["n_spurious"] > 0][:20]
        if worst:
            charts["label_issues"] = svg.bar_chart([c["class"] for c in worst],
                                                   [c["n_missing"] + c["n_spurious"] for c in worst],
                                                   title="probably missing or spurious annotations per class")
    quality = data["label_quality"]
    if quality["noise_matrix"] is not None:
        charts["noise"] = svg.heatmap(np.asarray(quality["noise_matrix"]), quality["classes"],
                                      title="estimated noise matrix")
    charts["quality"] = svg.histogram(result.label_quality, x_label="label quality (0 = surely wrong, 1 = surely right)",
                                      title="label quality")
    if result.checks.outliers is not None:
        charts["outliers"] = svg.histogram(result.checks.outliers.outlier_distance,
                                           value_range=tuple(data["outliers"]["distance_range"]),
                                           marker=result.checks.outliers.summary.threshold,
                                           x_label="mean cosine distance to the nearest rows (dashed: outlier fence)",
                                           title="distance to nearest neighbours")
    shift = result.checks.shift
    if shift is not None and shift.summary.mlls is not None:
        mlls = shift.summary.mlls
        gap = np.abs(mlls.estimate - mlls.source_prior)
        order = np.argsort(-gap, kind="stable")[:20]
        charts["shift"] = svg.bar_chart(
            [f"{result.classes[i]}" for i in order], [gap[i] for i in order], value_format="{:.3f}",
            title="largest changes in class share",
        )
    return charts


def render_html(data: dict, charts: dict) -> str:
    """Render the report page: Jinja2 with autoescape on; only our own charts are inserted as markup."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("labelwise.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    env.globals.update(
        pct=lambda x: "n/a" if x is None else f"{100 * float(x):.1f}%",
        ratio=lambda x: "n/a" if x is None else f"{float(x):,.1f} : 1",
        opt_count=lambda x: "not checked" if x is None else f"{int(x):,}",
    )
    return env.get_template("report.html.j2").render(d=data, charts=_AttrDict(charts))


class _AttrDict(dict):
    """Charts by attribute in the template; a missing chart renders as nothing."""

    def __getattr__(self, name):
        return self.get(name, "")


def write_report(result, directory, *, datasheet: Optional[dict] = None, name: Optional[str] = None,
                 privacy: Optional[dict] = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` into directory (atomically). Returns both paths. privacy: see
    :func:`report_data`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = report_data(result, datasheet=datasheet, name=name, privacy=privacy)
    charts = _charts(data, result)
    html = render_html(data, charts)
    json_path = write_text_atomic(directory / "report.json", json.dumps(data, indent=1, default=_json_default) + "\n")
    html_path = write_text_atomic(directory / "report.html", html)
    return html_path, json_path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
