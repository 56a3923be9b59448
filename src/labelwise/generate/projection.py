"""Span labels moved onto a translation by constrained marker search (Codec, seed paper 7).

Le et al., "Constrained Decoding for Cross-lingual Label Projection" (ICLR 2024). The translation is made (or given)
without markers; for each source span, the source gets one marker pair (``"Only France and [ Britain ] backed"``)
and :func:`labelwise.generate.marker_search.constrained_marker_search` finds where the pair goes in the fixed
translation. The n-best candidates are re-ranked with the paper's two signals: a reverse score
``NLL(source entity | target entity)`` (the scorer translating the other way, when it has ``reverse()``) and the
lexical similarity of the two entities (rapidfuzz). Candidates with similarity > 0.5 or reverse NLL < 5 are kept
and one with similarity >= 0.9 wins; then ``rerank="reverse"`` takes the lowest reverse NLL (the paper's rule; the
shorter span on a tie) and ``rerank="filter"`` (the default) the search's order. With Gemma 3 270M the reverse NLL
prefers long spans that contain the entity ("Francia y Gran Bretaña" -> "France": 0.91 nats, "Francia": 1.04), so
the filter is the default; ``rerank="none"`` keeps the search's best as it is.
Projected spans never overlap: a span whose choice overlaps an earlier one takes its next candidate, or fails.

Character offsets come from the scorer's own tokenizer (``char_starts``): a marker before template token ``i`` is
character ``starts[i]`` of the translation, and the span is stripped of the spaces at its ends (and of punctuation at
an end where the source entity has none).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from labelwise.data.atomic import write_text_atomic
from labelwise.data.formula import neutralise_frame
from labelwise.data.spans import Span, SpanRecord, read_span_jsonl, validate_spans, write_span_jsonl
from labelwise.errors import DataError, LabelwiseError, ParameterError
from labelwise.generate.marker_search import candidate_open_positions, constrained_marker_search
from labelwise.progress import report

__all__ = ["ProjectedSpan", "ProjectionResult", "mark_source", "project_spans", "project_spans_detailed",
           "project_table"]

MODES = {"exact": -1, "fast": 5}  # future_steps of each search mode (the paper's example uses 5)
KEEP_SIMILARITY, SURE_SIMILARITY, KEEP_REVERSE_NLL = 0.5, 0.9, 5.0


@dataclass(frozen=True)
class ProjectedSpan:
    """One source span and what became of it: ``target`` (a span of the translation, same label) or None;
    ``score``: the marked translation's log-probability (NaN when none); ``similarity``: rapidfuzz ratio in [0, 1]
    of the two entities; ``reverse_nll``: NLL(source entity | target entity) (NaN without a reverse scorer);
    ``status``: "projected" or "failed: why"."""

    source: Span
    target: Optional[Span]
    score: float = math.nan
    similarity: float = math.nan
    reverse_nll: float = math.nan
    status: str = "projected"


def mark_source(text: str, span: Span) -> str:
    """``text`` with ``span`` wrapped in the markers, spaced as in the paper: ``"and [ Britain ] backed"``."""
    return f"{text[: span.start]}[ {text[span.start: span.end]} ]{text[span.end:]}"


def _similarity(a: str, b: str) -> float:
    from rapidfuzz import fuzz
    from rapidfuzz.utils import default_process

    return fuzz.ratio(a, b, processor=default_process) / 100.0


def _char_span(target_text: str, starts: list, open_: int, close: int, label: str, entity: str = "x"
               ) -> Optional[Span]:
    """Template tokens ``open .. close - 1`` as a character span, without the spaces at its ends, nor the
    punctuation at an end where the source ``entity`` has none (a close marker after "John." gives "John")."""
    bounds = list(starts) + [len(target_text)]
    start, end = bounds[open_], bounds[close]
    while start < end and (target_text[start].isspace() or (_is_punct(target_text[start]) and entity[:1].isalnum())):
        start += 1
    while end > start and (target_text[end - 1].isspace() or (_is_punct(target_text[end - 1])
                                                               and entity[-1:].isalnum())):
        end -= 1
    return Span(start, end, label) if end > start else None


def _is_punct(char: str) -> bool:
    return not char.isalnum() and not char.isspace()


def _reverse_nll(reverse, target_entity: str, source_entity: str) -> float:
    ids = reverse.tokenize(source_entity)
    return -float(np.sum(reverse.sequence_logprobs(target_entity, ids))) if ids else math.nan


RERANK = ("filter", "reverse", "none")


def _ranked(candidates: list, rerank: str) -> list:
    """Codec's re-ranking of (Span, score, similarity, reverse NLL) candidates given in search order: the kept ones
    by preference (see the module's docstring), then the rest in search order."""
    if rerank == "none":
        return candidates
    kept = [c for c in candidates if c[2] > KEEP_SIMILARITY or c[3] < KEEP_REVERSE_NLL]
    rest = [c for c in candidates if c not in kept]
    sure = [c for c in kept if c[2] >= SURE_SIMILARITY]
    unsure = [c for c in kept if c[2] < SURE_SIMILARITY]
    if rerank == "reverse" and unsure and not math.isnan(unsure[0][3]):
        unsure.sort(key=lambda c: (c[3], c[0].end - c[0].start))
    return sure + unsure + rest


def _candidates(source_text, span, target_text, template, starts, scorer, reverse, mode, n_best, prune,
                max_expansions) -> list:
    """The search's distinct candidate spans for ``span``, in its order: (Span, score, similarity, reverse NLL)."""
    marked = mark_source(source_text, span)
    positions = candidate_open_positions(scorer, source_text, marked, template) if prune else []
    found = constrained_marker_search(scorer, marked, template, n_best=n_best, future_steps=MODES[mode],
                                      open_positions=positions or None, max_expansions=max_expansions)
    entity, candidates, seen = source_text[span.start: span.end], [], set()
    for m in found:
        target = _char_span(target_text, starts, m.open, m.close, span.label, entity)
        if target is None or target in seen:
            continue
        seen.add(target)
        words = target_text[target.start: target.end]
        nll = _reverse_nll(reverse, words, entity) if reverse is not None else math.nan
        candidates.append((target, m.score, _similarity(entity, words), nll))
    return candidates


def project_spans_detailed(source_text: str, spans: Sequence, target_text: str, scorer, *, mode: str = "exact",
                           n_best: int = 5, prune: bool = True, rerank: str = "filter",
                           max_expansions: int = 20000) -> list:
    """One :class:`ProjectedSpan` per span of ``spans`` (``Span`` or ``(start, end, label)``; checked against
    ``source_text``: a DataError for one out of range or overlapping another), same order.

    ``scorer``: a :class:`~labelwise.generate.marker_search.SequenceScorer` (its ``reverse()``, when it has one,
    gives the reverse score; the reverse scorer's ``calls`` and ``tokens`` are added to the scorer's). ``mode``:
    "exact" (branch-and-bound) or "fast" (``future_steps=5``). ``prune``: open markers only where the marked source
    moves the translation's token log-probabilities
    (:func:`~labelwise.generate.marker_search.candidate_open_positions`; all positions when none moves).
    ``rerank``: "filter", "reverse" or "none" (see the module's docstring).
    """
    if mode not in MODES:
        raise ParameterError(f"mode {mode!r}: use 'exact' or 'fast'.")
    if rerank not in RERANK:
        raise ParameterError(f"rerank {rerank!r}: use one of {', '.join(RERANK)}.")
    validate_spans(source_text, spans)  # in range, integer offsets, no overlaps (DataError); the order is kept
    spans = [Span(*s) for s in spans]
    if not target_text.strip():
        return [ProjectedSpan(s, None, status="failed: empty translation") for s in spans]
    try:
        template = scorer.tokenize(target_text)
        starts = scorer.char_starts(target_text, template)
    except LabelwiseError as err:
        return [ProjectedSpan(s, None, status=f"failed: {err}") for s in spans]
    reverse = scorer.reverse() if rerank != "none" and hasattr(scorer, "reverse") else None
    reverse_cost = (getattr(reverse, "calls", 0), getattr(reverse, "tokens", 0))
    ranked_per_span, errors = [], []
    for span in spans:
        try:
            ranked_per_span.append(_ranked(_candidates(source_text, span, target_text, template, starts, scorer,
                                                       reverse, mode, n_best, prune, max_expansions), rerank))
            errors.append("no candidate")
        except LabelwiseError as err:  # e.g. a text longer than the model's context: this span fails, not the run
            ranked_per_span.append([])
            errors.append(str(err))
    if reverse is not None and hasattr(scorer, "calls"):  # the same model asked the other way: count it too
        scorer.calls += getattr(reverse, "calls", 0) - reverse_cost[0]
        scorer.tokens += getattr(reverse, "tokens", 0) - reverse_cost[1]
    out, taken = [], []
    for span, ranked, error in zip(spans, ranked_per_span, errors):
        if not ranked:
            out.append(ProjectedSpan(span, None, status=f"failed: {error}"))
            continue
        free = [c for c in ranked if not any(c[0].start < t.end and t.start < c[0].end for t in taken)]
        if not free:
            out.append(ProjectedSpan(span, None, ranked[0][1], ranked[0][2], ranked[0][3],
                                     "failed: overlaps another projected span"))
            continue
        target, score, similarity, nll = free[0]
        taken.append(target)
        out.append(ProjectedSpan(span, target, score, similarity, nll))
    return out


def project_spans(source_text: str, spans: Sequence, target_text: str, scorer, *, mode: str = "exact",
                  n_best: int = 5, **options) -> list:
    """The target :class:`Span` (character offsets on ``target_text``, same label) or None per source span, same
    order: a Projector once ``scorer`` is bound. Options as :func:`project_spans_detailed`."""
    return [p.target for p in project_spans_detailed(source_text, spans, target_text, scorer, mode=mode,
                                                     n_best=n_best, **options)]


@dataclass
class ProjectionResult:
    """``source_texts``, ``translations``: (n,) str; ``projected``: per row the :class:`ProjectedSpan` list of its
    source spans; ``settings``: mode, n-best, model and the scorer's call counts."""

    source_texts: list
    translations: list
    projected: list
    settings: dict = field(default_factory=dict)

    @property
    def target_spans(self) -> list:
        """Per row the projected spans of its translation, sorted: (n,) lists of :class:`Span`."""
        return [sorted(p.target for p in row if p.target is not None) for row in self.projected]

    def __repr__(self) -> str:
        total = sum(len(row) for row in self.projected)
        done = sum(p.target is not None for row in self.projected for p in row)
        return f"ProjectionResult({len(self.translations)} rows, {done}/{total} spans projected)"

    def to_frame(self):
        """One line per source span: row, label, source_start, source_end, source_text, target_start, target_end,
        target_text (offsets nullable Int64, empty text when it failed), score, similarity, reverse_nll, status."""
        import pandas as pd

        records = []
        for row, (source, translation, items) in enumerate(zip(self.source_texts, self.translations,
                                                                self.projected)):
            for p in items:
                t = p.target
                records.append({"row": row, "label": p.source.label, "source_start": p.source.start,
                                "source_end": p.source.end, "source_text": source[p.source.start: p.source.end],
                                "target_start": None if t is None else t.start,
                                "target_end": None if t is None else t.end,
                                "target_text": "" if t is None else translation[t.start: t.end],
                                "score": p.score, "similarity": p.similarity, "reverse_nll": p.reverse_nll,
                                "status": p.status})
        columns = ["row", "label", "source_start", "source_end", "source_text", "target_start", "target_end",
                   "target_text", "score", "similarity", "reverse_nll", "status"]
        frame = pd.DataFrame(records, columns=columns)
        for column in ("target_start", "target_end"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def records(self) -> list:
        """The translations with their projected spans as span JSONL records (``source`` and ``source_spans`` kept
        beside them)."""
        return [SpanRecord(translation, spans, {"row": row, "text": translation, "source": source,
                                                "source_spans": [[p.source.start, p.source.end, p.source.label]
                                                                 for p in items]})
                for row, (source, translation, items, spans) in enumerate(zip(
                    self.source_texts, self.translations, self.projected, self.target_spans))]

    def save(self, directory) -> Path:
        """Write ``projected.jsonl`` (span JSONL: ``labelwise audit --spans`` and ``read_span_jsonl`` read it),
        ``projection.csv`` (:meth:`to_frame`, formula-neutralised) and ``summary.json`` into ``directory``,
        atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_span_jsonl(directory / "projected.jsonl", self.records())
        write_text_atomic(directory / "projection.csv", neutralise_frame(self.to_frame()).to_csv(index=False))
        frame = self.to_frame()
        summary = {"rows": len(self.translations), "spans": len(frame),
                   "projected": int((frame["status"] == "projected").sum()), **self.settings}
        write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory) -> "ProjectionResult":
        """A result :meth:`save` wrote."""
        import pandas as pd

        directory = Path(directory)
        records = read_span_jsonl(directory / "projected.jsonl")
        frame = pd.read_csv(directory / "projection.csv", keep_default_na=False, na_values=[""],
                            dtype={"label": str, "status": str})
        settings = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        for key in ("rows", "spans", "projected"):
            settings.pop(key, None)
        projected = [[] for _ in records]
        for line in frame.itertuples(index=False):  # labels from the JSONL: the CSV's text cells are neutralised
            row = int(line.row)
            start, end, label = records[row].record["source_spans"][len(projected[row])]
            target = None
            if not pd.isna(line.target_start):
                target = Span(int(line.target_start), int(line.target_end), label)
            projected[row].append(ProjectedSpan(Span(start, end, label), target, float(line.score),
                                                float(line.similarity), float(line.reverse_nll), str(line.status)))
        return cls([r.record["source"] for r in records], [r.text for r in records], projected, settings)


def project_table(source_texts: Sequence[str], source_spans: Sequence, translations: Sequence[str], scorer, *,
                  mode: str = "exact", n_best: int = 5, prune: bool = True, rerank: str = "filter",
                  max_expansions: int = 20000, model: str = "", progress=None) -> ProjectionResult:
    """Every row's spans projected onto its translation. ``source_texts``, ``translations``: (n,) str;
    ``source_spans``: (n,) lists of spans (validated against their text). ``progress(stage, done, total)``."""
    if len(source_texts) != len(translations) or len(source_texts) != len(source_spans):
        raise DataError(f"{len(source_texts)} texts, {len(source_spans)} span lists and {len(translations)} "
                        "translations: give one of each per row.")
    spans = [validate_spans(text, s, row) for row, (text, s) in enumerate(zip(source_texts, source_spans))]
    calls, tokens = getattr(scorer, "calls", 0), getattr(scorer, "tokens", 0)
    projected = []
    for row, (text, row_spans, translation) in enumerate(zip(source_texts, spans, translations)):
        projected.append(project_spans_detailed(text, row_spans, translation, scorer, mode=mode, n_best=n_best,
                                                prune=prune, rerank=rerank, max_expansions=max_expansions))
        report(progress, "projecting spans", row + 1, len(source_texts))
    settings = {"mode": mode, "n_best": n_best, "prune": prune, "rerank": rerank, "model": model,
                "scorer_calls": getattr(scorer, "calls", 0) - calls,
                "tokens_evaluated": getattr(scorer, "tokens", 0) - tokens}
    return ProjectionResult(list(source_texts), list(translations), projected, settings)
