"""The prompts of taxonomy induction (TnT-LLM phase 1: summarise, generate, update, review) and the grammar that
forces a model's answer into a numbered ``name: description`` list.

Algorithm floor: strings in, strings out.
"""

from __future__ import annotations

from typing import Sequence

from labelwise.generate.taxonomy_categories import MAX_DESCRIPTION_CHARS, MAX_NAME_WORDS, Category

GRANULARITY = {
    "coarse": "Prefer a few broad categories.",
    "medium": "Make categories neither too broad nor too narrow.",
    "fine": "Prefer specific, fine-grained categories.",
}


def taxonomy_grammar(min_labels: int, max_labels: int) -> str:
    """GBNF for ``1. Name: description`` lines: between min and max items, names of 1 to ``MAX_NAME_WORDS`` words,
    no empty lines."""
    return (f"root ::= item{{{min_labels},{max_labels}}}\n"
            'item ::= [0-9] [0-9]? ". " name ": " desc "\\n"\n'
            f'name ::= word (" " word){{0,{MAX_NAME_WORDS - 1}}}\n'
            'word ::= [^ \\n:.,;!?"<>()*_#0-9] [^ \\n:.,;!?"<>()*_#]{0,24}\n'
            f'desc ::= [^\\n]{{8,{MAX_DESCRIPTION_CHARS}}}\n')


def numbered(categories: Sequence[Category]) -> str:
    """The numbered ``name: description`` list used in prompts (a category without description: its name)."""
    return "\n".join(f"{i}. {c.name}: {c.description}".rstrip(": ") for i, c in enumerate(categories, 1))


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


def update_prompt(categories: Sequence[Category], summaries: Sequence[str], use_case: str, min_labels: int,
                  max_labels: int, granularity: str) -> str:
    return ("Here is a taxonomy of categories and some new texts. Check which category each text belongs to, then "
            "write the improved taxonomy: keep the categories that fit, merge overlapping ones, split a category "
            "that is too broad, and add a category for texts that fit none.\n"
            + _rules(use_case, min_labels, max_labels, granularity)
            + f"\nCurrent taxonomy:\n{numbered(categories)}\n\nNew texts:\n{_listing(summaries)}\n\n"
              "Improved taxonomy (one category per line, 'number. name: description'):\n")


def review_prompt(categories: Sequence[Category], use_case: str, min_labels: int, max_labels: int,
                  granularity: str) -> str:
    return ("Review this taxonomy and write its final version: merge categories that mean the same, make every name "
            "specific and every description discriminative.\n" + _rules(use_case, min_labels, max_labels,
                                                                         granularity)
            + f"\nTaxonomy:\n{numbered(categories)}\n\n"
              "Final taxonomy (one category per line, 'number. name: description'):\n")


def summary_prompt(text: str, use_case: str, max_words: int) -> str:
    return (f"Use case: {use_case}\nSummarise the text in at most {max_words} words, keeping what matters for the "
            f"use case.\n\nText: {' '.join(str(text).split())[:2000]}\nSummary:")
