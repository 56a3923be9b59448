"""Span projection baselines: move a source sentence's spans onto its translation without an MT model.

The reference points for Codec (``labelwise.generate.projection``; Le et al., "Constrained Decoding for
Cross-lingual Label Projection", ICLR 2024), compared on one fixture by ``bench/span_projection.py``. Each is a
*Projector*: ``(source_text, spans, target_text) -> list[Optional[Span]]``, one target :class:`Span` (character
offsets on ``target_text``, the source span's label) or ``None`` (not projected) per source span, in the order given.

* :func:`project_exact`: the source span's text found in the target (case-insensitive, whole words);
* :func:`project_fuzzy`: the target word n-gram most like the source span's text (rapidfuzz's normalised Indel
  similarity, case and accents ignored), kept above a threshold;
* :func:`project_embedding`: the target word n-gram whose MiniLM sentence embedding is closest to the source span's,
  kept above a threshold.

Candidates are target word n-grams: runs of tokens (``labelwise.data.spans.tokenize``) that start and end on a word
and hold no clause punctuation (``, ; : ! ? ( ) " «»``), of at most the source span's token count plus
``extra_tokens`` tokens (translations add articles, prepositions and compounds: "World Health Organization" ->
"Organización Mundial de la Salud"). A row's spans never overlap: the (span, candidate) pairs are taken greedily,
best score first, ties to the candidate whose relative position in the target (its centre over the target's
length) is nearest the source span's relative position in the source; a pair is skipped when its span already has
a target or its candidate overlaps one taken. So a repeated entity ("Nadal ... Nadal") maps in order.

:func:`span_f1` scores projections against gold target spans: exact (start, end, label) matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from labelwise.data.spans import Span, tokenize
from labelwise.errors import ParameterError

if TYPE_CHECKING:
    from labelwise.features.text import TextEncoder

__all__ = ["Projector", "project_exact", "project_fuzzy", "project_embedding", "span_f1",
           "FUZZY_THRESHOLD", "EMBEDDING_THRESHOLD"]

Projector = Callable[[str, Sequence[Span], str], list[Optional[Span]]]

#: rapidfuzz ``fuzz.ratio`` / 100 a candidate must exceed: Codec's own lexical-similarity cut (its re-ranking keeps a
#: target candidate whose difflib ratio to the source entity is > 0.5), set before any run on the fixture.
FUZZY_THRESHOLD = 0.5
#: MiniLM cosine a candidate must exceed: half-way between unrelated and identical, set before any run on the
#: fixture (not tuned on it).
EMBEDDING_THRESHOLD = 0.5
_WORD = re.compile(r"\w")
_CLAUSE_PUNCT = set(',;:!?()[]{}"«»“”')


def _as_spans(spans: Sequence[Any]) -> list[Span]:
    return [s if isinstance(s, Span) else Span(*s) for s in spans]


def _relative_centre(start: int, end: int, text: str) -> float:
    return (start + end) / 2 / max(len(text), 1)


def _candidates(target_text: str, max_tokens: int) -> list[tuple[int, int]]:
    """Target word n-grams ``(start, end)`` of 1..``max_tokens`` tokens (see the module docstring)."""
    toks = tokenize(target_text)
    is_word = [_WORD.match(target_text, a) is not None for a, _ in toks]
    out = []
    for i, (a, _) in enumerate(toks):
        if not is_word[i]:
            continue
        for j in range(i, min(i + max_tokens, len(toks))):
            if not is_word[j]:
                if target_text[toks[j][0]:toks[j][1]] in _CLAUSE_PUNCT:
                    break
                continue
            out.append((a, toks[j][1]))
    return out


def _assign(source_text: str, spans: list[Span], target_text: str,
            scored: list[tuple[float, int, int, int]]) -> list[Optional[Span]]:
    """Greedy one-to-one choice of ``scored`` ``(score, span_index, start, end)``: best score first, ties to the
    nearest relative position; a span gets at most one target, targets never overlap."""
    def key(item: tuple[float, int, int, int]) -> tuple[float, float, int]:
        score, i, start, end = item
        shift = abs(_relative_centre(start, end, target_text) - _relative_centre(spans[i].start, spans[i].end,
                                                                                 source_text))
        return -score, shift, start

    out: list[Optional[Span]] = [None] * len(spans)
    taken: list[tuple[int, int]] = []
    for score, i, start, end in sorted(scored, key=key):
        if out[i] is None and all(end <= a or start >= b for a, b in taken):
            out[i] = Span(start, end, spans[i].label)
            taken.append((start, end))
    return out


def project_exact(source_text: str, spans: Sequence[Span], target_text: str) -> list[Optional[Span]]:
    """Each source span's text found in ``target_text`` (case-insensitive, not inside a longer word).

    When the text occurs several times, the occurrence nearest the span's relative position wins (and two equal
    source spans take two occurrences, in order). A text not found gives ``None``: every changed form ("Germany" ->
    "Alemania") is lost. Returns ``(len(spans),)`` ``Optional[Span]``.
    """
    spans = _as_spans(spans)
    scored = []
    for i, s in enumerate(spans):
        pattern = re.compile(r"(?<!\w)" + re.escape(source_text[s.start:s.end]) + r"(?!\w)", re.IGNORECASE)
        scored += [(1.0, i, m.start(), m.end()) for m in pattern.finditer(target_text)]
    return _assign(source_text, spans, target_text, scored)


def _fold(text: str) -> str:
    """Case and accents dropped (``"México"`` -> ``"mexico"``), so they do not count as edits."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def project_fuzzy(source_text: str, spans: Sequence[Span], target_text: str, *,
                  threshold: float = FUZZY_THRESHOLD, extra_tokens: int = 2) -> list[Optional[Span]]:
    """Each source span onto the target n-gram most like its text (rapidfuzz ``fuzz.ratio``).

    Similarity: ``rapidfuzz.fuzz.ratio(a, b) / 100`` (normalised Indel similarity, the same measure as difflib's
    ratio) of the two texts with case and accents dropped; a candidate is kept when it is > ``threshold``
    (default :data:`FUZZY_THRESHOLD`, Codec's lexical cut). Candidates: target word n-grams of at most the span's
    token count + ``extra_tokens`` tokens. Catches spelling-level changes (London -> Londres, Mexico -> México),
    misses translations that share no letters (Germany -> Deutschland). Returns ``(len(spans),)``
    ``Optional[Span]``.
    """
    from rapidfuzz import fuzz

    spans = _as_spans(spans)
    scored = []
    for i, s in enumerate(spans):
        needle = source_text[s.start:s.end]
        folded = _fold(needle)
        for a, b in _candidates(target_text, len(tokenize(needle)) + extra_tokens):
            score = fuzz.ratio(folded, _fold(target_text[a:b])) / 100
            if score > threshold:
                scored.append((score, i, a, b))
    return _assign(source_text, spans, target_text, scored)


