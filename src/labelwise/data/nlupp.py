"""NLU++ loader: multi-intent, slot-rich task-oriented dialogue data (BANKING and HOTELS).

Paper: Casanueva, Vulić, Spithourakis, Budzianowski, "NLU++: A Multi-Label, Slot-Rich, Generalisable Dataset for
Natural Language Understanding in Task-Oriented Dialogue", Findings of NAACL 2022 (arXiv 2204.13021). Data:
PolyAI-LDN/task-specific-datasets, CC-BY-4.0.

Layout read (any folder laid out like the release)::

    <root>/ontology.json            {"intents": {name: {"description", "domain": [...]}}, "slots": {...}}
    <root>/banking/fold0.json ... fold19.json
    <root>/hotels/fold0.json  ... fold19.json

each fold a JSON list of ``{"text", "intents": [...], "slots": {name: {"text", "span": [start, end],
"value" | "values"}}}`` (a missing key means no intents / no slots).

Evaluation settings (the paper's protocol), per domain (``"banking"``, ``"hotels"`` or ``"all"`` = both, same fold
ids joined):

* ``"low"``: train on 1 fold, test on the other 19 (20 runs);
* ``"mid"``: train on 2 consecutive folds ``(2i, 2i+1)``, test on the other 18 (10 runs);
* ``"large"`` (alias ``"high"``): train on 18 folds, test on the 2 folds ``(2i, 2i+1)`` (10 runs, a 10-fold CV).

Cross-domain runs (``nlupp_cross_domain``) train on all of one domain and test on the other, keeping only the generic
(``"general"``) intents. Examples with no intent are kept (all-zero label rows: they count for false positives).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from labelwise.errors import DataError

DOMAINS = ("banking", "hotels")
N_FOLDS = 20
Setting = Literal["low", "mid", "large", "high"]


def _root(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"NLU++ folder not found: {root}. Point to the folder that holds ontology.json, banking/ and "
                        f"hotels/ (e.g. ../shared/datasets/nlupp).")
    if not (root / "ontology.json").is_file():
        raise DataError(f"{root} has no ontology.json: this is not an NLU++ folder (expected ontology.json, banking/, "
                        f"hotels/).")
    return root


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.") from exc


def load_nlupp_ontology(path: str | Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"intents": {name: {"description", "domain"}}, "slots": {...}}`` from ``<path>/ontology.json``."""
    onto = _read_json(_root(path) / "ontology.json")
    if not isinstance(onto, dict) or not {"intents", "slots"} <= set(onto):
        raise DataError(f"{Path(path) / 'ontology.json'}: expected an object with 'intents' and 'slots'.")
    return onto


def load_nlupp(path: str | Path, domains: tuple[str, ...] | list[str] = DOMAINS) -> pd.DataFrame:
    """Read NLU++ into one table, one row per utterance.

    Columns: ``id`` (``"<domain>/<fold>/<row>"``), ``domain``, ``fold`` (int, 0-19), ``text``, ``intents``
    (list of distinct intent names, possibly empty; the release lists one intent twice in banking fold 13,
    example 74, and it is kept once), ``slots`` (list of dicts ``{"slot", "start", "end", "text",
    "value"}``; ``start``/``end`` are character offsets into ``text``). Rows are ordered by domain, fold, position.
    Raises :class:`DataError` naming the file and row when the layout or a record is wrong.
    """
    root = _root(path)
    onto = load_nlupp_ontology(root)
    known = set(onto["intents"])
    rows: list[dict[str, Any]] = []
    for domain in domains:
        if domain not in DOMAINS:
            raise DataError(f"unknown NLU++ domain {domain!r}; choose from {DOMAINS}.")
        for fold in range(N_FOLDS):
            f = root / domain / f"fold{fold}.json"
            if not f.is_file():
                raise DataError(f"NLU++ fold file missing: {f} (expected {domain}/fold0.json ... fold19.json).")
            records = _read_json(f)
            if not isinstance(records, list):
                raise DataError(f"{f}: expected a JSON list of examples.")
            for i, rec in enumerate(records):
                rows.append(_row(rec, f, i, domain, fold, known))
    return pd.DataFrame(rows, columns=["id", "domain", "fold", "text", "intents", "slots"])


