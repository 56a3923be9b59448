"""Span-level label issues from BIO tags (not in cleanlab): which given spans are probably of the wrong type, have
the wrong boundary or should not be there, and which spans the labels miss.

Given spans and predicted spans (the argmax tags of ``pred_probs``, decoded the same way) are matched by overlap:

- ``wrong_type``: a predicted span covers exactly the given span's tokens, with another type;
- ``wrong_boundary``: a predicted span of the same type overlaps the given span with other edges;
- ``wrong_type_and_boundary``: the only overlapping predicted spans have another type and other edges;
- ``extra_span``: no predicted span overlaps the given span (the model sees no entity there);
- ``missed_span``: a predicted span overlaps no given span.

Each issue's confidence is the model's margin over the tokens it is about (the given and the predicted span
together): the mean, over the tokens whose given tag is not the predicted one, of P(predicted tag) - P(given tag),
in [0, 1]; only issues with at least ``threshold`` are returned. Decoding is lenient BIO: an
``I-X`` that does not continue an ``X`` span opens one, as seqeval does in its default mode.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from labelwise.audit.token_classification._inputs import flatten
from labelwise.errors import ParameterError

ISSUE_TYPES = ("wrong_type", "wrong_boundary", "wrong_type_and_boundary", "extra_span", "missed_span")


class SpanIssue(NamedTuple):
    """One span issue; token offsets are [start, end) within the sentence; -1 / "" where there is no such span."""

    sentence: int
    issue: str
    start: int  # the given span (-1 for missed_span)
    end: int
    given_type: str
    predicted_start: int  # the predicted span (-1 for extra_span)
    predicted_end: int
    predicted_type: str
    confidence: float


def bio_scheme(class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """class_names: K tags ``O``, ``B-X``, ``I-X`` -> (kind (K,) int: 0 O / 1 B / 2 I, type id (K,) int (-1 for O),
    the type names)."""
    kind = np.zeros(len(class_names), dtype=np.int64)
    type_id = np.full(len(class_names), -1, dtype=np.int64)
    types: list[str] = []
    for c, name in enumerate(class_names):
        if name == "O":
            continue
        prefix, _, typ = name.partition("-")
        if prefix not in ("B", "I") or not typ:
            raise ParameterError(f"class {c} is {name!r}; span issue types need BIO class names ('O', 'B-X', 'I-X').")
        if typ not in types:
            types.append(typ)
        kind[c] = 1 if prefix == "B" else 2
        type_id[c] = types.index(typ)
    return kind, type_id, types


#: Tag kinds of :func:`decode_spans`: O, B (begin), I (inside), L (last) and U (unit, a one-token span) of BILOU.
O_KIND, B_KIND, I_KIND, L_KIND, U_KIND = range(5)


def decode_spans(tags: np.ndarray, starts: np.ndarray, kind: np.ndarray, type_id: np.ndarray) -> np.ndarray:
    """Flat BIO (or BILOU) tags of all sentences -> (m, 3) int: [flat start, flat end, type id] of every span, in
    order.

    tags: (N,) class ids; starts: (S + 1,) sentence offsets into the flat arrays; kind, type_id: per class, from
    :func:`bio_scheme` (kinds ``O_KIND`` .. ``U_KIND``). Spans never cross a sentence boundary. Lenient, as
    conlleval: an ``I``/``L`` that does not continue an open span of its type (after ``O``, another type, a closed
    ``L``/``U`` or at a sentence start) opens one; ``L`` and ``U`` close their span. ``labelwise.data.spans``'s
    ``tags_to_spans`` decodes string tags with it.
    """
    k, ty = kind[tags], type_id[tags]
    first = np.zeros(tags.size, dtype=bool)
    first[starts[:-1][starts[:-1] < tags.size]] = True
    prev_k = np.r_[O_KIND, k[:-1]]
    prev_ty = np.r_[-1, ty[:-1]]
    inside = (k == I_KIND) | (k == L_KIND)
    after_closed = (prev_k == O_KIND) | (prev_k == L_KIND) | (prev_k == U_KIND)
    opens = (k == B_KIND) | (k == U_KIND) | (inside & (first | after_closed | (prev_ty != ty)))
    goes_on = np.r_[inside[1:] & (ty[1:] == ty[:-1]) & ~opens[1:] & ~first[1:], False]
    closes = (k != 0) & ~goes_on
    span_starts, span_ends = np.flatnonzero(opens), np.flatnonzero(closes) + 1
    return np.stack([span_starts, span_ends, ty[span_starts]], axis=1)


def span_issue_types(
    labels: list, pred_probs: list, class_names: Sequence[str], *, threshold: float = 0.3
) -> list[SpanIssue]:
    """Classify span-level label issues (see the module docstring), most confident first.

    labels: list of (T_i,) int BIO tag ids; pred_probs: list of (T_i, K) float, out of sample; class_names: the K
    tags (``O``, ``B-X``, ``I-X``). threshold: the least confidence of a returned issue (0 returns every
    disagreement between the given and the predicted spans).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"threshold must be in [0, 1]; got {threshold}.")
    kind, type_id, types = bio_scheme(class_names)
    flat_labels, flat_probs, starts = flatten(labels, pred_probs)
    if flat_probs.shape[1] != len(class_names):
        raise ParameterError(f"pred_probs has {flat_probs.shape[1]} classes but class_names has {len(class_names)}.")
    predicted = flat_probs.argmax(axis=1)
    rows = np.arange(predicted.size)
    top = np.r_[0.0, np.cumsum(flat_probs[rows, predicted])]
    margins = np.r_[0.0, np.cumsum(flat_probs[rows, predicted] - flat_probs[rows, flat_labels])]
    differ = np.r_[0, np.cumsum(predicted != flat_labels)]

    def margin(a: int, b: int) -> float:
        """Mean of P(predicted tag) - P(given tag) over the tokens of [a, b) where the two tags differ."""
        return float((margins[b] - margins[a]) / max(differ[b] - differ[a], 1))

    given = decode_spans(flat_labels, starts, kind, type_id)
    guessed = decode_spans(predicted, starts, kind, type_id)
    given_sentence = np.searchsorted(starts, given[:, 0], side="right") - 1
    guessed_sentence = np.searchsorted(starts, guessed[:, 0], side="right") - 1
    guessed_conf = (top[guessed[:, 1]] - top[guessed[:, 0]]) / (guessed[:, 1] - guessed[:, 0])
    # overlaps: spans are sorted and disjoint on each side, so each given span meets a contiguous run of predictions
    first = np.searchsorted(guessed[:, 1], given[:, 0], side="right")
    last = np.searchsorted(guessed[:, 0], given[:, 1], side="left")
    touched = np.zeros(len(guessed), dtype=bool)
    issues: list[SpanIssue] = []
    for g, (a, b, t) in enumerate(given.tolist()):
        s, offset = int(given_sentence[g]), int(starts[given_sentence[g]])
        run = range(first[g], last[g])
        touched[first[g]:last[g]] = True
        if not run:
            issues.append(SpanIssue(s, "extra_span", a - offset, b - offset, types[t], -1, -1, "", margin(a, b)))
            continue
        exact = [p for p in run if guessed[p, 0] == a and guessed[p, 1] == b]
        same_type = [p for p in run if guessed[p, 2] == t]
        if exact and guessed[exact[0], 2] == t:
            continue
        if exact:
            p, issue = exact[0], "wrong_type"
        elif same_type:
            p, issue = max(same_type, key=lambda q: guessed_conf[q]), "wrong_boundary"
        else:
            p, issue = max(run, key=lambda q: guessed_conf[q]), "wrong_type_and_boundary"
        pa, pb, pt = guessed[p].tolist()
        issues.append(SpanIssue(s, issue, a - offset, b - offset, types[t], pa - offset, pb - offset, types[pt],
                                margin(min(a, pa), max(b, pb))))
    for p in np.flatnonzero(~touched).tolist():
        s, offset = int(guessed_sentence[p]), int(starts[guessed_sentence[p]])
        pa, pb, pt = guessed[p].tolist()
        issues.append(SpanIssue(s, "missed_span", -1, -1, "", pa - offset, pb - offset, types[pt], margin(pa, pb)))
    issues = [issue for issue in issues if issue.confidence >= threshold]
    issues.sort(key=lambda issue: -issue.confidence)
    return issues


def spans_of(tags: Sequence[int], class_names: Sequence[str]) -> list[tuple[int, int, str]]:
    """One sentence's BIO tag ids -> its spans as (start, end, type), end exclusive."""
    kind, type_id, types = bio_scheme(class_names)
    tags = np.asarray(tags, dtype=np.int64)
    found = decode_spans(tags, np.array([0, tags.size]), kind, type_id)
    return [(a, b, types[t]) for a, b, t in found.tolist()]
