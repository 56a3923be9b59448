"""Induce a label taxonomy from raw text with an LLM: phase 1 of TnT-LLM.

Seed paper: Wan et al., "TnT-LLM: Text Mining at Scale with Large Language Models" (KDD 2024, arXiv 2403.12173).
Phase 1 works like stochastic gradient descent over the data, with prompts as the update rule:

1. **summarise** every sampled text in a few words focused on the use case (texts already shorter than a summary
   are kept as they are: a summary exists to fit many documents into one prompt, and a short text needs none);
2. **generate** a first taxonomy from the first minibatch of summaries;
3. **update** it with each later minibatch: the model sees the current taxonomy and new texts, and writes the
   revised taxonomy (keep what fits, merge overlaps, add what is missing);
4. **review** it once at the end: merge near-duplicates, make names specific and descriptions discriminative.

The taxonomy is a list of :class:`Category` (a short name and a one-sentence description). It is saved as YAML a
person can edit and give back (``labelwise annotate --taxonomy``, or ``induce_taxonomy(start=...)`` to refine it
on more data).

Small local models follow instructions badly, so every answer is forced into the list format by a grammar where
the backend supports one (llama.cpp), parsed leniently otherwise, and then repaired: names are cut to a few words;
empty names, catch-alls ("Other": labelling adds it back), names copied from the texts and items that run into the
next ones are dropped; duplicates and near-duplicates (embedding cosine >= 0.9) are merged; an answer that mostly
repeats one line is refused; a list longer than ``max_labels`` is asked for again and then merged by embedding
similarity. An update that comes back unusable keeps the previous taxonomy; if the first two minibatches give
none, the model is not asked again and the taxonomy falls back to embedding clusters named by their distinctive
words (:func:`labelwise.generate.clusters.cluster_taxonomy`). It never crashes on the model's output, and every
repair is recorded in ``Taxonomy.settings["repairs"]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.neighbours import normalise
from labelwise.data.atomic import write_text_atomic
from labelwise.errors import DataError
from labelwise.llm.backend import Backend

GRANULARITY = {
    "coarse": "Prefer a few broad categories.",
    "medium": "Make categories neither too broad nor too narrow.",
    "fine": "Prefer specific, fine-grained categories.",
}
OTHER = "Other"
_CATCH_ALL = {"other", "others", "misc", "miscellaneous", "general", "unknown", "none", "n a", "na"}
MAX_NAME_WORDS = 6
MAX_DESCRIPTION_CHARS = 200
NEAR_DUPLICATE = 0.9  # cosine of two names' sentence embeddings above which they name the same thing (paraphrases)
GIVE_UP_AFTER = 2  # minibatches in a row without any usable taxonomy before falling back to clusters


@dataclass
class Category:
    """One label of a taxonomy: a short ``name`` and a ``description`` that tells it apart from the others."""

    name: str
    description: str = ""


@dataclass
class Taxonomy:
    """An ordered list of categories, the use case they were made for, and how they were made."""

    categories: list
    use_case: str = ""
    settings: dict = field(default_factory=dict)

    @property
    def names(self) -> list:
        return [c.name for c in self.categories]

    def definitions(self) -> dict:
        """{name: description}."""
        return {c.name: c.description for c in self.categories}

    def __len__(self) -> int:
        return len(self.categories)

    def __repr__(self) -> str:
        shown = ", ".join(self.names[:8]) + (", ..." if len(self) > 8 else "")
        return f"Taxonomy({len(self)} categories: {shown})"

    def to_prompt(self) -> str:
        """The numbered ``name: description`` list used in prompts."""
        return "\n".join(f"{i}. {c.name}: {c.description}".rstrip(": ") for i, c in enumerate(self.categories, 1))

    def to_yaml(self) -> str:
        import yaml

        body = {"use_case": self.use_case,
                "categories": [{"name": c.name, "description": c.description} for c in self.categories]}
        head = ("# A label taxonomy made by labelwise (TnT-LLM). Edit freely: rename, merge, delete or add categories,\n"
                "# then label with it: labelwise annotate DATA --text COL --taxonomy THIS_FILE\n")
        made = yaml.safe_dump({"made_with": self.settings}, sort_keys=False, allow_unicode=True, width=110)
        return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110) + made

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, self.to_yaml())
        return path

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "the taxonomy") -> "Taxonomy":
        """Read YAML: ``{use_case, categories: [{name, description}]}``, a plain list of such items (or of names),
        or a mapping ``name: description``. Raises :class:`DataError` saying what to fix."""
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise DataError(f"{source} is not valid YAML ({err}). Fix the file; its format is "
                            "'categories: [{name: ..., description: ...}]'.") from None
        use_case, settings = "", {}
        if isinstance(loaded, dict) and "categories" in loaded:
            use_case = str(loaded.get("use_case") or "")
            settings = loaded.get("made_with") or {}
            loaded = loaded["categories"]
        if isinstance(loaded, dict):
            loaded = [{"name": k, "description": v} for k, v in loaded.items()]
        if not isinstance(loaded, list):
            raise DataError(f"{source} has no list of categories. Write 'categories:' followed by items "
                            "'- name: ...' with 'description: ...'.")
        categories = []
        for i, item in enumerate(loaded, 1):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not str(item.get("name") or "").strip():
                raise DataError(f"{source}: category {i} has no name. Give every item a 'name:'.")
            categories.append(Category(" ".join(str(item["name"]).split()),
                                       " ".join(str(item.get("description") or "").split())))
        seen: dict = {}
        for c in categories:
            key = c.name.casefold()
            if key in seen:
                raise DataError(f"{source}: the name {c.name!r} appears twice. Merge the two categories or rename "
                                "one: labels must be distinct.")
            seen[key] = c
        if len(categories) < 2:
            raise DataError(f"{source} has {len(categories)} category; a taxonomy needs at least two.")
        return cls(categories, use_case, settings)

    @classmethod
    def load(cls, path) -> "Taxonomy":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"Taxonomy file not found: {path}. Make one with: labelwise taxonomy DATA --text COL "
                            f"--out {path.name}")
        return cls.from_yaml(path.read_text(encoding="utf-8"), source=str(path))


# ---- reading and repairing what a model wrote -----------------------------------------------------------------

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


def _key(name: str) -> str:
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
    corpus = "\n".join(_key(t) for t in texts)
    for c in categories:
        name = " ".join(str(c.name).strip(" \t\"'`*#.-").split())
        description = " ".join(str(c.description).strip(" \t\"'`*").split())[:MAX_DESCRIPTION_CHARS]
        if len(name.split()) > MAX_NAME_WORDS:
            name = " ".join(name.split()[:MAX_NAME_WORDS])
            notes.append(f"shortened a name to {name!r}")
        key = _key(name)
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
        vectors[keep] = vectors[keep] + vectors[drop]
        vectors[keep] /= max(np.linalg.norm(vectors[keep]), 1e-12)
        alive.remove(drop)
    return [categories[i] for i in alive], notes


# ---- prompts ----------------------------------------------------------------------------------------------------

def _taxonomy_grammar(min_labels: int, max_labels: int) -> str:
    """GBNF for ``1. Name: description`` lines: between min and max items, names of 1 to ``MAX_NAME_WORDS`` words,
    no empty lines."""
    return (f"root ::= item{{{min_labels},{max_labels}}}\n"
            'item ::= [0-9] [0-9]? ". " name ": " desc "\\n"\n'
            f'name ::= word (" " word){{0,{MAX_NAME_WORDS - 1}}}\n'
            'word ::= [^ \\n:.,;!?"<>()*_#0-9] [^ \\n:.,;!?"<>()*_#]{0,24}\n'
            f'desc ::= [^\\n]{{8,{MAX_DESCRIPTION_CHARS}}}\n')


def _rules(use_case: str, min_labels: int, max_labels: int, granularity: str) -> str:
    return (f"Use case: {use_case}\n"
            f"Rules: between {min_labels} and {max_labels} categories; mutually exclusive; each name is specific and "
            f"at most {MAX_NAME_WORDS} words; each description is one sentence that tells the category apart from "
            f"the others; no catch-all category. {GRANULARITY[granularity]}\n")


def _listing(texts: Sequence[str]) -> str:
    return "\n".join(f"- {t}" for t in texts)


def generate_prompt(summaries: Sequence[str], use_case: str, min_labels: int, max_labels: int,
                    granularity: str) -> str:
    return ("Write a taxonomy of categories for the texts below.\n" + _rules(use_case, min_labels, max_labels,
                                                                            granularity)
            + f"\nTexts:\n{_listing(summaries)}\n\nTaxonomy (one category per line, 'number. name: description'):\n")


def update_prompt(taxonomy: Taxonomy, summaries: Sequence[str], use_case: str, min_labels: int, max_labels: int,
                  granularity: str) -> str:
    return ("Here is a taxonomy of categories and some new texts. Check which category each text belongs to, then "
            "write the improved taxonomy: keep the categories that fit, merge overlapping ones, split a category "
            "that is too broad, and add a category for texts that fit none.\n"
            + _rules(use_case, min_labels, max_labels, granularity)
            + f"\nCurrent taxonomy:\n{taxonomy.to_prompt()}\n\nNew texts:\n{_listing(summaries)}\n\n"
              "Improved taxonomy (one category per line, 'number. name: description'):\n")


def review_prompt(taxonomy: Taxonomy, use_case: str, min_labels: int, max_labels: int, granularity: str) -> str:
    return ("Review this taxonomy and write its final version: merge categories that mean the same, make every name "
            "specific and every description discriminative.\n" + _rules(use_case, min_labels, max_labels,
                                                                         granularity)
            + f"\nTaxonomy:\n{taxonomy.to_prompt()}\n\n"
              "Final taxonomy (one category per line, 'number. name: description'):\n")


def summary_prompt(text: str, use_case: str, max_words: int) -> str:
    return (f"Use case: {use_case}\nSummarise the text in at most {max_words} words, keeping what matters for the "
            f"use case.\n\nText: {' '.join(str(text).split())[:2000]}\nSummary:")


# ---- the phases -------------------------------------------------------------------------------------------------

def summarize(texts: Sequence[str], backend: Backend, *, use_case: str, max_words: int = 20,
              only_longer: bool = True, progress: Optional[Callable[[str, int, int], None]] = None) -> list:
    """One summary of at most ~``max_words`` words per text (n strings). ``only_longer``: texts of at most
    ``max_words`` words are kept as they are (no model call). An empty or runaway answer falls back to the text's
    first ``max_words`` words."""
    out = []
    for i, text in enumerate(texts):
        words = str(text).split()
        if only_longer and len(words) <= max_words:
            out.append(" ".join(words))
        else:
            answer = backend.complete(summary_prompt(text, use_case, max_words), max_tokens=2 * max_words + 8,
                                      stop=["\n"]).text
            summary = answer.strip().split()
            out.append(" ".join((summary if len(summary) >= 2 else words)[: int(max_words * 1.5)]))
        if progress is not None:
            progress("summarising", i + 1, len(texts))
    return out


def _ask(backend: Backend, prompt: str, min_labels: int, max_labels: int, chat: bool, attempt: int) -> list:
    # a moderate frequency penalty: the answer is a list of distinct items, and small models otherwise repeat a line
    options = {"max_tokens": max_labels * 32 + 16, "frequency_penalty": 0.5, "stop": ["\n\n"],
               "temperature": 0.0 if attempt == 0 else 0.7,
               "seed": backend.seed + attempt, "chat": chat}
    if backend.supports_grammar:
        options["grammar"] = _taxonomy_grammar(min_labels, max_labels)
    return parse_categories(backend.complete(prompt, **options).text)


def _propose(backend, prompt, min_labels, max_labels, chat, encoder, attempts, notes, texts=()) -> Optional[list]:
    """A repaired list of categories from ``prompt``, or None if the model never gave ``min_labels`` usable ones."""
    best = None
    for attempt in range(attempts):
        written = [c for c in _ask(backend, prompt, min_labels, max_labels, chat, attempt) if str(c.name).strip()]
        found, fixes = clean_categories(written, texts)
        found, merged = merge_near_duplicates(found, encoder)
        fixes += merged
        if len(written) >= 4 and len(found) * 2 < len(written):
            backend.usage.malformed += 1
            notes.append(f"attempt {attempt + 1}: the model repeated itself ({len(written)} lines, {len(found)} "
                         "distinct): not a taxonomy")
            continue
        if min_labels <= len(found) <= max_labels:
            notes.extend(fixes)
            return found
        backend.usage.malformed += 1
        notes.append(f"attempt {attempt + 1}: {len(found)} usable categories (wanted {min_labels}-{max_labels})")
        if len(found) > max_labels and (best is None or len(found) > len(best)):
            best, best_fixes = found, fixes
    if best is not None:  # too many, even when asked again: merge the closest
        merged, more = merge_closest(best, max_labels, encoder)
        notes.extend(best_fixes + more)
        return merged
    return None


def induce_taxonomy(texts: Sequence[str], backend: Backend, *, use_case: str = "", max_labels: int = 25,
                    min_labels: int = 2, granularity: str = "medium", sample_size: Optional[int] = 200,
                    batch_size: int = 40, summarize_texts: bool = True, max_words: int = 20, review: bool = True,
                    start: Optional[Taxonomy] = None, chat: bool = False, attempts: int = 2, encoder=None,
                    seed: int = 0, progress: Optional[Callable[[str, int, int], None]] = None) -> Taxonomy:
    """TnT-LLM phase 1 over ``texts`` (n strings): a :class:`Taxonomy` of ``min_labels``..``max_labels`` categories.

    use_case: what the labels are for ("the intent of a customer's message"); it steers summaries and categories.
    granularity: "coarse", "medium" or "fine". sample_size: texts drawn (seeded) from the corpus (None: all).
    batch_size: texts per minibatch (the first generates, each later one updates). start: an existing taxonomy to
    refine (every minibatch then updates it). chat: send prompts as chat messages (instruction-tuned models).
    encoder: embeds category names to merge surplus categories and for the fallback (default: the packaged
    MiniLM). Deterministic for a given seed and model (temperature 0, responses cached).
    """
    if granularity not in GRANULARITY:
        raise DataError(f"granularity must be one of {', '.join(GRANULARITY)}; got {granularity!r}.")
    if not 2 <= min_labels <= max_labels:
        raise DataError(f"Need 2 <= min_labels <= max_labels; got min_labels={min_labels}, max_labels={max_labels}.")
    if max_labels > 99:
        raise DataError("max_labels must be at most 99: a taxonomy that long is no longer something a person reads.")
    texts = [" ".join(str(t).split()) for t in texts]
    texts = [t for t in texts if t]
    if len(texts) < 2:
        raise DataError("Need at least two non-empty texts to induce a taxonomy from.")
    use_case = use_case.strip() or "Find the main categories of these texts."
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    if sample_size is not None:
        order = order[:sample_size]
    sample = [texts[i] for i in order]
    summaries = (summarize(sample, backend, use_case=use_case, max_words=max_words, progress=progress)
                 if summarize_texts else [" ".join(t.split()[: max_words * 3]) for t in sample])
    batches = [summaries[i:i + batch_size] for i in range(0, len(summaries), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < batch_size / 2:  # a short tail joins the minibatch before it
        batches[-2:] = [batches[-2] + batches[-1]]
    notes: list = []
    steps: list = []
    current = start
    calls_before = backend.usage.calls + backend.usage.cached
    for b, batch in enumerate(batches):
        if current is None:
            prompt = generate_prompt(batch, use_case, min_labels, max_labels, granularity)
            step = "generate"
        else:
            prompt = update_prompt(current, batch, use_case, min_labels, max_labels, granularity)
            step = "update"
        found = _propose(backend, prompt, min_labels, max_labels, chat, encoder, attempts, notes, batch)
        if found is None:
            notes.append(f"minibatch {b + 1}: no usable taxonomy; kept the previous one")
        else:
            current = Taxonomy(found, use_case)
        steps.append({"step": step, "minibatch": b + 1, "labels": None if current is None else len(current)})
        if progress is not None:
            progress("building the taxonomy", b + 1, len(batches))
        if current is None and b + 1 >= GIVE_UP_AFTER:
            notes.append(f"no usable taxonomy from the first {b + 1} minibatches: stopped asking the model")
            break
    fallback = current is None
    if fallback:
        from labelwise.generate.clusters import cluster_taxonomy

        notes.append("the model never wrote a usable taxonomy; fell back to embedding clusters")
        current = cluster_taxonomy(sample, n_labels=min(max_labels, max(min_labels, len(sample) // 10)),
                                   encoder=encoder, seed=seed)
    if review and not fallback:
        found = _propose(backend, review_prompt(current, use_case, min_labels, max_labels, granularity),
                         min_labels, max_labels, chat, encoder, attempts, notes)
        if found is not None:
            current = Taxonomy(found, use_case)
        steps.append({"step": "review", "labels": len(current)})
    settings = {"method": "TnT-LLM phase 1 (labelwise)", "model": backend.model, "backend": backend.name,
                "texts_sampled": len(sample), "minibatches": len(batches), "batch_size": batch_size,
                "max_labels": max_labels, "min_labels": min_labels, "granularity": granularity,
                "summaries": summarize_texts, "seed": seed, "llm_calls": backend.usage.calls + backend.usage.cached
                - calls_before, "fallback": "embedding clusters" if fallback else None, "steps": steps,
                "repairs": notes}
    return Taxonomy(current.categories, use_case, settings)
