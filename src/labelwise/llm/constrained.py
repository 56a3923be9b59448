"""Outputs that can only be valid labels: a grammar (llama.cpp GBNF) or a JSON schema built from the label set.

For multi-label generation the grammar is a trie over the label strings in effect (PTEC's trie search, "Prompt
Tuned Embedding Classification"): after each character only continuations of some label remain allowed, and a
label may be followed only by the separator and another label, or the end. Servers without grammars get the
equivalent JSON schema. Whatever comes back is parsed and checked again; a malformed answer is retried (at a
small temperature, another seed) and, if it stays malformed, returned as ``None`` and counted in
``backend.usage.malformed``, never raised.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

from labelwise.llm.backend import Backend, LLMError


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a GBNF string literal has JSON's escaping


def labels_grammar(labels: Sequence[str], *, multi: bool = False, separator: str = ", ") -> str:
    """GBNF: exactly one label, or (``multi``) one or more distinct-by-construction labels joined by ``separator``."""
    if not labels:
        raise LLMError("The label set is empty.")
    alternatives = " | ".join(_literal(label) for label in sorted(set(labels), key=len, reverse=True))
    root = f"label ({_literal(separator)} label)*" if multi else "label"
    return f"root ::= {root}\nlabel ::= {alternatives}\n"


def labels_json_schema(labels: Sequence[str], *, multi: bool = False) -> dict:
    item = {"type": "string", "enum": list(labels)}
    if multi:
        return {"type": "object", "properties": {"labels": {"type": "array", "items": item, "minItems": 1}},
                "required": ["labels"], "additionalProperties": False}
    return {"type": "object", "properties": {"label": item}, "required": ["label"], "additionalProperties": False}


def parse_labels(text: str, labels: Sequence[str], *, multi: bool = False, separator: str = ", ") -> Optional[list]:
    """The labels in a model's answer (plain text or the JSON of :func:`labels_json_schema`), or None if the answer
    is not a valid label (set)."""
    known = set(labels)
    text = (text or "").strip()
    found: list = []
    if text.startswith("{"):
        try:
            value = json.loads(text)
            found = list(value["labels"]) if multi else [value["label"]]
        except (ValueError, KeyError, TypeError):
            return None
    elif text:
        found = [part.strip() for part in text.split(separator.strip())] if multi else [text]
    found = [f for f in dict.fromkeys(found) if f]
    if not found or any(f not in known for f in found) or (not multi and len(found) != 1):
        return None
    return found


def generate_labels(backend: Backend, prompt: str, labels: Sequence[str], *, multi: bool = False,
                    attempts: int = 3, use_grammar: bool = True, max_tokens: int = 64) -> Optional[list]:
    """Let the model write its label(s) under a grammar (or JSON schema); None if it never produced valid ones."""
    for attempt in range(attempts):
        options = {"temperature": 0.0 if attempt == 0 else 0.7, "max_tokens": max_tokens}
        if use_grammar:
            options["grammar"] = labels_grammar(labels, multi=multi)
        else:
            options["json_schema"] = labels_json_schema(labels, multi=multi)
        answer = backend.complete(prompt, stop=["\n"], seed=backend.seed + attempt, **options).text
        parsed = parse_labels(answer, labels, multi=multi)
        if parsed is not None:
            return parsed
        backend.usage.malformed += 1
    return None
