"""Span labels: character-offset spans, BIO/BILOU token tags, CoNLL and JSONL files.

A span is ``Span(start, end, label)``: ``text[start:end]`` is the labelled part (``end`` exclusive). A row's spans are
a ``list[Span]``. Token offsets are ``list[tuple[int, int]]``, one ``(start, end)`` per token, from any tokenizer (a
Hugging Face fast tokenizer's ``offset_mapping``, spaCy's ``(tok.idx, tok.idx + len(tok))``) or from
:func:`tokenize`, the built-in one (runs of word characters, and each other non-space character alone).

Tags -> spans (:func:`tags_to_spans`) reads BIO and BILOU (also IOBES's ``E-``/``S-`` as ``L-``/``U-``) and repairs
invalid sequences the way conlleval does:

* ``I-X`` (or ``L-X``) that does not continue an open ``X`` span (after ``O``, after a span of another label, or
  after a closed ``L-``/``U-``) starts a new span;
* ``B-X`` not followed by ``I-X``/``L-X`` is a one-token span; an open span ends at the next ``B-``, ``U-``, ``O``
  or other label;
* a tag without a prefix (``PER``) is read as ``I-PER``.

Errors are one-line :class:`DataError` naming the row and the span: overlapping spans, out of range, ``start >=
end``, a boundary that cuts a token (naming the token and the nearest token boundaries).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from labelwise.data.atomic import write_text_atomic
from labelwise.errors import DataError, ParameterError

Offsets = Sequence[tuple[int, int]]
SCHEMES = ("BIO", "BILOU")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PREFIX_ALIASES = {"E": "L", "S": "U"}


@dataclass(frozen=True, order=True)
class Span:
    """``text[start:end]`` carries ``label``; ``start``/``end`` are character offsets, ``end`` exclusive."""

    start: int
    end: int
    label: str

    def __iter__(self):
        """Unpack as ``start, end, label = span``."""
        return iter((self.start, self.end, self.label))


def _where(row: Any) -> str:
    return "" if row is None else f"row {row}: "


def tokenize(text: str) -> list[tuple[int, int]]:
    """Built-in tokenizer: runs of word characters, and every other non-space character alone.

    Returns ``(n_tokens,)`` ``(start, end)`` character offsets, e.g. ``"Hi, Bob"`` -> ``[(0, 2), (2, 3), (4, 7)]``.
    """
    return [m.span() for m in _TOKEN.finditer(text)]


def validate_spans(text: str, spans: Iterable[Span | Sequence], row: Any = None) -> list[Span]:
    """Check ``spans`` against ``text`` and return them as sorted :class:`Span` s.

    ``spans`` items are ``Span`` or ``(start, end, label)``. Raises :class:`DataError` (naming ``row``) for an
    offset that is not an integer, ``start >= end``, a span outside ``[0, len(text)]``, an empty label, or two
    overlapping spans.
    """
    return _validate(text, spans, _where(row))


def _validate(text: str, spans: Iterable[Span | Sequence], where: str) -> list[Span]:
    out = []
    for s in spans:
        try:
            start, end, label = s
        except (TypeError, ValueError):
            raise DataError(f"{where}span {s!r} is not (start, end, label); give three values.") from None
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
            raise DataError(f"{where}span {s!r}: start and end must be integers (character offsets).")
        if not isinstance(label, str) or not label:
            raise DataError(f"{where}span [{start}, {end}): the label must be a non-empty string, got {label!r}.")
        if start >= end:
            raise DataError(f"{where}span [{start}, {end}) {label!r}: start >= end; a span needs at least one "
                            f"character.")
        if start < 0 or end > len(text):
            raise DataError(f"{where}span [{start}, {end}) {label!r} is out of range: the text has "
                            f"{len(text)} characters.")
        out.append(Span(start, end, label))
    out.sort()
    for a, b in zip(out, out[1:]):
        if b.start < a.end:
            raise DataError(f"{where}spans [{a.start}, {a.end}) {a.label!r} and [{b.start}, {b.end}) "
                            f"{b.label!r} overlap; keep one of them (token tags hold one label per token).")
    return out


def spans_to_tags(text: str, spans: Iterable[Span | Sequence], offsets: Offsets | None = None,
                  scheme: str = "BIO", row: Any = None) -> list[str]:
    """Token tags ``(n_tokens,) str`` for ``spans`` over tokens at ``offsets`` (default :func:`tokenize`).

    ``scheme``: ``"BIO"`` or ``"BILOU"``. Every span boundary must fall on a token boundary: a span that cuts a token
    raises :class:`DataError` naming the token and the nearest token boundaries; a span that covers no token raises
    too. A span's ``B-`` goes to its first token by position. Spans are validated first (:func:`validate_spans`).
    """
    scheme = _scheme(scheme)
    spans = validate_spans(text, spans, row)
    offsets = tokenize(text) if offsets is None else [(int(a), int(b)) for a, b in offsets]
    tags = ["O"] * len(offsets)
    toks = sorted((a, b, k) for k, (a, b) in enumerate(offsets) if a < b)  # empty (special) tokens stay "O"
    ends = [b for _, b, _ in toks]
    monotone = all(x <= y for x, y in zip(ends, ends[1:]))  # tokens that do not overlap: bisect to the first one
    for s in spans:
        inside = []
        for j in range(bisect.bisect_right(ends, s.start) if monotone else 0, len(toks)):
            a, b, k = toks[j]
            if a >= s.end:
                break
            if b <= s.start:
                continue
            if a < s.start or b > s.end:
                raise DataError(_cut_message(text, s, offsets, k, row))
            inside.append(k)
        if not inside:
            raise DataError(f"{_where(row)}span [{s.start}, {s.end}) {s.label!r} covers no token "
                            f"({text[s.start:s.end]!r}); remove it or fix its offsets.")
        for j, k in enumerate(inside):
            if scheme == "BILOU" and len(inside) == 1:
                p = "U"
            elif j == 0:
                p = "B"
            elif scheme == "BILOU" and j == len(inside) - 1:
                p = "L"
            else:
                p = "I"
            tags[k] = f"{p}-{s.label}"
    return tags


def _cut_message(text: str, s: Span, offsets: Offsets, k: int, row: Any) -> str:
    a, b = offsets[k]
    side, pos = ("start", s.start) if a < s.start < b else ("end", s.end)
    if side == "start":
        left = max((x for x, _ in offsets if x <= pos), default=None)
        right = min((x for x, _ in offsets if x >= pos), default=None)
    else:
        left = max((y for _, y in offsets if y <= pos), default=None)
        right = min((y for _, y in offsets if y >= pos), default=None)
    near = " or ".join(str(x) for x in (left, right) if x is not None)
    return (f"{_where(row)}span [{s.start}, {s.end}) {s.label!r}: {side} {pos} cuts token {k} {text[a:b]!r} "
            f"[{a}, {b}); nearest token {side}s: {near}.")


def tags_to_spans(tags: Sequence[str], offsets: Offsets, row: Any = None) -> list[Span]:
    """Spans from token tags ``(n_tokens,) str`` (BIO, BILOU or IOBES) at token ``offsets``.

    A span runs from its first token's start to its last token's end. Invalid sequences are repaired as the module
    docstring says (``I-X`` without an open ``X`` starts a span). An unknown prefix raises :class:`DataError`.
    """
    if len(tags) != len(offsets):
        raise DataError(f"{_where(row)}{len(tags)} tags for {len(offsets)} tokens; give one tag per token.")
    import numpy as np

    from labelwise.audit.token_classification.spans import decode_spans

    labels: dict[str, int] = {}
    kind, type_id = np.zeros(len(tags), dtype=np.int64), np.full(len(tags), -1, dtype=np.int64)
    for k, tag in enumerate(tags):
        prefix, label = _split_tag(tag, k, row)
        kind[k] = "OBILU".index(prefix)
        if label is not None:
            type_id[k] = labels.setdefault(label, len(labels))
    names = list(labels)
    found = decode_spans(np.arange(len(tags)), np.array([0, len(tags)]), kind, type_id)
    return [Span(offsets[a][0], offsets[b - 1][1], names[t]) for a, b, t in found.tolist()]


def _split_tag(tag: str, k: int, row: Any) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    if not isinstance(tag, str) or not tag:
        raise DataError(f"{_where(row)}token {k}: tag {tag!r} is not a string tag like 'B-PER' or 'O'.")
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BILUES":
        return _PREFIX_ALIASES.get(tag[0], tag[0]), tag[2:]
    if len(tag) > 1 and tag[1] in "-_":
        raise DataError(f"{_where(row)}token {k}: tag {tag!r} has an unknown prefix or no label; use B-X, I-X, "
                        f"L-X, U-X (or E-X, S-X) or O.")
    return "I", tag


def _scheme(scheme: str) -> str:
    s = str(scheme).upper()
    if s not in SCHEMES:
        raise ParameterError(f"scheme must be 'BIO' or 'BILOU', got {scheme!r}.")
    return s


def convert_tags(tags: Sequence[str], scheme: str = "BILOU") -> list[str]:
    """Re-tag ``(n_tokens,) str`` tags in ``scheme`` (BIO <-> BILOU), repairing invalid sequences on the way."""
    offsets = [(k, k + 1) for k in range(len(tags))]
    return spans_to_tags(" " * len(tags), tags_to_spans(tags, offsets), offsets, scheme)


# ---------------------------------------------------------------- CoNLL


@dataclass
class ConllSentence:
    """One CoNLL sentence: ``tokens`` and ``tags`` ``(n_tokens,)``, ``columns`` the other columns per token (the
    middle ones of CoNLL-2003, e.g. POS and chunk; empty lists for two-column files), ``doc_start`` the
    ``-DOCSTART-`` line that came just before the sentence (``None`` if none)."""

    tokens: list[str]
    tags: list[str]
    columns: list[list[str]] = field(default_factory=list)
    doc_start: str | None = None

    def text_and_offsets(self) -> tuple[str, list[tuple[int, int]]]:
        """The tokens joined by single spaces, and each token's ``(start, end)`` in that text."""
        offsets, pos = [], 0
        for t in self.tokens:
            offsets.append((pos, pos + len(t)))
            pos += len(t) + 1
        return " ".join(self.tokens), offsets

    def spans(self) -> list[Span]:
        """The sentence's spans in :meth:`text_and_offsets`'s text."""
        return tags_to_spans(self.tags, self.text_and_offsets()[1])


