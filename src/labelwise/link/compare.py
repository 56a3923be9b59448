"""Comparison vectors for candidate pairs: each comparison puts every pair into one of a few discrete levels.

This is the comparison step of Fellegi & Sunter (1969, "A Theory for Record Linkage", JASA 64:1183-1210) in the
form Splink uses ("comparison levels": exact / close / further / else, with a separate "missing" level that carries
no evidence). The levels are fed to :mod:`~labelwise.link.fellegi_sunter`, which learns how likely each level is
among matches (m) and non-matches (u) without labels.

Comparisons, per compared column (values as texts; both sides may name the column differently):

* ``text``: the normalised values are equal / have the same words / character 3-gram TF-IDF cosine >= 0.9 / >= 0.75
  / the words of one are all in the other / cosine >= 0.55, >= 0.35 / lower. The TF-IDF vocabulary and weights
  are fitted on both sides' values of that column, so rare n-grams (model numbers, surnames) weigh more.
* ``number`` (instead of ``text`` for a column whose values are mostly one number with decimals, e.g. a price):
  equal / within 1% / within 10% / further apart.
* ``integer`` (instead of ``number`` when every value is a whole number: a year, a month, a day, a street number, a
  postcode, a code): equal / off by one / one digit differs or two adjacent digits swapped (numbers of two digits
  or more) / different. A relative difference means nothing there: 1960 and 1979 are "within 1%", and so is any
  pair of birth years within 19 years of each other; a year, a day or a code that differs is different, apart
  from a typing slip or an off-by-one.
* ``numbers`` (a text column where numbers appear on both sides, e.g. "32 inch 1080p"): the same set of numbers /
  some shared / none shared.
* ``codes`` (a text column with product codes on both sides: words with letters and digits, such as ``dsc-w120``,
  compared without their hyphens, dots and slashes): a shared code / a code of one contains one of the other /
  none shared. Missing when either side has no code. A code that more than ``max(10, 1%)`` of the rows carry
  (``7.2mp``, ``1080p``) is a specification, not an identifier, and is left out.

And per pair, when row embeddings are given: ``embedding`` cosine >= 0.97, 0.92, 0.85, 0.75, 0.6, lower.

Level ``-1`` is "missing" (either value empty, or no number/code on one side). Level ``0`` is the least similar,
the highest level the most similar.

Shapes: ``left_values: (n_left,) str`` and ``right_values: (n_right,) str`` per column, ``left, right: (p,) int``
pair positions -> :class:`Comparison` with ``levels: (p,) int``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["Comparison", "compare_columns", "compare_embeddings", "char_tfidf", "normalise_text", "MISSING"]

MISSING = -1
_WORD = re.compile(r"[^\W_]+(?:[-/.][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
_NUMBER_IN_TEXT = re.compile(r"^\d+(?:\.\d+)?$")  # a word that is a number ("32", "7.5"; "7.2mp" is a code)
TEXT_CUTS = (0.35, 0.55, 0.75, 0.9)
EMBEDDING_CUTS = (0.6, 0.75, 0.85, 0.92, 0.97)


@dataclass(frozen=True)
class Comparison:
    """One comparison of the pairs: ``levels: (p,) int`` in ``-1`` (missing) .. ``len(level_names) - 1``."""

    name: str
    levels: np.ndarray
    level_names: tuple[str, ...]

    @property
    def n_levels(self) -> int:
        return len(self.level_names)


def normalise_text(value: str) -> str:
    """Lower case, Unicode NFKC, accents dropped, single spaces."""
    text = unicodedata.normalize("NFKD", str(value).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _codes(words: Sequence[str]) -> frozenset[str]:
    out = set()
    for w in words:
        if any(c.isdigit() for c in w) and any(c.isalpha() for c in w):
            code = re.sub(r"[-/.]", "", w)
            if len(code) >= 3:
                out.add(code)
    return frozenset(out)


def _number(word: str) -> float | None:
    return float(word) if _NUMBER_IN_TEXT.match(word) else None


def _numbers(words: Sequence[str]) -> frozenset[float]:
    return frozenset(x for x in (_number(w) for w in words) if x is not None)


def char_tfidf(left: Sequence[str], right: Sequence[str] | None = None, ngram: int = 3):
    """Character ``ngram``-gram TF-IDF vectors (within word boundaries, sublinear tf, L2-normalised) fitted on the
    texts of both sides: ``(n_left, d)`` and ``(n_right, d)`` CSR matrices (the same matrix twice when ``right`` is
    None). Empty texts give zero rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(left) + (list(right) if right is not None else [])
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(ngram, ngram), sublinear_tf=True, min_df=1,
                                 dtype=np.float32)
    if not any(t.strip() for t in texts):
        empty = sparse.csr_matrix((len(texts), 1), dtype=np.float32)
        matrix = empty
    else:
        matrix = vectorizer.fit_transform(texts).tocsr()
    n = len(left)
    return (matrix[:n], matrix[n:]) if right is not None else (matrix, matrix)