@lru_cache(maxsize=1)
def _default_encoder() -> "TextEncoder":
    from labelwise.features.text import TextEncoder

    return TextEncoder()


def project_embedding(source_text: str, spans: Sequence[Span], target_text: str, *, encoder: Any = None,
                      threshold: float = EMBEDDING_THRESHOLD, extra_tokens: int = 2) -> list[Optional[Span]]:
    """Each source span onto the target n-gram whose sentence embedding is closest to the span text's.

    ``encoder``: anything with ``encode(texts) -> (n, dim)`` L2-normalised rows; ``None``: the packaged MiniLM
    (:class:`labelwise.features.text.TextEncoder`, one per process). Every span text and every candidate (target
    word n-grams of at most the span's token count + ``extra_tokens`` tokens) is embedded once per call; a
    candidate is kept when its cosine to the span is > ``threshold`` (default :data:`EMBEDDING_THRESHOLD`).
    all-MiniLM-L6-v2 was trained on English: it matches shared word pieces (Merkel, Madrid, Nations / Naciones)
    better than meaning across languages. Returns ``(len(spans),)`` ``Optional[Span]``.
    """
    spans = _as_spans(spans)
    if not spans:
        return []
    needles = [source_text[s.start:s.end] for s in spans]
    longest = max(len(tokenize(t)) for t in needles) + extra_tokens
    cands = _candidates(target_text, longest)
    if not cands:
        return [None] * len(spans)
    encoder = _default_encoder() if encoder is None else encoder
    vectors = np.asarray(encoder.encode(needles + [target_text[a:b] for a, b in cands]), dtype=np.float64)
    sims = vectors[:len(needles)] @ vectors[len(needles):].T  # (n_spans, n_candidates) cosines
    n_tokens = [len(tokenize(target_text[a:b])) for a, b in cands]
    scored = []
    for i, needle in enumerate(needles):
        bound = len(tokenize(needle)) + extra_tokens
        scored += [(float(sims[i, k]), i, a, b) for k, (a, b) in enumerate(cands)
                   if n_tokens[k] <= bound and sims[i, k] > threshold]
    return _assign(source_text, spans, target_text, scored)


def span_f1(predicted: Sequence[Sequence[Optional[Span]]], gold: Sequence[Sequence[Any]]) -> dict[str, float]:
    """Exact-span precision, recall and F1 over rows.

    ``predicted[r]``: row r's projected spans (``None`` entries are projections that failed: they count as misses,
    not as predictions); ``gold[r]``: row r's true target spans (:class:`Span` or ``(start, end, label)``). A
    prediction is right when (start, end, label) equals a gold span of its row not yet matched. Returns
    ``{"precision", "recall", "f1", "tp", "n_predicted", "n_gold"}``; a ratio with a zero denominator is 0.0.
    """
    if len(predicted) != len(gold):
        raise ParameterError(f"span_f1: {len(predicted)} rows of predictions but {len(gold)} rows of gold spans; "
                             f"give one list per row in both.")
    tp = n_pred = n_gold = 0
    for pred_row, gold_row in zip(predicted, gold):
        pred = Counter(_as_spans([s for s in pred_row if s is not None]))
        true = Counter(_as_spans(gold_row))
        tp += sum((pred & true).values())
        n_pred += sum(pred.values())
        n_gold += sum(true.values())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_predicted": n_pred, "n_gold": n_gold}