def read_conll(path: str | Path) -> list[ConllSentence]:
    """Read a CoNLL file: ``token<TAB or spaces>[other columns...]tag`` per line, a blank line between sentences.

    The tag is the last column (CoNLL-2003's ``token POS chunk NER`` works). ``-DOCSTART-`` lines are kept on the
    next sentence's ``doc_start``. Raises :class:`DataError` naming the line for a line with one column or a line
    whose column count differs from the rest of its sentence.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the CoNLL file ({exc}).") from exc
    out: list[ConllSentence] = []
    cur: ConllSentence | None = None
    doc_start = None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            cur = None
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if cols[0] == "-DOCSTART-":
            doc_start, cur = line, None
            continue
        if len(cols) < 2:
            raise DataError(f"{path}, line {n}: {line!r} has one column; expected 'token<TAB>tag' (the tag last).")
        if cur is None:
            cur = ConllSentence([], [], [], doc_start)
            doc_start = None
            out.append(cur)
        elif cur.columns and len(cols) - 2 != len(cur.columns[0]):
            raise DataError(f"{path}, line {n}: {len(cols)} columns, but the sentence's first line has "
                            f"{len(cur.columns[0]) + 2}.")
        cur.tokens.append(cols[0])
        cur.tags.append(cols[-1])
        cur.columns.append(cols[1:-1])
    if doc_start is not None:
        out.append(ConllSentence([], [], [], doc_start))
    return out


def write_conll(path: str | Path, sentences: Iterable[ConllSentence], sep: str = "\t") -> Path:
    """Write ``sentences`` as CoNLL (``token sep [columns...] sep tag``), atomically; a blank line after each
    sentence and after each ``-DOCSTART-`` line. Returns the path."""
    parts = []
    for s in sentences:
        if s.doc_start is not None:
            parts.append(s.doc_start + "\n\n")
        cols = s.columns or [[] for _ in s.tokens]
        if len(s.tags) != len(s.tokens) or len(cols) != len(s.tokens):
            raise DataError(f"{path}: a sentence has {len(s.tokens)} tokens, {len(s.tags)} tags and "
                            f"{len(cols)} column rows; give one of each per token.")
        if s.tokens:
            parts.append("".join(sep.join([t, *c, g]) + "\n" for t, c, g in zip(s.tokens, cols, s.tags)) + "\n")
    return write_text_atomic(path, "".join(parts))


def conll_to_records(sentences: Iterable[ConllSentence]) -> list["SpanRecord"]:
    """Each sentence as a :class:`SpanRecord`: its tokens joined by single spaces and its spans in that text."""
    out = []
    for s in sentences:
        text, offsets = s.text_and_offsets()
        out.append(SpanRecord(text, tags_to_spans(s.tags, offsets)))
    return out


def records_to_conll(records: Iterable["SpanRecord"], tokenizer: Callable[[str], Offsets] = tokenize,
                     scheme: str = "BIO") -> list[ConllSentence]:
    """Each record as a CoNLL sentence: ``tokenizer(text)`` gives the token offsets (default :func:`tokenize`),
    the spans become ``scheme`` tags; a span that cuts a token raises :class:`DataError` naming the row."""
    out = []
    for i, r in enumerate(records):
        offsets = list(tokenizer(r.text))
        tags = spans_to_tags(r.text, r.spans, offsets, scheme, row=i)
        out.append(ConllSentence([r.text[a:b] for a, b in offsets], tags, [[] for _ in offsets]))
    return out


# ---------------------------------------------------------------- JSONL


@dataclass
class SpanRecord:
    """One JSONL row: ``text``, its ``spans``, the ``record`` as read (every field kept) and ``key``, the field the
    spans came from (``"spans"``, ``"label"`` (doccano) or ``"entities"`` (spaCy)); written back in that form."""

    text: str
    spans: list[Span]
    record: dict = field(default_factory=dict)
    key: str = "spans"


_SPAN_KEYS = ("spans", "label", "labels", "entities")


def read_span_jsonl(path: str | Path) -> list[SpanRecord]:
    """Read JSONL rows ``{"text": ..., "spans": [{"start", "end", "label"}]}``; also doccano's ``"label"`` (or
    ``"labels"``) ``[[start, end, label]]`` and spaCy's ``"entities"`` ``[[start, end, label]]``.

    Spans are validated (:func:`validate_spans`); errors name the file and line. A row without any span field has
    no spans. Blank lines are skipped.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the JSONL file ({exc}).") from exc
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from exc
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise DataError(f"{where}: expected an object with a string 'text'.")
        key = next((k for k in _SPAN_KEYS if k in rec and isinstance(rec[k], list)), "spans")
        spans = _validate(rec["text"], _span_items(rec.get(key, []), where + ": "), where + ": ")
        out.append(SpanRecord(rec["text"], spans, rec, key))
    return out


