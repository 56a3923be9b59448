"""The categories of a taxonomy as a model writes them: read leniently, then repaired.

Small local models follow instructions badly (see :mod:`labelwise.generate.taxonomy`), so an answer is parsed
from any usual list format and then cleaned: names are cut to ``MAX_NAME_WORDS`` words; empty names, catch-alls
("Other": labelling adds it back), names copied from the texts and items that run into the next ones are dropped;
duplicates and near-duplicates (cosine of the embedded names >= ``NEAR_DUPLICATE``) are merged; a list that is
too long is merged down by embedding similarity. Every repair returns a note saying what it did.

Algorithm floor: strings and embedding arrays in, categories out; the encoder is any object with
``encode(texts) -> (n, d)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from labelwise.neighbours import normalise

OTHER = "Other"
_CATCH_ALL = {"other", "others", "misc", "miscellaneous", "general", "unknown", "none", "n a", "na"}
MAX_NAME_WORDS = 6
MAX_DESCRIPTION_CHARS = 200
NEAR_DUPLICATE = 0.9  # cosine of two names' sentence embeddings above which they name the same thing (paraphrases)


@dataclass
class Category:
    """One label of a taxonomy: a short ``name`` and a ``description`` that tells it apart from the others."""

    name: str
    description: str = ""


_LIST_IN_LINE = re.compile(r"(?:^|\s)\d{1,2}[.)]\s+\w")  # "... 2. Next item" inside one description
_ITEM = re.compile(r"^\s*(?P<marker>\d{1,3}\s*[.):]|[-*\u2022])?\s*(?P<body>.+?)\s*$")


def parse_categories(text: str) -> list:
    """Categories from a model's answer: lines like ``1. Name: description`` (also ``- Name - description``,
    ``**Name**: ...``) or a JSON list of ``{"name", "description"}``. Lines that are not items are skipped."""
    text = (text or "").strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
            return [Category(str(i.get("name", "")), str(i.get("description", ""))) for i in items
                    if isinstance(i, dict)]
        except ValueError:
            pass
    out = []
    for line in text.splitlines():
        match = _ITEM.match(line)
        if not match:
            continue
        body = match.group("body").replace("**", "").replace("__", "")
        name, sep, description = body.partition(":")
        if not sep:
            name, sep, description = body.partition(" - ")
        if not match.group("marker") and not description.strip():
            continue  # neither a list item nor "name: description": a heading or chatter
        if not sep and len(body.split()) > MAX_NAME_WORDS:
            continue  # a sentence, not a name
        out.append(Category(name, description))
    return out


def name_key(name: str) -> str:
    """Names that differ only in case, punctuation or an English plural are the same category."""
    def singular(w: str) -> str:
        if len(w) > 4 and w.endswith("ies"):
            return w[:-3] + "y"
        return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w

    return " ".join(singular(w) for w in re.sub(r"[^\w\s]", " ", name.casefold()).split())


def clean_categories(categories: Sequence[Category], texts: Sequence[str] = ()) -> tuple:
    """(cleaned categories, notes): whitespace and quotes tidied, names cut to ``MAX_NAME_WORDS`` words,
    descriptions to ``MAX_DESCRIPTION_CHARS``, empty and catch-all names dropped, duplicates merged (first kept).
    A name of four or more words copied verbatim from one of ``texts`` (the prompt's texts) is dropped: that is the
    model echoing its input, not naming a category; so is an item whose description runs on into the next items."""
    notes, out, seen, duplicates = [], [], {}, {}
    corpus = "\n".join(name_key(t) for t in texts)
    for c in categories:
        name = " ".join(str(c.name).strip(" \t\"'`*#.-").split())
        description = " ".join(str(c.description).strip(" \t\"'`*").split())[:MAX_DESCRIPTION_CHARS]
        if len(name.split()) > MAX_NAME_WORDS:
            name = " ".join(name.split()[:MAX_NAME_WORDS])
            notes.append(f"shortened a name to {name!r}")
        key = name_key(name)
        if not key:
            notes.append("dropped an empty name")
            continue
        if len(key.split()) >= 4 and key in corpus:
            notes.append(f"dropped {name!r}: copied from a text")
            continue
        if _LIST_IN_LINE.search(description):
            notes.append(f"dropped {name!r}: several items on one line")
            continue
        if key in _CATCH_ALL:
            notes.append(f"dropped the catch-all {name!r} (labelling adds {OTHER!r})")
            continue
        if key in seen:
            duplicates[key] = duplicates.get(key, 0) + 1
            kept = seen[key]
            if len(description) > len(kept.description):
                kept.description = description
            continue
        seen[key] = Category(name, description)
        out.append(seen[key])
    notes += [f"merged {n} duplicate(s) of {seen[key].name!r}" for key, n in duplicates.items()]
    return out, notes


def merge_near_duplicates(categories: list, encoder, threshold: float = NEAR_DUPLICATE) -> tuple:
    """Merge categories whose names are near-duplicates (cosine of the embedded names >= ``threshold``; the
    earlier one is kept): the names a small model writes when it repeats one line with small variations.
    Returns (categories, notes)."""
    if len(categories) < 2:
        return list(categories), []
    vectors = normalise(encoder.encode([c.name for c in categories]))
    kept, merged = [], {}
    for i, c in enumerate(categories):
        twin = next((j for j in kept if float(vectors[i] @ vectors[j]) >= threshold), None)
        if twin is None:
            kept.append(i)
        else:
            merged.setdefault(twin, []).append(c.name)
    notes = [f"merged near-duplicate(s) {', '.join(map(repr, names))} into {categories[j].name!r}"
             for j, names in merged.items()]
    return [categories[i] for i in kept], notes


def merge_closest(categories: list, max_labels: int, encoder) -> tuple:
    """Merge the two most similar categories (cosine of the embedded ``name: description``) until at most
    ``max_labels`` remain; the earlier one keeps its name and lists the other's. Returns (categories, notes)."""
    categories = [Category(c.name, c.description) for c in categories]
    notes = []
    if len(categories) <= max_labels:
        return categories, notes
    vectors = normalise(encoder.encode([f"{c.name}: {c.description}" for c in categories]))
    alive = list(range(len(categories)))
    while len(alive) > max_labels:
        sims = vectors[alive] @ vectors[alive].T
        np.fill_diagonal(sims, -np.inf)
        a, b = np.unravel_index(np.argmax(sims), sims.shape)
        keep, drop = alive[min(a, b)], alive[max(a, b)]
        kept = categories[keep]
        kept.description = (kept.description.rstrip(". ") + f" (includes {categories[drop].name})").strip()
        notes.append(f"merged {categories[drop].name!r} into {kept.name!r} (too many labels)")
        vectors[keep] = normalise((vectors[keep] + vectors[drop])[None])[0]
        alive.remove(drop)
    return [categories[i] for i in alive], notes
