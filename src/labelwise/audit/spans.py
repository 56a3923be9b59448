"""Span-label audit of a table or file: which tokens and spans are probably labelled wrong.

Texts with character spans (a table's text and span columns, a JSONL file of ``{"text", "spans"}`` rows, or a CoNLL
file) become BIO tags on the built-in tokenizer's tokens (:func:`labelwise.data.spans.tokenize`). The per-token
probabilities are the user's (``pred_probs``, aligned to those tokens) or out of fold
(:func:`~labelwise.audit.token_classification.token_model.out_of_fold_token_probs`) from token features: the
encoder's word states (``encoder.encode_tokens(texts, words=True)``, MiniLM by default) plus a few word-shape
features. Then cleanlab's token audit (Wang & Mueller 2022, arXiv:2210.03920) and the span issue types of
:func:`~labelwise.audit.token_classification.spans.span_issue_types`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from labelwise.audit.token_classification import find_label_issues, get_label_quality_scores
from labelwise.audit.token_classification.spans import SpanIssue, span_issue_types
from labelwise.audit.token_classification.token_model import out_of_fold_token_probs
from labelwise.data.atomic import write_text_atomic
from labelwise.data.formula import neutralise_frame
from labelwise.data.spans import read_span_data, spans_to_tags, tokenize
from labelwise.errors import DataError, ShapeError


@dataclass
class SpanAuditResult:
    """texts: (n,) str; offsets: per row the (T_i,) token (start, end) offsets; tags: per row (T_i,) int BIO tag
    ids into ``class_names``; pred_probs: per row (T_i, K); token_scores: per row (T_i,) label quality;
    sentence_scores: (n,) label quality of each row (NaN for a row without tokens); token_issues: flagged (row, token) pairs, worst first;
    span_issues: :class:`SpanIssue` list (token offsets), most confident first; source: where the probabilities
    came from."""

    texts: list[str]
    offsets: list[list[tuple[int, int]]]
    tags: list[np.ndarray]
    class_names: list[str]
    pred_probs: list[np.ndarray]
    token_scores: list[np.ndarray]
    sentence_scores: np.ndarray
    token_issues: list[tuple[int, int]]
    span_issues: list[SpanIssue]
    source: str

    def _chars(self, row: int, a: int, b: int) -> tuple[int, int, str]:
        if a < 0:
            return -1, -1, ""
        start, end = self.offsets[row][a][0], self.offsets[row][b - 1][1]
        return start, end, self.texts[row][start:end]

    def to_frame(self):
        """One row per span issue, most confident first: row, issue, span (the given span's text), start, end
        (character offsets, -1 for a missed span), given_label, suggested_span, suggested_start, suggested_end,
        suggested_label, score (the issue's confidence in [0, 1])."""
        import pandas as pd

        records = []
        for issue in self.span_issues:
            start, end, text = self._chars(issue.sentence, issue.start, issue.end)
            p_start, p_end, p_text = self._chars(issue.sentence, issue.predicted_start, issue.predicted_end)
            records.append({"row": issue.sentence, "issue": issue.issue, "span": text, "start": start, "end": end,
                            "given_label": issue.given_type, "suggested_span": p_text, "suggested_start": p_start,
                            "suggested_end": p_end, "suggested_label": issue.predicted_type,
                            "score": issue.confidence})
        columns = ["row", "issue", "span", "start", "end", "given_label", "suggested_span", "suggested_start",
                   "suggested_end", "suggested_label", "score"]
        return pd.DataFrame(records, columns=columns)

    def tokens_frame(self):
        """One row per flagged token, worst first: row, token (index), text, start, end, given_tag, suggested_tag,
        score (the token's label quality; low is suspicious)."""
        import pandas as pd

        records = []
        for row, t in self.token_issues:
            a, b = self.offsets[row][t]
            records.append({"row": row, "token": t, "text": self.texts[row][a:b], "start": a, "end": b,
                            "given_tag": self.class_names[self.tags[row][t]],
                            "suggested_tag": self.class_names[int(self.pred_probs[row][t].argmax())],
                            "score": float(self.token_scores[row][t])})
        return pd.DataFrame(records, columns=["row", "token", "text", "start", "end", "given_tag", "suggested_tag",
                                              "score"])

    def save(self, directory) -> Path:
        """Write ``span_issues.csv``, ``token_issues.csv``, ``row_scores.csv`` and ``summary.json`` into
        ``directory`` (created), atomically; text cells a spreadsheet would run as formulas get a leading ``'``."""
        import pandas as pd

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rows = pd.DataFrame({"row": np.arange(len(self.texts)), "score": self.sentence_scores, "text": self.texts})
        for name, frame in (("span_issues", self.to_frame()), ("token_issues", self.tokens_frame()),
                            ("row_scores", rows.sort_values("score", kind="stable"))):
            write_text_atomic(directory / f"{name}.csv", neutralise_frame(frame).to_csv(index=False))
        summary = {"rows": len(self.texts), "tokens": int(sum(len(t) for t in self.tags)),
                   "classes": self.class_names, "flagged_tokens": len(self.token_issues),
                   "span_issues": len(self.span_issues), "probabilities": self.source}
        write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
        return directory


def shape_features(word: str) -> list[float]:
    """A few word-shape features: all digits, has a digit, title case, all upper case, punctuation, log length."""
    return [word.isdigit(), any(c.isdigit() for c in word), word.istitle(), word.isupper() and len(word) > 1,
            not any(c.isalnum() for c in word), np.log1p(len(word))]


def token_features(texts: Sequence[str], offsets: Sequence[Sequence[tuple[int, int]]], encoder) -> list[np.ndarray]:
    """Per row (T_i, d + 6): the encoder's word state of each built-in token (the encoder word that covers the
    token's first character; zeros for a token no encoder word covers) and :func:`shape_features`."""
    states = encoder.encode_tokens(list(texts), words=True)
    out = []
    for i, (text, offs) in enumerate(zip(texts, offsets)):
        words = states.tokens[i] if states.tokens is not None else ()
        lowered, cursor, owner = text.lower(), 0, np.full(len(text) + 1, -1)
        for k, word in enumerate(words):  # the words as written, in order: find each after the previous one
            at = lowered.find(word.lower(), cursor)
            if at < 0:
                continue
            owner[at:at + len(word)] = k
            cursor = at + len(word)
        vectors = np.zeros((len(offs), states.states.shape[2]), dtype=np.float64)
        for t, (a, _) in enumerate(offs):
            if owner[a] >= 0:
                vectors[t] = states.states[i, owner[a]]
        shapes = np.array([shape_features(text[a:b]) for a, b in offs], dtype=np.float64).reshape(len(offs), 6)
        out.append(np.hstack([vectors, shapes]))
    return out


def _load_pred_probs(pred_probs, lengths: list[int], k: int) -> list[np.ndarray]:
    """A list of (T_i, K) arrays, or a .npy (object array or (N, K) flat) / .npz (one array per row, in order)."""
    if isinstance(pred_probs, (str, Path)):
        path = Path(pred_probs)
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read token probabilities ({exc}); pass a .npy of (tokens, K) or a "
                            ".npz with one (T_i, K) array per row.") from exc
        if isinstance(loaded, np.lib.npyio.NpzFile):
            pred_probs = [loaded[name] for name in loaded.files]
        else:
            flat = np.asarray(loaded)
            if flat.ndim != 2 or len(flat) != sum(lengths):
                raise ShapeError(f"{path}: shape {flat.shape}, expected ({sum(lengths)}, {k}): one row per token "
                                 "of the built-in tokenizer, all rows one after another.")
            cuts = np.cumsum(lengths)[:-1]
            pred_probs = np.split(flat, cuts)
    if len(pred_probs) != len(lengths):
        raise ShapeError(f"pred_probs has {len(pred_probs)} rows but the data has {len(lengths)}.")
    out = []
    for i, (p, n) in enumerate(zip(pred_probs, lengths)):
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (n, k):
            raise ShapeError(f"row {i}: pred_probs has shape {p.shape}, expected ({n}, {k}) (tokens of the built-in "
                             "tokenizer, classes O then B-/I- of each label in sorted order).")
        if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(1), 1.0, atol=1e-3):
            raise DataError(f"row {i}: pred_probs rows must be probabilities (non-negative, summing to 1).")
        out.append(p)
    return out