def _row(rec: Any, f: Path, i: int, domain: str, fold: int, known: set[str]) -> dict[str, Any]:
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        raise DataError(f"{f}, example {i}: expected an object with a string 'text'.")
    text = rec["text"]
    intents = rec.get("intents", [])
    unknown = [x for x in intents if x not in known]
    if unknown:
        raise DataError(f"{f}, example {i}: intents {unknown} are not in ontology.json.")
    slots = []
    for name, s in (rec.get("slots") or {}).items():
        try:
            start, end = (int(v) for v in s["span"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{f}, example {i}, slot {name!r}: needs 'span': [start, end].") from exc
        if not 0 <= start <= end <= len(text):
            raise DataError(f"{f}, example {i}, slot {name!r}: span [{start}, {end}] is outside the text.")
        slots.append({"slot": name, "start": start, "end": end, "text": s.get("text", text[start:end]),
                      "value": s.get("value", s.get("values"))})
    # intents are a set; the release repeats one (banking fold 13, example 74), so keep first occurrences only
    return {"id": f"{domain}/{fold}/{i}", "domain": domain, "fold": fold, "text": text,
            "intents": list(dict.fromkeys(intents)),
            "slots": slots}


def nlupp_intent_names(ontology: dict, domain: str = "all", generic_only: bool = False) -> list[str]:
    """Intent names usable in ``domain`` (its own plus the ``"general"`` ones), in ontology order.

    ``domain="all"``: every intent. ``generic_only``: only the ``"general"`` intents (cross-domain runs).
    """
    out = []
    for name, info in ontology["intents"].items():
        tags = set(info.get("domain", []))
        if generic_only:
            keep = "general" in tags
        else:
            keep = domain == "all" or "general" in tags or domain in tags
        if keep:
            out.append(name)
    return out


def intent_matrix(intents: Any, names: list[str]) -> np.ndarray:
    """``(n, C) uint8`` multi-hot matrix of the ``intents`` column over ``names`` (other intents are dropped)."""
    index = {n: j for j, n in enumerate(names)}
    Y = np.zeros((len(intents), len(names)), dtype=np.uint8)
    for i, labs in enumerate(intents):
        for lab in labs:
            j = index.get(lab)
            if j is not None:
                Y[i, j] = 1
    return Y


def nlupp_splits(table: pd.DataFrame, domain: str = "banking", setting: Setting = "low"
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The paper's runs for ``domain`` (``"banking"``, ``"hotels"``, ``"all"``) and ``setting``.

    Returns a list of ``(train_rows, test_rows)``: positional row indices into ``table`` (``(n_train,) int``,
    ``(n_test,) int``). ``low``: 20 runs (1 fold -> 19); ``mid``: 10 runs (folds 2i, 2i+1 -> 18);
    ``large``/``high``: 10 runs (18 folds -> folds 2i, 2i+1).
    """
    if domain not in (*DOMAINS, "all"):
        raise DataError(f"domain must be 'banking', 'hotels' or 'all', got {domain!r}.")
    in_domain = np.ones(len(table), dtype=bool) if domain == "all" else (table["domain"].to_numpy() == domain)
    if not in_domain.any():
        raise DataError(f"the table has no {domain!r} rows; load it with that domain.")
    fold = table["fold"].to_numpy()
    if setting == "low":
        groups = [[f] for f in range(N_FOLDS)]
    elif setting in ("mid", "large", "high"):
        groups = [[2 * i, 2 * i + 1] for i in range(N_FOLDS // 2)]
    else:
        raise DataError(f"setting must be 'low', 'mid' or 'large' ('high'), got {setting!r}.")
    runs = []
    for g in groups:
        chosen = in_domain & np.isin(fold, g)
        rest = in_domain & ~np.isin(fold, g)
        train, test = (chosen, rest) if setting in ("low", "mid") else (rest, chosen)
        runs.append((np.flatnonzero(train), np.flatnonzero(test)))
    return runs


def nlupp_cross_domain(table: pd.DataFrame, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Train on all of ``source``, test on all of ``target`` (row indices). Use with
    ``nlupp_intent_names(ontology, generic_only=True)`` so that only the shared, generic intents are scored."""
    if {source, target} != set(DOMAINS):
        raise DataError(f"cross-domain runs are banking -> hotels or hotels -> banking, got {source!r} -> {target!r}.")
    dom = table["domain"].to_numpy()
    return np.flatnonzero(dom == source), np.flatnonzero(dom == target)
