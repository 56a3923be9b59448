"""The distilled student of TAIL (seed paper 13, arXiv 2411.14957): a cheap token tagger trained on an LLM teacher's
field values (response-based distillation), which then extracts the fields of every document without the teacher.

The paper fine-tunes a multimodal document model on the teacher's JSON answers; here (text documents, CPU) the
student is a logistic-regression token tagger (scikit-learn) over lexical and line-position features:

1. each teacher value is projected onto the document's tokens with normalisation-aware matching
   (:func:`labelwise.generate.field_values.locate_value`: the teacher's ``2024-03-15`` is found as ``15.03.2024``,
   ``12.30`` as ``12,30 €``, ``USD`` as ``$``; free text by rapidfuzz alignment), giving BIO tags per field;
2. every token gets features: the word, its shape, prefix and suffix, its neighbours, the first word of its line,
   the line's position from the top and from the bottom, its position in the line, and what the token is part of
   (a date, a number, the document's largest amount, a member of a field's closed set);
3. prediction decodes, per field, the best-scoring tagged span; its text is normalised to the field's type, and
   its confidence is the mean probability of its tags.
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_right
from typing import Optional, Sequence

import numpy as np

from labelwise.data.extraction_schema import FieldSpec
from labelwise.data.spans import tokenize
from labelwise.errors import ParameterError
from labelwise.generate.field_values import find_values, locate_value, normalise_value

__all__ = ["SpanExtractorStudent", "token_features"]

#: the features that name words (dropped in the augmented copy of each training document)
_CENTS = re.compile(r"[.,]\d{2}$")
_LEXICAL = ("w=", "suf=", "pre=", "line_kw=", "w-", "w+")


def _int32(matrix):
    """A CSR matrix with 32-bit indices (what saga accepts; DictVectorizer may give 64-bit ones)."""
    matrix = matrix.tocsr()
    matrix.indices, matrix.indptr = matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32)
    return matrix


def _shape(word: str) -> str:
    out = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)[:6]


def _inside(offsets, spans) -> np.ndarray:
    """(n_tokens,) bool: tokens that overlap any of ``spans`` ``[(start, end, ...)]``."""
    flags = np.zeros(len(offsets), dtype=bool)
    for span in spans:
        for k, (a, b) in enumerate(offsets):
            if a < span[1] and b > span[0]:
                flags[k] = True
    return flags


def token_features(text: str, offsets: Sequence[tuple], fields: Sequence[FieldSpec]) -> list:
    """One feature dict per token of ``text`` at ``offsets`` (lexical, line-position and value-kind features)."""
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    lines = text.split("\n")
    nonempty = [i for i, line in enumerate(lines) if line.strip()]
    rank = {line: r for r, line in enumerate(nonempty)}
    line_of = [bisect_right(line_starts, a) - 1 for a, _ in offsets]
    words = [text[a:b] for a, b in offsets]
    numbers = find_values(text, "number")
    money = [c for c in numbers if _CENTS.search(text[c[0]:c[1]])]  # amounts written with cents
    largest = max((float(c[2]) for c in money), default=None)
    marks = {"in_date": _inside(offsets, find_values(text, "date")), "in_number": _inside(offsets, numbers),
             "in_money": _inside(offsets, money),
             "in_largest_amount": _inside(offsets, [c for c in money if float(c[2]) == largest])}
    for spec in fields:
        if spec.values:
            marks[f"in_values:{spec.name}"] = _inside(offsets, find_values(text, spec.type, spec.values))
    largest_lines = {line_of[k] for k in np.flatnonzero(marks["in_largest_amount"])}
    first_word, position = {}, {}
    for k, line in enumerate(line_of):
        first_word.setdefault(line, next((w.lower() for w in words[k:k + 3] if w.isalpha()), "#"))
        position[k] = sum(1 for j in range(k) if line_of[j] == line)
    feats = []
    n = len(words)
    for k, word in enumerate(words):
        line = line_of[k]
        r = rank.get(line, 0)
        line_text = lines[line]
        f = {"bias": 1.0, "w=" + word.lower(): 1.0, "shape=" + _shape(word): 1.0, "suf=" + word[-3:].lower(): 1.0,
             "pre=" + word[:2].lower(): 1.0, "line_kw=" + first_word[line]: 1.0,
             f"line_top={min(r, 5)}": 1.0, f"line_bottom={min(len(nonempty) - 1 - r, 5)}": 1.0,
             f"in_line={min(position[k], 4)}": 1.0, "upper": float(word.isupper()), "title": float(word.istitle()),
             "alpha": float(word.isalpha()), "digit": float(word.isdigit()),
             "line_has_digit": float(any(ch.isdigit() for ch in line_text)),
             "line_of_largest_amount": float(line in largest_lines),
             "line_upper": float(line_text.upper() == line_text and any(ch.isalpha() for ch in line_text))}
        for d in (-2, -1, 1, 2):
            j = k + d
            same = 0 <= j < n and line_of[j] == line
            f[f"w{d:+d}=" + (words[j].lower() if same else "<line>")] = 1.0
        for name, flags in marks.items():
            if flags[k]:
                f[name] = 1.0
        feats.append(f)
    return feats


class SpanExtractorStudent:
    """A token tagger that learns an LLM teacher's field values and extracts them from any document.

    fields: the :class:`FieldSpec` s to extract (``schema.fields.values()``); C: inverse regularisation of the
    logistic regression; min_confidence: a field whose best span scores below it is left empty (None); augment: also
    train on a copy of each document without its word features, so that the tagger learns what line positions and
    value kinds say on their own (what carries over to a layout it never saw); mask_unfound: when a teacher value is
    not in its text, leave the tokens that could hold that field (its kind's values) out of training instead of
    teaching them as outside every field; random_state: for the solver.

    Attributes after :meth:`fit`: ``classes_`` (the BIO tags), ``projected_`` (field -> [values found in their text,
    values given]).
    """

    def __init__(self, fields: Sequence[FieldSpec], *, C: float = 0.3, min_confidence: float = 0.3,
                 augment: bool = True, mask_unfound: bool = True, max_iter: int = 300, random_state: int = 0):
        self.fields = fields
        self.augment = augment
        self.mask_unfound = mask_unfound
        self.C = C
        self.min_confidence = min_confidence
        self.max_iter = max_iter
        self.random_state = random_state

    def _specs(self) -> list:
        specs = list(self.fields)
        if not specs or not all(isinstance(s, FieldSpec) for s in specs):
            raise ParameterError("SpanExtractorStudent needs FieldSpec fields (schema.fields.values()).")
        return specs

    def project(self, text: str, values: dict) -> list:
        """``[(start, end, field)]``: where each of the teacher's ``values`` (field -> value) is in ``text``; a value
        that is not found, or that overlaps one found before it, is left out."""
        spans = []
        for spec in self._specs():
            where = locate_value(text, values.get(spec.name), spec.type, spec.values)
            if where and all(where[1] <= s or where[0] >= e for s, e, _ in spans):
                spans.append((where[0], where[1], spec.name))
        return spans

    def fit(self, texts: Sequence[str], labels: Sequence[Optional[dict]]) -> "SpanExtractorStudent":
        """texts: (n,) str; labels: (n,) the teacher's field -> value dicts (None: no usable answer, skipped)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        specs = self._specs()
        if len(texts) != len(labels):
            raise ParameterError(f"{len(texts)} texts but {len(labels)} labels; give one label dict per text.")
        self.projected_ = {s.name: [0, 0] for s in specs}
        feats, tags = [], []
        for text, values in zip(texts, labels):
            if values is None:
                continue
            offsets = tokenize(text)
            spans = self.project(text, values)
            for s in specs:
                self.projected_[s.name][1] += normalise_value(values.get(s.name), s.type, s.values) is not None
            row = ["O"] * len(offsets)
            for start, end, name in spans:
                self.projected_[name][0] += 1
                inside = [k for k, (a, b) in enumerate(offsets) if a < end and b > start]
                for j, k in enumerate(inside):
                    row[k] = ("B-" if j == 0 else "I-") + name
            # a value the teacher gave but the text does not hold (a made-up date, a wrong amount) says nothing
            # about which tokens hold the field: the tokens that could (its kind's values) are left out of training
            # rather than taught as "O"
            unknown = np.zeros(len(offsets), dtype=bool)
            found = {name for _, _, name in spans}
            for spec in specs:
                if spec.name not in found and values.get(spec.name) is not None and self.mask_unfound:
                    unknown |= _inside(offsets, find_values(text, spec.type, spec.values))
            keep = [k for k in range(len(offsets)) if row[k] != "O" or not unknown[k]]
            doc = token_features(text, offsets, specs)
            doc, row = [doc[k] for k in keep], [row[k] for k in keep]
            feats.extend(doc)
            tags.extend(row)
            if self.augment:  # the same tokens without what names them: structure must carry the tags too
                feats.extend([{k: v for k, v in f.items() if not k.startswith(_LEXICAL)} for f in doc])
                tags.extend(row)
        if len(set(tags)) < 2:
            raise ParameterError("None of the teacher's values was found in its document, so the student has nothing "
                                 "to learn; check the teacher's answers (or label more rows).")
        self.vectorizer_ = DictVectorizer()
        x = _int32(self.vectorizer_.fit_transform(feats))
        # saga: lbfgs spends seconds per step in scipy's setulb on a busy machine; saga takes a tenth of a second
        self.model_ = LogisticRegression(C=self.C, solver="saga", tol=1e-3, max_iter=self.max_iter,
                                         random_state=self.random_state)
        with warnings.catch_warnings():  # a tolerance of 1e-3 on the tags' probabilities is enough here
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(x, tags)
        self.classes_ = list(self.model_.classes_)
        return self

    def predict_proba(self, text: str) -> tuple:
        """(token offsets ``(n_tokens, 2)``, tag probabilities ``(n_tokens, len(classes_))``) of one document."""
        offsets = tokenize(text)
        if not offsets:
            return offsets, np.zeros((0, len(self.classes_)))
        features = _int32(self.vectorizer_.transform(token_features(text, offsets, self._specs())))
        return offsets, self.model_.predict_proba(features)

    def extract(self, text: str) -> dict:
        """field -> ``(value, start, end, confidence)`` or None, for one document. A field's span is the run of
        tokens whose probability of being in it (``B-`` plus ``I-``) is above 0.5 with the highest mean (or, when
        there is none, the likeliest token alone); its confidence is that mean."""
        offsets, proba = self.predict_proba(text)
        index = {c: i for i, c in enumerate(self.classes_)}
        out = {}
        for spec in self._specs():
            columns = [index[t] for t in ("B-" + spec.name, "I-" + spec.name) if t in index]
            mass = proba[:, columns].sum(axis=1) if columns and len(offsets) else np.zeros(len(offsets))
            best = None
            k = 0
            while k < len(offsets):
                if mass[k] <= 0.5:
                    k += 1
                    continue
                end = k
                while end < len(offsets) and mass[end] > 0.5:
                    end += 1
                score = float(mass[k:end].mean())
                if best is None or score > best[0]:
                    best = (score, offsets[k][0], offsets[end - 1][1])
                k = end
            if best is None and len(offsets):
                k = int(mass.argmax())
                best = (float(mass[k]), offsets[k][0], offsets[k][1])
            if best is None or best[0] < self.min_confidence:
                out[spec.name] = None
                continue
            score, start, end = best
            found = self._value(text, start, end, spec)
            out[spec.name] = None if found is None else (*found, score)
        return out

    @staticmethod
    def _value(text: str, start: int, end: int, spec: FieldSpec) -> Optional[tuple]:
        """(value, start, end) of a predicted span: snapped to the typed value it overlaps most, normalised; None for
        a typed field (date, number, closed set) whose span holds no value of its kind."""
        if spec.type != "string" or spec.values:
            overlaps = [(min(end, e) - max(start, s), s, e, v) for s, e, v in find_values(text, spec.type, spec.values)
                        if s < end and e > start]
            if overlaps:
                _, s, e, v = max(overlaps)
                return v, s, e
            return None
        raw = text[start:end]
        return normalise_value(raw, spec.type, spec.values) or raw.strip(), start, end

    def predict(self, texts: Sequence[str]) -> list:
        """texts: (n,) str -> (n,) dicts field -> normalised value (None when not found)."""
        return [{name: (found[0] if found else None) for name, found in self.extract(t).items()} for t in texts]