def _row_cosines(a: sparse.csr_matrix, b: sparse.csr_matrix, left: np.ndarray, right: np.ndarray,
                 chunk: int = 200_000) -> np.ndarray:
    """Cosine of ``a[left[i]]`` and ``b[right[i]]`` for every pair (rows are unit length or zero): ``(p,) float``."""
    out = np.zeros(left.size, dtype=np.float64)
    for s in range(0, left.size, chunk):
        sel = slice(s, s + chunk)
        out[sel] = np.asarray(a[left[sel]].multiply(b[right[sel]]).sum(axis=1)).ravel()
    return np.clip(out, 0.0, 1.0)


def _levels_from_cuts(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(cuts), values, side="right").astype(np.int64)


def _is_numeric_column(values: Sequence[str]) -> bool:
    filled = [v for v in values if v]
    return bool(filled) and sum(bool(_NUMBER.match(v.replace("$", "").replace(",", ""))) for v in filled) >= 0.9 * len(
        filled)


def _parse_numbers(values: Sequence[str]) -> np.ndarray:
    """Each value as a number ``(n,) float`` (NaN where it is not one); ``$`` and thousands commas dropped."""
    def parse(v):
        v = v.replace("$", "").replace(",", "")
        return float(v) if _NUMBER.match(v) else np.nan

    return np.array([parse(v) for v in values], dtype=np.float64)


def _is_integer_column(x: np.ndarray) -> bool:
    """Every parsed value ``(n,) float`` is a whole number (a year, a day, a code), none too large to hold exactly."""
    x = x[~np.isnan(x)]
    return bool(x.size) and bool(np.all(x == np.round(x))) and bool(np.all(np.abs(x) < 2 ** 53))


def _one_digit_apart(a: str, b: str) -> bool:
    """Same length, at least two digits, and one digit differs or two adjacent digits are swapped (a typing slip:
    1967 / 1976 / 1961). Two different one-digit numbers are not "one digit apart": that would be every pair."""
    if len(a) != len(b) or len(a) < 2:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                              and a[diff[1]] == b[diff[0]])


def _compare_integers(lx: np.ndarray, rx: np.ndarray, left, right) -> np.ndarray:
    """Levels ``(p,) int``: -1 missing, 0 different, 1 one digit apart, 2 off by one, 3 equal."""
    a, b = lx[left], rx[right]
    missing = np.isnan(a) | np.isnan(b)
    gap = np.abs(np.where(missing, 0.0, a - b))
    levels = np.where(gap == 0, 3, np.where(gap == 1, 2, 0)).astype(np.int64)
    for i in np.flatnonzero(~missing & (gap > 1)):
        if _one_digit_apart(str(abs(int(a[i]))), str(abs(int(b[i])))):
            levels[i] = 1
    levels[missing] = MISSING
    return levels


def _compare_numbers(lx: np.ndarray, rx: np.ndarray, left, right) -> np.ndarray:
    a, b = lx[left], rx[right]
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
    rel = np.abs(a - b) / scale
    levels = np.where(rel <= 1e-9, 3, np.where(rel <= 0.01, 2, np.where(rel <= 0.1, 1, 0)))
    return np.where(np.isnan(a) | np.isnan(b), MISSING, levels).astype(np.int64)


def _identifying(lcode: list[frozenset], rcode: list[frozenset] | None) -> tuple[list, list]:
    """The codes without those that too many rows carry: a code in more than ``max(10, 1%)`` of the rows (both sides
    counted; ``rcode`` None: one table) is a specification ("7.2mp", "1080p"), not a model number, and sharing it
    says little about identity."""
    sets = lcode + (rcode or [])
    counts: dict[str, int] = {}
    for codes in sets:
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    limit = max(10, 0.01 * len(sets))
    common = {code for code, count in counts.items() if count > limit}
    if not common:
        return lcode, (lcode if rcode is None else rcode)
    lcode = [c - common for c in lcode]
    return lcode, (lcode if rcode is None else [c - common for c in rcode])


def _set_levels(lsets, rsets, left, right, *, contains: bool) -> np.ndarray:
    """``-1`` either empty, 0 disjoint, 1 (``contains``: one element contains another) / sets overlap, 2 equal or
    shared (codes: any shared code is the top level)."""
    out = np.empty(left.size, dtype=np.int64)
    for i, (x, y) in enumerate(zip(left.tolist(), right.tolist())):
        a, b = lsets[x], rsets[y]
        if not a or not b:
            out[i] = MISSING
        elif contains:  # product codes
            if a & b:
                out[i] = 2
            elif any((p in q or q in p) for p in a for q in b if min(len(p), len(q)) >= 4):
                out[i] = 1
            else:
                out[i] = 0
        else:  # numbers in a text
            out[i] = 2 if a == b else (1 if a & b else 0)
    return out


