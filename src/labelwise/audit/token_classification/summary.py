"""Counting and showing token issues, as ``cleanlab.token_classification.summary`` (2.9) does, without printing:
``display_issues`` returns the text it would print (plain text, the issue's token in [brackets])."""

from __future__ import annotations

import string
from collections import Counter
from typing import Optional

import numpy as np


def get_sentence(words: list[str]) -> str:
    """Words -> a sentence, spaces before words but not before punctuation (cleanlab's ``get_sentence``)."""
    return _join(words)


def _join(words: list[str], mark: Optional[int] = None) -> str:
    sentence = ""
    for j, word in enumerate(words):
        shown = f"[{word}]" if j == mark else word
        sentence += " " + shown if word not in string.punctuation or word in ("-", "(") else shown
    return sentence.replace(" '", "'").replace("( ", "(").strip()


def display_issues(
    issues: list,
    tokens: list[list[str]],
    *,
    labels: Optional[list] = None,
    pred_probs: Optional[list] = None,
    exclude: tuple = (),
    class_names: Optional[list[str]] = None,
    top: int = 20,
) -> list[str]:
    """The text of the first ``top`` issues, one string each (cleanlab prints them).

    issues: (sentence, token) pairs, or sentence indices; tokens: list of S word lists; labels / pred_probs: as in
    :func:`labelwise.audit.token_classification.filter.find_label_issues`, to show the given and predicted class;
    exclude: (given, predicted) class pairs not to show.
    """
    blocks: list[str] = []
    for issue in issues:
        if len(blocks) == top:
            break
        if not isinstance(issue, tuple):
            blocks.append(f"Sentence issue: {get_sentence(tokens[issue])}")
            continue
        i, j = issue
        given = labels[i][j] if labels else None
        predicted = int(np.argmax(pred_probs[i][j])) if pred_probs else None
        if labels and pred_probs and (given, predicted) in exclude:
            continue
        name = (lambda c: class_names[c]) if class_names else (lambda c: c)
        lines = [f"Sentence index: {i}, Token index: {j}", f"Token: {tokens[i][j]}"]
        if labels and pred_probs:
            lines.append(f"Given label: {name(given)}, predicted label according to provided pred_probs: "
                         f"{name(predicted)}")
        elif labels:
            lines.append(f"Given label: {name(given)}")
        elif pred_probs:
            lines.append(f"Predicted label according to provided pred_probs: {name(predicted)}")
        lines += ["----", _join(tokens[i], mark=j)]
        blocks.append("\n".join(lines))
    return blocks


def common_label_issues(
    issues: list[tuple[int, int]],
    tokens: list[list[str]],
    *,
    labels: Optional[list] = None,
    pred_probs: Optional[list] = None,
    class_names: Optional[list[str]] = None,
    top: int = 10,
    exclude: tuple = (),
    verbose: bool = True,
):
    """The words most often flagged: cleanlab's table as a dict of columns (``pandas.DataFrame(result)`` equals
    cleanlab's frame); nothing is printed, so ``top`` and ``verbose`` only exist for cleanlab's signature.

    Without labels and pred_probs: columns token, num_label_issues. With both: token, given_label,
    predicted_label, num_label_issues, one row per (word, given, predicted) seen (``exclude``d pairs not counted),
    most frequent first, ties in order of first appearance.
    """
    if not labels or not pred_probs:
        counts = Counter(tokens[i][j] for i, j in issues)
        info = sorted(([w, c] for w, c in counts.items()), key=lambda row: row[1], reverse=True)
        return {"token": [row[0] for row in info], "num_label_issues": np.array([row[1] for row in info], np.int64)}
    n = np.shape(pred_probs[0])[1]
    index: dict[str, int] = {}
    word = np.array([index.setdefault(tokens[i][j], len(index)) for i, j in issues], dtype=np.int64)
    given = np.array([labels[i][j] for i, j in issues], dtype=np.int64)
    predicted = np.stack([pred_probs[i][j] for i, j in issues]).argmax(axis=1) if issues else given
    excluded = np.zeros((n, n), dtype=bool)
    for g, p in exclude:
        excluded[g, p] = True
    keep = ~excluded[given, predicted]
    # one key per (word in order of first appearance, given, predicted): np.unique sorts them as cleanlab's loops do
    cells, counts = np.unique((word * n + given)[keep] * n + predicted[keep], return_counts=True)
    order = np.argsort(-counts, kind="stable")  # most frequent first, ties kept in key order
    cells, counts = cells[order], counts[order]
    words = np.array(list(index), dtype=object)
    name = np.asarray(class_names, dtype=object) if class_names else np.arange(n)
    return {"token": words[cells // (n * n)].tolist() if cells.size else [],
            "given_label": name[cells // n % n], "predicted_label": name[cells % n], "num_label_issues": counts}


def filter_by_token(token: str, issues: list[tuple[int, int]], tokens: list[list[str]]) -> list[tuple[int, int]]:
    """The issues whose word is ``token`` (case-insensitive)."""
    return [(i, j) for i, j in issues if token.lower() == tokens[i][j].lower()]