def _span_items(raw: Iterable, where: str) -> list:
    """Span items as written in files and cells -> ``(start, end, label)``: ``{"start", "end", "label"}`` objects
    (extra keys ignored) or ``[start, end, label]`` triples (doccano, spaCy); anything else is a DataError."""
    items = []
    for s in raw:
        if isinstance(s, dict):
            if not {"start", "end", "label"} <= set(s):
                raise DataError(f"{where}span {s!r} needs 'start', 'end' and 'label'.")
            items.append((s["start"], s["end"], s["label"]))
        elif isinstance(s, (list, tuple)) and len(s) == 3:
            items.append(tuple(s))
        else:
            raise DataError(f"{where}span {s!r} is neither {{start, end, label}} nor [start, end, label].")
    return items


def parse_spans(value: Any, text: str, row: Any) -> list[Span]:
    """One cell of a span column -> validated spans: a JSON string or a list of ``{"start", "end", "label"}``
    objects or ``[start, end, label]`` triples (doccano, spaCy); empty or missing is no spans."""
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataError(f"row {row}: the span cell is not valid JSON ({exc.msg}); write a list of "
                            '{"start": 0, "end": 3, "label": "X"} objects.') from exc
    if hasattr(value, "tolist") and not isinstance(value, (list, str)):  # a numpy array from Parquet
        value = value.tolist()
    if not isinstance(value, list):
        raise DataError(f"row {row}: the span cell holds {type(value).__name__}; write a JSON list of spans.")
    return validate_spans(text, _span_items(value, _where(row)), row)


