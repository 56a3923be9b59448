"""Synthetic linkage tables with planted matches (known truth), shared by the link tests and the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIRST = ["anna", "boris", "carla", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "kira", "luca",
         "maria", "nils", "olga", "pavel", "quinn", "rosa", "samir", "tara", "ugo", "vera", "wim", "xena", "yusuf",
         "zora"]
LAST = ["adler", "brandt", "castro", "dubois", "eriksen", "fischer", "garcia", "horvat", "ivanova", "jensen",
        "kowalski", "lindqvist", "moreau", "novak", "oliveira", "petrov", "quispe", "rossi", "schmidt", "tanaka",
        "urban", "varga", "weber", "xu", "yilmaz", "zimmer"]
STREETS = ["oak", "elm", "pine", "maple", "cedar", "birch", "willow", "ash", "linden", "poplar", "spruce", "alder"]
TOWNS = ["springfield", "riverton", "lakeside", "hillview", "fairport", "brookfield", "westfield", "northgate"]


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def people(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` distinct people: name, address, town, phone."""
    rows, seen = [], set()
    while len(rows) < n:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        address = f"{int(rng.integers(1, 400))} {rng.choice(STREETS)} street"
        key = (name, address)
        if key in seen:
            continue
        seen.add(key)
        phone = f"{int(rng.integers(200, 999))} {int(rng.integers(1000, 9999))}"
        rows.append({"name": name, "address": address, "town": str(rng.choice(TOWNS)), "phone": phone})
    return pd.DataFrame(rows)


def planted(n_match: int = 80, n_left_only: int = 20, n_right_only: int = 20, seed: int = 0):
    """(left, right, truth): ``n_match`` people in both tables (the right copy with one typo), the rest in one.

    Ids: left ``L0..``, right ``R0..`` (right rows shuffled); truth has ``left_id, right_id``.
    """
    rng = np.random.default_rng(seed)
    everyone = people(n_match + n_left_only + n_right_only, rng)
    left = everyone.iloc[: n_match + n_left_only].reset_index(drop=True)
    right_src = pd.concat([everyone.iloc[:n_match], everyone.iloc[n_match + n_left_only :]]).reset_index(drop=True)
    right = right_src.copy()
    for i in range(n_match):
        parts = right.at[i, "name"].split()
        parts[int(rng.integers(0, 2))] = _typo(parts[int(rng.integers(0, 2))], rng)
        right.at[i, "name"] = " ".join(parts)
    left.insert(0, "id", [f"L{i}" for i in range(len(left))])
    right.insert(0, "id", [f"R{i}" for i in range(len(right))])
    order = rng.permutation(len(right))
    right = right.iloc[order].reset_index(drop=True)
    truth = pd.DataFrame({"left_id": [f"L{i}" for i in range(n_match)], "right_id": [f"R{i}" for i in range(n_match)]})
    return left, right, truth