def compare_columns(
    name: str,
    left_values: Sequence[str],
    right_values: Sequence[str] | None,
    left: np.ndarray,
    right: np.ndarray,
    *,
    min_share: float = 0.1,
) -> list[Comparison]:
    """The comparisons of one column for the pairs ``(left[i], right[i])``; see the module docstring.

    left_values: ``(n_left,) str`` the column's values on the left (empty string = missing); right_values:
    ``(n_right,) str``, or None when both sides are the same table (self-linkage, de-duplication). A ``numbers`` or
    ``codes`` comparison is made only when at least ``min_share`` of the rows on each side have one.
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    lnorm = [normalise_text(v) for v in left_values]
    rnorm = lnorm if right_values is None else [normalise_text(v) for v in right_values]
    if _is_numeric_column(lnorm) and _is_numeric_column(rnorm):
        lx = _parse_numbers(lnorm)
        rx = lx if right_values is None else _parse_numbers(rnorm)
        if _is_integer_column(lx) and _is_integer_column(rx):
            return [Comparison(f"{name}: integer", _compare_integers(lx, rx, left, right),
                               ("different", "one digit apart", "off by one", "equal"))]
        return [Comparison(f"{name}: number", _compare_numbers(lx, rx, left, right),
                           ("different", "within 10%", "within 1%", "equal"))]

    lv, rv = char_tfidf(lnorm, None if right_values is None else rnorm)
    cos = _row_cosines(lv, rv, left, right)
    lwords = [_words(t) for t in lnorm]
    rwords = lwords if right_values is None else [_words(t) for t in rnorm]
    lset = [frozenset(w) for w in lwords]
    rset = lset if right_values is None else [frozenset(w) for w in rwords]
    # 0 <.35 | 1 >=.35 | 2 >=.55 | 3 words of one within the other (cosine < .75) | 4 >=.75 | 5 >=.9 |
    # 6 same words | 7 equal
    level = _levels_from_cuts(cos, TEXT_CUTS)  # 0..4: <0.35, 0.35, 0.55, 0.75, 0.9
    text_level = np.where(level >= 3, level + 1, level)
    for i, (x, y) in enumerate(zip(left.tolist(), right.tolist())):
        a, b = lnorm[x], rnorm[y]
        if not a or not b:
            text_level[i] = MISSING
        elif a == b:
            text_level[i] = 7
        elif lset[x] == rset[y]:
            text_level[i] = 6
        elif text_level[i] < 3 and len(lset[x]) >= 2 and len(rset[y]) >= 2 and (lset[x] <= rset[y] or
                                                                                 rset[y] <= lset[x]):
            text_level[i] = 3
    out = [Comparison(f"{name}: text", text_level.astype(np.int64),
                      ("cosine < 0.35", "cosine >= 0.35", "cosine >= 0.55", "words within", "cosine >= 0.75",
                       "cosine >= 0.9", "same words", "equal"))]

    def share(sets):  # 0 when no row has one: such a comparison would be missing for every pair
        return sum(bool(s) for s in sets) / max(len(sets), 1) or -1.0

    lnum = [_numbers(w) for w in lwords]
    rnum = lnum if right_values is None else [_numbers(w) for w in rwords]
    if share(lnum) >= min_share and share(rnum) >= min_share:
        out.append(Comparison(f"{name}: numbers", _set_levels(lnum, rnum, left, right, contains=False),
                              ("none shared", "some shared", "same numbers")))
    lcode = [_codes(w) for w in lwords]
    rcode = lcode if right_values is None else [_codes(w) for w in rwords]
    lcode, rcode = _identifying(lcode, rcode if right_values is not None else None)
    if share(lcode) >= min_share and share(rcode) >= min_share:
        out.append(Comparison(f"{name}: codes", _set_levels(lcode, rcode, left, right, contains=True),
                              ("none shared", "one contains the other", "shared code")))
    return out


def compare_embeddings(left_vectors: np.ndarray, right_vectors: np.ndarray, left: np.ndarray,
                       right: np.ndarray) -> Comparison:
    """Cosine of the row embeddings (``(n_left, d)``, ``(n_right, d)``, unit length) in six levels."""
    a = np.asarray(left_vectors, dtype=np.float32)[np.asarray(left, dtype=np.int64)]
    b = np.asarray(right_vectors, dtype=np.float32)[np.asarray(right, dtype=np.int64)]
    cos = np.einsum("ij,ij->i", a, b).astype(np.float64) if len(a) else np.zeros(0)
    zero = (np.abs(a).sum(axis=1) == 0) | (np.abs(b).sum(axis=1) == 0) if len(a) else np.zeros(0, bool)
    levels = np.where(zero, MISSING, _levels_from_cuts(cos, EMBEDDING_CUTS))
    return Comparison("embedding", levels.astype(np.int64),
                      ("cosine < 0.6", ">= 0.6", ">= 0.75", ">= 0.85", ">= 0.92", ">= 0.97"))