def read_span_data(data, *, spans: str | None = None, text: str | None = None) -> tuple[list[str], list[list[Span]]]:
    """Texts and spans per row from a DataFrame or table file (``spans`` and ``text`` columns: each span cell as
    :func:`parse_spans` reads it), a ``.jsonl`` file of span records or a CoNLL file (``.conll``, ``.bio``,
    ``.iob``, ``.bioes``; no columns needed). Returns ``(texts (n,), spans (n,) lists of Span)``."""
    if isinstance(data, (str, Path)):
        suffix = Path(data).suffix.lower()
        if suffix in (".conll", ".bio", ".iob", ".bioes"):
            pairs = [(s.text_and_offsets()[0], s.spans()) for s in read_conll(data)]
            return [t for t, _ in pairs], [list(s) for _, s in pairs]
        if suffix == ".jsonl" and spans is None:
            records = read_span_jsonl(data)
            return [r.text for r in records], [r.spans for r in records]
        from labelwise.data.io import read_table

        data = read_table(data)
    if spans is None:
        raise ParameterError("name the span column (spans=...); only CoNLL and JSONL span files need none.")
    text = text or "text"
    for column in (spans, text):
        if column not in data.columns:
            raise DataError(f"no column {column!r}; the columns are {list(map(str, data.columns))}.")
    texts = ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in data[text]]
    return texts, [parse_spans(v, t, i) for i, (v, t) in enumerate(zip(data[spans], texts))]


