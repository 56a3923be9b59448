"""Synthetic span-label corruption with a known truth, for checking span issue types
(:mod:`labelwise.audit.token_classification.spans`): BIO tags, simulated token probabilities, and given labels
with shifted boundaries, swapped types and dropped spans."""

from __future__ import annotations

import re

import numpy as np


def bio_class_names(types: list[str]) -> list[str]:
    """["O", "B-T1", "I-T1", "B-T2", ...] for the span types."""
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def random_bio(rng: np.random.Generator, n_sentences: int, n_types: int) -> list[np.ndarray]:
    """Sentences of 8..20 tokens with 1..3 spans of 1..3 tokens, at least two ``O`` tokens between spans."""
    out = []
    for _ in range(n_sentences):
        tags = np.zeros(rng.integers(8, 21), dtype=np.int64)
        t = int(rng.integers(0, 2))
        for _ in range(rng.integers(1, 4)):
            length = int(rng.integers(1, 4))
            if t + length > tags.size:
                break
            typ = int(rng.integers(0, n_types))
            tags[t] = 1 + 2 * typ
            tags[t + 1:t + length] = 2 + 2 * typ
            t += length + int(rng.integers(2, 5))
        out.append(tags)
    return out


def whitespace_bio(text: str, spans: list[tuple[int, int, str]], types: list[str]) -> tuple[list[str], np.ndarray]:
    """A text and its character spans [start, end) with types -> (whitespace tokens, (T,) BIO tag ids under
    :func:`bio_class_names`); a token belongs to a span when their characters overlap (first span wins)."""
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    tags = np.zeros(len(words), dtype=np.int64)
    for start, end, typ in sorted(spans):
        inside = [i for i, (a, b, _) in enumerate(words) if a < end and b > start and tags[i] == 0]
        if inside:
            c = types.index(typ)
            tags[inside[0]] = 1 + 2 * c
            tags[inside[1:]] = 2 + 2 * c
    return [w for _, _, w in words], tags


def simulate_pred_probs(rng: np.random.Generator, tags: list[np.ndarray], k: int, peak: float = 12.0,
                        flat: float = 3.0) -> list[np.ndarray]:
    """Per sentence (T_i, k) probabilities: Dirichlet with ``flat / k`` on every class plus ``peak`` on the true tag
    (mean probability of the true tag ``peak / (peak + flat)``, whatever k)."""
    flat = flat / k
    out = []
    for t in tags:
        alpha = np.full((t.size, k), flat)
        alpha[np.arange(t.size), t] += peak
        g = rng.gamma(alpha)
        out.append(g / g.sum(axis=1, keepdims=True))
    return out


def corrupt_spans(rng: np.random.Generator, tags: list[np.ndarray], n_types: int, rate: float = 0.15
                  ) -> tuple[list[np.ndarray], set[tuple[int, str, int, int]]]:
    """Corrupt each span with probability ``rate``: swap its type, shift one edge by one token (into a free ``O`` or
    out of a 2+ token span), or drop it. Returns (given tags, truth): truth holds (sentence, issue type, start, end)
    with the given span's edges, or the true (now unlabelled) span's for ``missed_span``."""
    given, truth = [], set()
    for s, true in enumerate(tags):
        g = true.copy()
        starts = np.flatnonzero(true % 2 == 1)
        for a in starts.tolist():
            b = a + 1
            while b < true.size and true[b] == true[a] + 1:
                b += 1
            if rng.random() >= rate:
                continue
            typ = (true[a] - 1) // 2
            how = rng.integers(0, 3)
            if how == 0 and n_types > 1:
                new = (typ + int(rng.integers(1, n_types))) % n_types
                g[a], g[a + 1:b] = 1 + 2 * new, 2 + 2 * new
                truth.add((s, "wrong_type", a, b))
            elif how == 1:
                if b - a > 1 and rng.random() < 0.5:
                    g[b - 1] = 0
                    truth.add((s, "wrong_boundary", a, b - 1))
                elif b < true.size - 1 and true[b] == 0 and true[b + 1] == 0:
                    g[b] = 2 + 2 * typ
                    truth.add((s, "wrong_boundary", a, b + 1))
            else:
                g[a:b] = 0
                truth.add((s, "missed_span", a, b))
        given.append(g)
    return given, truth


def nlupp_slot_bio(table) -> tuple[list[list[str]], list[np.ndarray], list[str]]:
    """NLU++ rows (``labelwise.data.nlupp.load_nlupp``) with slots -> (whitespace tokens, BIO tag ids, slot types
    in order of first appearance)."""
    rows = [r for r in table.itertuples() if r.slots]
    types: list[str] = []
    for r in rows:
        for s in r.slots:
            if s["slot"] not in types:
                types.append(s["slot"])
    tokens, tags = [], []
    for r in rows:
        words, t = whitespace_bio(r.text, [(s["start"], s["end"], s["slot"]) for s in r.slots], types)
        tokens.append(words)
        tags.append(t)
    return tokens, tags, types


def score_span_issues(issues, planted: set) -> dict[str, tuple[float, float, int]]:
    """Issues of :func:`~labelwise.audit.token_classification.spans.span_issue_types` against planted
    (sentence, issue, start, end) -> {issue type: (precision, recall, planted count)} for the planted types."""
    found = {(i.sentence, i.issue, *((i.predicted_start, i.predicted_end) if i.issue == "missed_span"
                                     else (i.start, i.end))) for i in issues}
    out = {}
    for kind in ("wrong_type", "wrong_boundary", "missed_span"):
        want = {t for t in planted if t[1] == kind}
        got = {t for t in found if t[1] == kind}
        out[kind] = (len(want & got) / max(len(got), 1), len(want & got) / max(len(want), 1), len(want))
    return out
