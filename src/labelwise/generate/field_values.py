"""Field values of extracted documents: normalisation (dates to ISO, amounts to one form, closed sets and currency
symbols to their code), finding a value's span in the text however it is written there, and ANLS.

TAIL (seed paper 13, Bhattacharyya and Tripathi, WACV 2025, arXiv 2411.14957) scores extraction by ANLS: ``1 -
NL(pred, gold)`` when the normalised Levenshtein distance ``NL`` is below 0.5, else 0, the maximum over the gold's
variants. Case and whitespace are normalised identically on both sides; an absent value (None) and the empty string
are the same, so an empty prediction for an absent field scores 1 and any prediction for it scores 0.

Pure functions on strings: no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Optional, Sequence

__all__ = ["normalise_value", "parse_date", "parse_number", "find_values", "locate_value", "anls", "field_anls",
           "CURRENCY_SYMBOLS"]

#: symbols that stand for an ISO currency code in a closed set of codes
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "Euro": "EUR", "EURO": "EUR"}
_MONTHS = {name: i for i, names in enumerate([
    ("jan", "january", "januar", "jän"), ("feb", "february", "februar"), ("mar", "march", "mär", "märz", "maerz"),
    ("apr", "april"), ("may", "mai"), ("jun", "june", "juni"), ("jul", "july", "juli"), ("aug", "august"),
    ("sep", "sept", "september"), ("oct", "october", "okt", "oktober"), ("nov", "november"),
    ("dec", "december", "dez", "dezember")], 1) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    r"(?<!\d)(?:(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"  # 2024-03-15
    r"|(?P<dd>\d{1,2})\.(?P<dm>\d{1,2})\.(?P<dy>\d{4}|\d{2})"  # 15.03.2024
    r"|(?P<sa>\d{1,2})/(?P<sb>\d{1,2})/(?P<sy>\d{4}|\d{2})"  # 03/15/2024 (US; day first when the first is > 12)
    rf"|(?P<td>\d{{1,2}})\.?\s+(?P<tm>{_MONTH})\.?\s+(?P<ty>\d{{4}})"  # 15 Mar 2024, 15. März 2024
    rf"|(?P<um>{_MONTH})\.?\s+(?P<ud>\d{{1,2}}),?\s+(?P<uy>\d{{4}}))(?!\d)", re.I)
_NUMBER = re.compile(r"(?<![\d.,])[-+]?\d(?:[\d.,']*\d)?(?![\d])")


def parse_date(text: str) -> Optional[str]:
    """The first date written in ``text`` as ``YYYY-MM-DD`` (formats: ISO, ``15.03.2024``, US ``03/15/2024``,
    ``15 Mar 2024``, ``March 15, 2024``, two-digit years as 20xx), or None."""
    for match in _DATE.finditer(str(text)):
        found = _date_of(match)
        if found:
            return found
    return None


def _date_of(m: re.Match) -> Optional[str]:
    g = m.groupdict()
    if g["iy"]:
        y, mo, d = g["iy"], g["im"], g["id"]
    elif g["dd"]:
        y, mo, d = g["dy"], g["dm"], g["dd"]
    elif g["sa"]:
        y, mo, d = g["sy"], g["sa"], g["sb"]
        if int(mo) > 12:
            mo, d = d, mo
    elif g["td"]:
        y, mo, d = g["ty"], _MONTHS[g["tm"].lower()], g["td"]
    else:
        y, mo, d = g["uy"], _MONTHS[g["um"].lower()], g["ud"]
    year = int(y) + (2000 if len(str(y)) == 2 else 0)
    try:
        return date(year, int(mo), int(d)).isoformat()
    except ValueError:
        return None


def parse_number(text: str, *, integer: bool = False) -> Optional[str]:
    """The first number in ``text`` in one form: ``"1.234,50 €"``, ``"$1,234.5"`` and ``"1234.50"`` all give
    ``"1234.50"`` (two decimals when it has at most two, else as written); ``integer``: ``"1234"``. A single
    separator followed by exactly three digits (``1.234``) is read as a thousands separator only when it is a comma;
    a point there is a decimal point. None when there is no number."""
    match = _NUMBER.search(str(text))
    if not match:
        return None
    raw = match.group().replace("'", "")
    sign = "-" if raw.startswith("-") else ""
    raw = raw.lstrip("+-")
    points, commas = raw.count("."), raw.count(",")
    if points and commas:
        decimal = "." if raw.rfind(".") > raw.rfind(",") else ","
    elif commas:
        decimal = "," if commas == 1 and len(raw) - raw.rfind(",") - 1 != 3 else None
    elif points:
        decimal = "." if points == 1 else None
    else:
        decimal = None
    thousands = {".": ",", ",": "."}.get(decimal, ".,")
    digits = raw
    for mark in thousands:
        digits = digits.replace(mark, "")
    digits = digits.replace(",", ".")
    try:
        value = Decimal(sign + digits)
    except InvalidOperation:
        return None
    if integer:
        return str(int(value))
    places = -value.as_tuple().exponent if value.as_tuple().exponent < 0 else 0
    return f"{value:.2f}" if places <= 2 else format(value.normalize(), "f")


def normalise_value(value, kind: str = "string", values: Optional[Sequence[str]] = None) -> Optional[str]:
    """``value`` in the field's normal form, or None when it is absent or not of the field's kind: ``date`` ->
    ``YYYY-MM-DD``; ``number`` -> :func:`parse_number`; ``integer`` -> digits; ``values`` (a closed set) -> the member
    it names (case-insensitively, or by a currency symbol); ``string`` -> the text with runs of white space as one
    space."""
    if value is None or isinstance(value, (list, dict)):
        return None
    if isinstance(value, bool):
        value = str(value).lower()
    text = " ".join(str(value).split())
    if not text or text.lower() in ("null", "none", "n/a"):
        return None
    if kind == "date":
        return parse_date(text)
    if kind in ("number", "integer"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = format(Decimal(repr(value)), "f")  # repr(1e-05) is '1e-05': parse_number would read 1
        return parse_number(text, integer=kind == "integer")
    if values:
        by_name = {str(v).casefold(): str(v) for v in values}
        if text.casefold() in by_name:
            return by_name[text.casefold()]
        code = CURRENCY_SYMBOLS.get(text)
        return code if code in values else None
    return text


def find_values(text: str, kind: str = "string", values: Optional[Sequence[str]] = None) -> list:
    """Every place in ``text`` that holds a value of the field's kind: ``[(start, end, normalised)]`` in text order
    (dates, numbers, or members of the closed set ``values`` and their currency symbols; free strings have no
    candidates)."""
    found = []
    if kind == "date":
        for m in _DATE.finditer(text):
            value = _date_of(m)
            if value:
                found.append((m.start(), m.end(), value))
    elif kind in ("number", "integer"):
        dates = [(m.start(), m.end()) for m in _DATE.finditer(text)]
        for m in _NUMBER.finditer(text):
            start, end = m.start(), m.end()
            if any(start < b and end > a for a, b in dates):  # a date's digits are not an amount
                continue
            value = parse_number(text[start:end], integer=kind == "integer")
            if value is not None:
                found.append((start, end, value))
    elif values:
        names = [str(v) for v in values] + [s for s, code in CURRENCY_SYMBOLS.items() if code in values]
        pattern = "|".join(rf"(?<!\w){re.escape(n)}(?!\w)" if n[-1:].isalnum() else re.escape(n)
                           for n in sorted(names, key=len, reverse=True))
        for m in re.finditer(pattern or r"(?!x)x", text, re.I):
            value = normalise_value(m.group(), kind, values)
            if value is not None:
                found.append((m.start(), m.end(), value))
    return found


def locate_value(text: str, value, kind: str = "string", values: Optional[Sequence[str]] = None, *,
                 min_score: float = 85.0) -> Optional[tuple]:
    """Where ``value`` (e.g. an LLM's answer, already normalised or not) is written in ``text``: ``(start, end)`` or
    None. Typed fields match by normal form (``2024-03-15`` finds ``15.03.2024``; ``12.30`` finds ``12,30 €``; ``USD``
    finds ``$``), the last such place when there are several (totals come last); free text matches exactly
    (case-insensitively) or else by rapidfuzz's best partial alignment of at least ``min_score`` (0-100), widened to
    whole words."""
    target = normalise_value(value, kind, values)
    if target is None:
        return None
    if kind != "string" or values:
        hits = [(s, e) for s, e, v in find_values(text, kind, values) if v == target]
        return hits[-1] if hits else None
    at = text.casefold().find(target.casefold())
    if at >= 0 and len(text.casefold()) == len(text):
        return _whole_words(text, at, at + len(target))
    from rapidfuzz import fuzz

    aligned = fuzz.partial_ratio_alignment(target.casefold(), text.casefold())
    if aligned is None or aligned.score < min_score or aligned.dest_end <= aligned.dest_start:
        return None
    return _whole_words(text, aligned.dest_start, aligned.dest_end)


def _whole_words(text: str, start: int, end: int) -> Optional[tuple]:
    """``(start, end)`` widened to whole words and stripped of white space at both ends (None when nothing is left)."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _anls_text(value) -> str:
    return "" if value is None else " ".join(str(value).split()).casefold()


def anls(pred, gold, threshold: float = 0.5) -> float:
    """ANLS of one prediction: ``1 - NL`` when the normalised Levenshtein distance ``NL = lev / max(len)`` between
    ``pred`` and ``gold`` (case and white space normalised; None as "") is below ``threshold``, else 0; ``gold`` may be
    a list of accepted variants (the best counts). Both empty: 1."""
    from rapidfuzz.distance import Levenshtein

    variants = gold if isinstance(gold, (list, tuple)) else [gold]
    p, best = _anls_text(pred), 0.0
    for variant in variants or [None]:
        g = _anls_text(variant)
        if not p and not g:
            return 1.0
        distance = Levenshtein.normalized_distance(p, g)
        if distance < threshold:
            best = max(best, 1.0 - distance)
    return best


def field_anls(preds: Sequence, golds: Sequence, fields: Sequence[str], threshold: float = 0.5) -> dict:
    """Mean ANLS per field over documents, and ``"mean"`` over the fields. ``preds[i]``/``golds[i]``: dicts
    field -> value (a missing key or a None document counts as None values)."""
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} gold documents")
    scores = {}
    for name in fields:
        per_doc = [anls((p or {}).get(name), (g or {}).get(name), threshold) for p, g in zip(preds, golds)]
        scores[name] = sum(per_doc) / len(per_doc) if per_doc else float("nan")
    scores["mean"] = sum(scores[f] for f in fields) / len(fields) if fields else float("nan")
    return scores