def write_span_jsonl(path: str | Path, records: Iterable[SpanRecord]) -> Path:
    """Write ``records`` as JSONL, atomically. Each row is the record as read with its span field replaced by
    ``spans`` in the field's own form: a span that was there keeps its item as read (extra per-span fields such as
    ``token_start``), a new span is written in the field's form, and a span field whose spans did not change keeps
    its order too. A record without a span field gets none if it has no spans. Returns the path."""
    lines = []
    for i, r in enumerate(records):
        rec = dict(r.record)
        rec["text"] = r.text
        spans = _validate(r.text, r.spans, f"{path}, row {i}: ")
        old = r.record.get(r.key)
        unchanged = _as_spans(old) == spans if isinstance(old, list) else not spans  # no field, no spans: none added
        if not unchanged:  # spans kept from the old field keep their item as read (extra per-span fields)
            kept = {}
            for item in old if isinstance(old, list) else []:
                one = _as_spans([item])
                if one:
                    kept.setdefault(one[0], item)
            rec[r.key] = [kept.get(s) or ({"start": s.start, "end": s.end, "label": s.label} if r.key == "spans"
                                          else [s.start, s.end, s.label]) for s in spans]
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    return write_text_atomic(path, "".join(lines))


def _as_spans(raw: list) -> list[Span] | None:
    try:
        return sorted(Span(*((s["start"], s["end"], s["label"]) if isinstance(s, dict) else s)) for s in raw)
    except (KeyError, TypeError):
        return None


# ---------------------------------------------------------------- NLU++


def nlupp_spans(text: str, slots: Iterable[dict], row: Any = None) -> list[Span]:
    """Character spans of one NLU++ utterance from :func:`labelwise.data.nlupp.load_nlupp`'s ``slots`` list
    (``{"slot", "start", "end", ...}``), labelled by slot name, sorted.

    NLU++ nests a few slots (``"only today"``: ``date_period`` [0, 10) holds ``date`` [5, 10)); token tags hold one
    label per token, so of overlapping spans the longer one is kept (the first on a tie). Empty spans are dropped.
    """
    cands = sorted((Span(int(s["start"]), int(s["end"]), str(s["slot"])) for s in slots if s["end"] > s["start"]),
                   key=lambda s: (-(s.end - s.start), s.start))
    kept: list[Span] = []
    for s in cands:
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return validate_spans(text, kept, row)