def bio_class_names(labels: Sequence[str]) -> list[str]:
    """``O`` then ``B-X``, ``I-X`` for each label X in sorted order: the class order of ``pred_probs``."""
    return ["O"] + [f"{p}-{x}" for x in sorted(set(labels)) for p in "BI"]


def audit_spans(data, *, spans: Optional[str] = None, text: Optional[str] = None, pred_probs=None, encoder=None,
                n_splits: int = 5, threshold: float = 0.3, random_state: Optional[int] = 0) -> SpanAuditResult:
    """Audit span labels (see the module docstring).

    data: a DataFrame or table file with ``text`` (default ``"text"``) and ``spans`` columns, or a span JSONL /
    CoNLL file. pred_probs: optional per-row (T_i, K) probabilities on :func:`tokenize`'s tokens, classes in
    :func:`bio_class_names` order (a list, a flat (N, K) .npy or a .npz with one array per row); without it they
    are out of fold from ``encoder``'s word states (default: the packaged MiniLM
    :class:`~labelwise.features.text.TextEncoder`). threshold: the least confidence of a span issue.
    """
    texts, row_spans = read_span_data(data, spans=spans, text=text)
    if not texts:
        raise DataError("the data has no rows; nothing to audit.")
    class_names = bio_class_names([s.label for r in row_spans for s in r])
    index = {name: c for c, name in enumerate(class_names)}
    offsets = [tokenize(t) for t in texts]
    tags = [np.array([index[tag] for tag in spans_to_tags(t, s, o, "BIO", row=i)], dtype=np.int64)
            for i, (t, s, o) in enumerate(zip(texts, row_spans, offsets))]
    if pred_probs is not None:
        probs, source = _load_pred_probs(pred_probs, [len(t) for t in tags], len(class_names)), "given"
    else:
        if len(class_names) < 2:
            raise DataError("no row has a span; there is nothing to learn span labels from.")
        if encoder is None:
            from labelwise.features.text import TextEncoder

            encoder = TextEncoder()
        features = token_features(texts, offsets, encoder)
        folds = min(n_splits, len(texts))
        probs = out_of_fold_token_probs(features, tags, len(class_names), n_splits=folds, random_state=random_state)
        source = f"out of fold ({folds} folds, logistic regression on {type(encoder).__name__} word states)"
    # rows without a token (empty texts) are not scored: NaN row score, no issues
    kept = [i for i, t in enumerate(tags) if len(t)]
    if not kept:
        raise DataError("no row has a token; nothing to audit.")
    kept_tags, kept_probs = [tags[i] for i in kept], [probs[i] for i in kept]
    token_issues = [(kept[s], t) for s, t in find_label_issues(kept_tags, kept_probs)]
    kept_scores, kept_token_scores = get_label_quality_scores(kept_tags, kept_probs)
    sentence_scores = np.full(len(texts), np.nan)
    sentence_scores[kept] = kept_scores
    token_scores = [np.zeros(0) for _ in texts]
    for i, scores in zip(kept, kept_token_scores):
        token_scores[i] = np.asarray(scores)
    span_issues = [issue._replace(sentence=kept[issue.sentence])
                   for issue in span_issue_types(kept_tags, kept_probs, class_names, threshold=threshold)]
    return SpanAuditResult(texts, offsets, tags, class_names, probs, token_scores, sentence_scores, token_issues,
                           span_issues, source)
