"""A labelling guide for a labelled table: per class a definition, real examples, and the classes it is mixed up with.

The examples follow paper 16, Chang et al., "Thinking Like an Annotator: Generation of Dataset Labeling
Instructions" (arXiv 2306.14035, 2023; the algorithms are in :mod:`labelwise.generate.instructions`): a few real
rows per class, chosen so that a proxy annotator who has seen only those rows would pick out the class's other rows
(greedy-AP), or as representative and diverse rows (centrality plus max-marginal-relevance). The guide reports how
well its examples instruct: the held-out mAP of that proxy annotator next to the same figure for random examples.

Definitions come from a taxonomy (``definitions=``), else optionally from an LLM that reads the examples, else
none. The confusions come from an audit's noise matrix (``labelwise audit ... --out DIR``), when one is given.

:class:`LabellingGuide.save` writes ``guide.md`` and ``guide.json``; the self-contained HTML page is written by the
report floor (:func:`labelwise.report.guide_html.write_guide`), which the CLI calls.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.atomic import write_text_atomic
from labelwise.data.dataset import load_labelled_table
from labelwise.errors import DataError
from labelwise.generate import instructions as ins
from labelwise.progress import ProgressCallback, report

#: The default way to choose examples: paper 16's greedy search on AP. On Banking77 (77 intents, MiniLM, 5-fold
#: held-out) its examples reach mAP 0.845 at K = 3 against 0.746 for centrality + MMR, 0.773 for k-medoids and 0.655
#: for random rows (bench/labelling_guide.py, docs/guide.md); on digits 0.86-0.87 against 0.82 / 0.85 / 0.70. Its
#: search ranks each class against its hardest other rows on a binned AP: 4-7x MMR's cost with the held-out figure
#: on 10k-16k rows, at the exact search's mAP (bench/guide_speed.py).
DEFAULT_METHOD = "greedy-ap"
MAX_TEXT = 500  # characters of an example's text kept in the guide
MAX_FIELD = 80  # a column's value longer than this is not a "short field"
MAX_FIELDS = 4
MAX_DEFINITION = 240
TOP_CONFUSIONS = 3
MIN_CONFUSION = 0.005  # shares below half a percent are noise in the estimate, not a confusion worth a line


@dataclass
class Example:
    """One example row: ``row`` is its 0-based row in the input table, ``fields`` its other short columns."""

    row: int
    text: str
    fields: dict = field(default_factory=dict)


@dataclass
class Confusion:
    """Another class this one is mixed up with, from an audit's noise matrix P(given | true):
    ``share`` = P(given = other | true = this class), ``reverse_share`` = P(given = this class | true = other)."""

    label: str
    share: float
    reverse_share: float


@dataclass
class ClassGuide:
    name: str
    count: int
    definition: str = ""
    definition_source: str = "none"  # "taxonomy", "llm" or "none"
    examples: list = field(default_factory=list)
    confused_with: list = field(default_factory=list)
    held_out_ap: Optional[float] = None  # the proxy annotator's mean held-out AP for this class's examples


@dataclass
class LabellingGuide:
    """The guide: ``classes`` (one :class:`ClassGuide` each, largest first), how the examples were chosen
    (``method``, ``examples_per_class``) and ``quality``: held-out mAP of the guide's examples and of random ones
    (``{"folds", "k", "method": {"mean", "std", "per_fold"}, "random": {...}}``), or None when not measured."""

    label_column: str
    classes: list
    method: str
    examples_per_class: int
    n_rows: int
    source: str = "<DataFrame>"
    text_columns: list = field(default_factory=list)
    quality: Optional[dict] = None
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Every field as plain JSON-serialisable values."""
        out = asdict(self)
        out["schema_version"] = 1
        return out

    def to_markdown(self) -> str:
        """The guide as Markdown: summary, contents, then one section per class. Every string from the data is
        escaped, for Markdown and for the HTML that Markdown renderers let through."""
        return "\n".join(_markdown(self)) + "\n"

    def save(self, directory) -> Path:
        """Write ``guide.md`` and ``guide.json`` into ``directory`` (created if needed), each atomically. For
        ``guide.html`` as well use :func:`labelwise.report.guide_html.write_guide`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / "guide.md", self.to_markdown())
        write_text_atomic(directory / "guide.json", json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return directory

    def __repr__(self) -> str:
        q = ""
        if self.quality:
            q = (f", held-out mAP {self.quality['method']['mean']:.3f} vs random "
                 f"{self.quality['random']['mean']:.3f}")
        return (f"LabellingGuide({len(self.classes)} classes, {self.n_rows:,} rows, up to {self.examples_per_class} "
                f"examples each by {self.method}{q})")


# ---- the workflow -------------------------------------------------------------------------------------------------


def labelling_guide(data, *, label: str, text=None, encoder=None, definitions: Optional[Mapping[str, str]] = None,
                    noise_matrix=None, audit_dir=None, examples: int = 5, method: str = DEFAULT_METHOD,
                    backend=None, folds: int = 5, evaluate: bool = True, candidate_pool: int = ins.DEFAULT_POOL,
                    lambda_: float = ins.DEFAULT_LAMBDA, random_state: Optional[int] = 0,
                    progress: Optional[ProgressCallback] = None) -> LabellingGuide:
    """Build a labelling guide for the single-label column ``label`` of ``data`` (a table path or DataFrame).

    text: the text column(s) to embed with ``encoder`` (default :class:`labelwise.features.TextEncoder`, MiniLM,
    offline) and show; without it every other column is a tabular feature. examples: rows per class (a class with
    fewer rows gets all of them). method: one of ``labelwise.generate.instructions.EXAMPLE_METHODS`` ("mmr":
    central and diverse; "greedy-ap": paper 16's search). definitions: ``{class: definition}`` (a taxonomy's); for
    the classes without one, ``backend`` (an LLM, optional) writes one sentence from the examples. noise_matrix /
    audit_dir: an audit's P(given | true) to name each class's confusions: a DataFrame indexed and columned by class
    name (given rows, true columns), a (k, k) array in the order of the sorted classes, an ``AuditResult``, or the
    folder an audit was saved in. With an audit (an ``AuditResult`` or its folder) no row it flags (label issue,
    near-duplicate with a conflicting label, outlier: every check that flags rows) is an example, whatever the
    method; ``settings["audit_excluded"]`` counts them by flag (None: no audit, the examples are unchecked).
    evaluate: measure the held-out mAP of the chosen examples and of random ones by ``folds``-fold
    cross-validation, with the same rows kept out of the examples. Rows with a missing label are left out.
    """
    if method not in ins.EXAMPLE_METHODS:
        raise DataError(f"method must be one of {', '.join(ins.EXAMPLE_METHODS)}; got {method!r}. (class-mean is "
                        "not a real row, so it cannot be shown as an example.)")
    if not (isinstance(examples, (int, np.integer)) and examples >= 1):
        raise DataError(f"examples must be a positive integer (rows shown per class); got {examples!r}.")
    table = load_labelled_table(data, label=label, text=text, drop_missing=True)
    if table.labels.multi_label:
        raise DataError(f"Column '{label}' holds several labels per row; a labelling guide needs one label per row. "
                        "Pick a single-label column.")
    audit = _audit(noise_matrix, audit_dir)
    excluded, eligible = _flagged(audit, table) if audit is not None else (None, None)
    vectors, encoder_id = _embed(table, encoder, progress)
    codes = table.labels.codes
    names = list(table.labels.classes)
    options = dict(lambda_=lambda_, candidate_pool=candidate_pool, random_state=random_state, eligible=eligible)
    chosen = ins.select_exemplars(vectors, codes, examples, method, progress=progress, **options)
    shown = table.texts() if table.text_columns else _feature_texts(table.frame, table.feature_columns)
    counts = np.bincount(codes, minlength=len(names))
    guides = [ClassGuide(name=names[c], count=int(counts[c]),
                         examples=[_example(table, shown, int(i)) for i in chosen.get(c, [])])
              for c in range(len(names))]

    quality, per_class_ap = None, None
    if evaluate:
        quality, per_class_ap = _quality(vectors, codes, method, examples, folds, progress, options)
    if per_class_ap is not None:
        for g, ap in zip(guides, per_class_ap):
            g.held_out_ap = None if math.isnan(ap) else float(ap)
    unmatched = _apply_definitions(guides, definitions or {})
    if backend is not None:
        _llm_definitions(guides, backend, progress)
    matrix = _noise_matrix(audit if audit is not None else noise_matrix, None if audit is not None else audit_dir,
                           names)
    if matrix is not None:
        for c, g in enumerate(guides):
            g.confused_with = _confusions(matrix, names, c)

    guides.sort(key=lambda g: (-g.count, g.name))
    settings = {"candidate_pool": candidate_pool if method == "greedy-ap" else None,
                "lambda": lambda_ if method == "mmr" else None, "random_state": random_state,
                "encoder": encoder_id,
                "noise_matrix": "given" if matrix is not None else None,
                "audit_excluded": excluded,
                "audit_excluded_rows": None if eligible is None else int((~eligible).sum()),
                "definitions_not_in_data": unmatched,
                "llm": getattr(backend, "model", None)}
    return LabellingGuide(label_column=str(label), classes=guides, method=method, examples_per_class=int(examples),
                          n_rows=len(table), source=table.source, text_columns=list(table.text_columns),
                          quality=quality, settings=settings)


def _embed(table, encoder, progress) -> tuple[np.ndarray, str]:
    """((n, d) L2-normalised vectors, the encoder's model id)."""
    if table.text_columns:
        from labelwise.features.base import embed

        if encoder is None:
            from labelwise.features import TextEncoder

            encoder = TextEncoder()
        vectors = embed(encoder, table.texts(), progress)
        encoder_id = str(getattr(encoder, "model_id", type(encoder).__name__))
    else:
        from labelwise.features import TabularEncoder

        vectors = TabularEncoder().fit_transform(table.frame[table.feature_columns])
        encoder_id = "tabular"
    if vectors.ndim != 2 or vectors.shape[0] != len(table):
        raise DataError(f"The encoder returned shape {vectors.shape} for {len(table)} rows; it must return one "
                        "vector per row.")
    return ins.normalise_rows(vectors), encoder_id


def _audit(noise_matrix, audit_dir):
    """The ``AuditResult`` given (as ``noise_matrix``) or saved in ``audit_dir``, else None (no audit, or only a
    noise-matrix CSV)."""
    if hasattr(noise_matrix, "row_issues") and hasattr(noise_matrix, "row_ids"):
        return noise_matrix
    if noise_matrix is None and audit_dir is not None and Path(audit_dir).is_dir():
        from labelwise.audit.result import AuditResult

        return AuditResult.load(audit_dir)
    return None


def _flagged(audit, table) -> tuple[dict, np.ndarray]:
    """({flag: how many rows of this table it flags}, (n,) bool: the rows that may be examples) from an audit of
    the same table (rows are matched by their 0-based row in the input)."""
    n_input = table.n_input_rows if table.n_input_rows is not None else len(table)
    if audit.n_input_rows is not None and audit.n_input_rows != n_input:
        raise DataError(f"The audit was run on a table of {audit.n_input_rows:,} rows; this one has {n_input:,}. "
                        "Give the audit of this table (labelwise audit DATA --label COL --out DIR), or leave "
                        "--audit out.")
    excluded, bad = {}, np.zeros(len(table), dtype=bool)
    for flag, is_flagged in audit.row_issues().items():
        hit = np.isin(table.row_ids, audit.row_ids[np.asarray(is_flagged, dtype=bool)])
        excluded[flag] = int(hit.sum())
        bad |= hit
    return excluded, ~bad


def audit_sentence(guide: "LabellingGuide") -> str:
    """One plain sentence on whether the examples were checked against an audit (Markdown, HTML and the CLI)."""
    excluded = guide.settings.get("audit_excluded")
    if excluded is None:
        return ("The examples were not checked against an audit: a mislabelled row can be one of them (run "
                "labelwise audit, then pass its folder with --audit).")
    total = guide.settings.get("audit_excluded_rows") or 0
    if not total:
        return "The examples were checked against an audit, which flags none of these rows."
    flags = ", ".join(f"{n:,} {flag}" for flag, n in excluded.items() if n)
    return f"No example is a row the audit flags: {total:,} flagged rows were left out ({flags})."


def _clip(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _feature_texts(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """For a table without text: ``"col=value, ..."`` per row (the first 8 feature columns)."""
    cols = list(columns)[:8]
    return [", ".join(f"{c}={v}" for c, v in zip(cols, row)) for row in frame[cols].itertuples(index=False)]


def _example(table, shown: list, i: int) -> Example:
    skip = {table.labels.name, *table.text_columns, *table.feature_columns}
    fields: dict = {}
    for column in table.frame.columns:
        if column in skip or len(fields) >= MAX_FIELDS:
            continue
        value = table.frame.iloc[i][column]
        if isinstance(value, (list, tuple, np.ndarray)) or pd.isna(value):
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, float):
            value = float(f"{value:.4g}")  # a probability or a measurement, not 17 digits of noise
        if len(str(value)) <= MAX_FIELD:
            fields[str(column)] = value
    return Example(row=int(table.row_ids[i]), text=_clip(shown[i], MAX_TEXT), fields=fields)


def _summary(values: np.ndarray) -> dict:
    values = values[~np.isnan(values)]
    return {"mean": float(values.mean()), "std": float(values.std()), "per_fold": [float(v) for v in values]}


def _quality(vectors, codes, method, k, folds, progress, options):
    """(the quality dict, per-class held-out AP of ``method``) or (None, None) when no class can be scored."""
    counts = np.bincount(codes)
    if (counts >= 2).sum() < 2:
        return None, None
    folds = int(min(folds, counts.max()))
    per_method = ins.cross_validated_ap(vectors, codes, method, k, folds, progress=progress, **options)
    per_random = ins.cross_validated_ap(vectors, codes, "random", k, folds, progress=progress, **options)
    if np.isnan(per_method).all():
        return None, None
    with np.errstate(all="ignore"):
        fold_method = np.array([np.nanmean(r) if not np.isnan(r).all() else np.nan for r in per_method])
        fold_random = np.array([np.nanmean(r) if not np.isnan(r).all() else np.nan for r in per_random])
        per_class = np.array([np.nanmean(col) if not np.isnan(col).all() else np.nan for col in per_method.T])
    quality = {"folds": folds, "k": int(k), "combine": "max", "method": _summary(fold_method),
               "random": _summary(fold_random)}
    return quality, per_class


# ---- definitions ------------------------------------------------------------------------------------------------


def _key(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


def _apply_definitions(guides: list, definitions: Mapping[str, str]) -> list:
    """Fill in definitions by class name (exact, else ignoring case, ``_``/``-`` and spacing); return the names of
    definitions that match no class (probably a typo or a class the data does not have)."""
    exact = {str(k): str(v) for k, v in definitions.items() if v is not None and str(v).strip()}
    loose = {_key(k): v for k, v in exact.items()}
    used = set()
    for g in guides:
        found = exact.get(g.name)
        if found is None and _key(g.name) in loose:
            found = loose[_key(g.name)]
        if found is not None:
            g.definition, g.definition_source = _clip(found, 2000), "taxonomy"
            used.add(_key(g.name))
    return sorted(k for k in exact if _key(k) not in used)


def definition_prompt(name: str, texts: Sequence[str]) -> str:
    """The prompt asking an LLM for a one-sentence definition of class ``name`` from its example texts."""
    lines = "\n".join(f"- {_clip(t, 200)}" for t in texts)
    return (f'Here are examples of texts with the label "{name}":\n{lines}\n\n'
            f'In one sentence, say which texts should get the label "{name}".\nDefinition:')


_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def clean_definition(answer: str, name: str) -> str:
    """A model's answer cut to one plain sentence of at most ``MAX_DEFINITION`` characters, or ``""`` when it is not
    usable (empty, under three words, mostly not letters, or echoing the prompt)."""
    text = " ".join(str(answer).split()).strip(" \"'`*-•:")
    if not text:
        return ""
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    words = sentence.split()
    letters = len(_LETTERS.findall(sentence))
    if (len(words) < 3 or letters < 0.6 * len(sentence.replace(" ", "")) or "Here are examples" in sentence
            or sentence.lower().startswith("- ") or _key(sentence) == _key(name)):
        return ""
    sentence = _clip(sentence, MAX_DEFINITION)
    return sentence if sentence[-1] in ".!?…" else sentence + "."


def _llm_definitions(guides: list, backend, progress) -> None:
    todo = [g for g in guides if not g.definition and g.examples]
    for step, g in enumerate(todo):
        prompt = definition_prompt(g.name, [e.text for e in g.examples])
        answer = backend.complete(prompt, max_tokens=60, stop=["\n"]).text
        definition = clean_definition(answer, g.name)
        if definition:
            g.definition, g.definition_source = definition, "llm"
        report(progress, "definitions", step + 1, len(todo))


# ---- confusions -------------------------------------------------------------------------------------------------


def read_noise_matrix(path) -> pd.DataFrame:
    """An audit folder (read with ``AuditResult.load``), or a noise-matrix CSV (a class-name column, then one number
    column per class) -> DataFrame P(given = row | true = column), indexed and columned by class name (as strings)."""
    path = Path(path)
    if path.is_dir():
        from labelwise.audit.result import AuditResult

        audit = AuditResult.load(path)
        if audit.noise is None:
            raise DataError(f"The audit in {path} is multi-label, so it has no noise matrix. Leave --audit out.")
        names = [str(c) for c in audit.classes]
        return pd.DataFrame(audit.noise.noise_matrix, index=names, columns=names)
    if not path.is_file():
        raise DataError(f"No noise matrix at {path}: it does not exist. Give the folder written by `labelwise audit "
                        "DATA --label COL --out DIR` (or a noise_matrix.csv), or leave --audit out.")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    try:
        matrix = frame.set_index(frame.columns[0]).astype(float)
    except ValueError as err:
        raise DataError(f"{path} is not a noise matrix (a class-name column, then one number column per class): "
                        f"{err}.") from None
    matrix.index = [str(i) for i in matrix.index]
    matrix.columns = [str(c) for c in matrix.columns]
    return matrix


def _noise_matrix(noise_matrix, audit_dir, names: list) -> Optional[np.ndarray]:
    """The (k, k) P(given | true) aligned to ``names`` (classes the matrix lacks get zeros), or None."""
    if noise_matrix is None and audit_dir is None:
        return None
    if noise_matrix is None:
        frame = read_noise_matrix(audit_dir)
    elif isinstance(noise_matrix, pd.DataFrame):
        frame = noise_matrix.copy()
        frame.index, frame.columns = [str(i) for i in frame.index], [str(c) for c in frame.columns]
    elif hasattr(noise_matrix, "noise") and hasattr(noise_matrix, "classes"):  # an AuditResult
        if noise_matrix.noise is None:
            return None
        frame = pd.DataFrame(noise_matrix.noise.noise_matrix, index=noise_matrix.classes,
                             columns=noise_matrix.classes)
    elif isinstance(noise_matrix, (str, Path)):
        frame = read_noise_matrix(noise_matrix)
    else:
        array = np.asarray(noise_matrix, dtype=float)
        if array.shape != (len(names), len(names)):
            raise DataError(f"noise_matrix must be ({len(names)}, {len(names)}) for the {len(names)} classes (sorted "
                            f"as {names[:3]}...); got {array.shape}. Or pass a DataFrame labelled by class name.")
        return array
    common = [n for n in names if n in frame.index and n in frame.columns]
    if not common:
        raise DataError(f"The noise matrix names none of the classes of this column (it has {list(frame.index)[:5]}"
                        f"...; the data has {names[:5]}...). Was the audit run on another label column?")
    return frame.reindex(index=names, columns=names).fillna(0.0).to_numpy(dtype=float)


def _confusions(matrix: np.ndarray, names: list, c: int) -> list:
    """Up to ``TOP_CONFUSIONS`` other classes ranked by P(given=j | true=c) + P(given=c | true=j)."""
    share, reverse = matrix[:, c].copy(), matrix[c, :].copy()
    share[c] = reverse[c] = 0.0
    order = np.argsort(-(share + reverse), kind="stable")
    return [Confusion(names[j], float(share[j]), float(reverse[j])) for j in order[:TOP_CONFUSIONS]
            if max(share[j], reverse[j]) >= MIN_CONFUSION]


# ---- markdown ---------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~!])")


def md(value: Any) -> str:
    """A data string made safe for Markdown: one line, HTML-significant characters as entities, Markdown syntax
    characters backslash-escaped."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def quality_sentence(guide: LabellingGuide) -> str:
    """One plain sentence on how well the examples instruct (shared by the Markdown and the HTML page)."""
    q = guide.quality
    if not q:
        return "How well the examples instruct was not measured (too few rows per class, or evaluate=False)."
    return (f"A proxy annotator that has seen only a class's examples ranks unseen rows of that class above the "
            f"rest with mean average precision {q['method']['mean']:.3f} ± {q['method']['std']:.3f} "
            f"({q['folds']}-fold, held out), against {q['random']['mean']:.3f} ± {q['random']['std']:.3f} for "
            f"{q['k']} random examples per class (1.0 = perfect).")


def confusion_text(c: Confusion, name: str) -> str:
    return (f"{c.share:.1%} of the rows that are truly {name} are labelled {c.label}; "
            f"{c.reverse_share:.1%} of the rows truly {c.label} are labelled {name}")


def _markdown(guide: LabellingGuide) -> list:
    lines = [f"# Labelling guide: {md(guide.label_column)}", "",
             f"{guide.n_rows:,} rows in {len(guide.classes)} classes from {md(guide.source)}. Up to "
             f"{guide.examples_per_class} examples per class, chosen by {md(guide.method)}.", "",
             quality_sentence(guide), "", md(audit_sentence(guide)), "", "## Classes", ""]
    for i, g in enumerate(guide.classes):
        lines.append(f"{i + 1}. [{md(g.name)}](#class-{i}) ({g.count:,} row{'' if g.count == 1 else 's'})")
    for i, g in enumerate(guide.classes):
        lines += ["", f'<a id="class-{i}"></a>', "", f"## {md(g.name)}", ""]
        definition = md(g.definition) if g.definition else "_no definition_"
        lines.append(f"**Definition** ({g.definition_source}): {definition}")
        ap = f"; held-out AP of these examples {g.held_out_ap:.3f}" if g.held_out_ap is not None else ""
        lines += ["", f"**Rows:** {g.count:,}{ap}"]
        if g.confused_with:
            lines += ["", "**Often confused with:**", ""]
            lines += [f"- {md(c.label)}: {md(confusion_text(c, g.name))}" for c in g.confused_with]
        lines += ["", "**Examples:**", ""]
        for e in g.examples:
            extra = "; ".join(f"{md(k)}: {md(v)}" for k, v in e.fields.items())
            lines.append(f"- row {e.row}: {md(e.text)}" + (f" ({extra})" if extra else ""))
    return lines
