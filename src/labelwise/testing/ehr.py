"""A synthetic electronic health record with planted evidence, for the LDAM experiment (paper 23 notes, §23.4).

Each patient has a templated clinical note and 24 hourly steps of 6 vitals; ``K = 4`` conditions (acute kidney
failure, heart failure, sepsis, pneumonia) occur independently at base rates of 10-30 %. What is planted:

- **text**: a present condition is documented by one or two evidence phrases from its synonym list
  ("oliguria", "reduced urine output", "creatinine elevated" for kidney failure); the label names never appear.
  With probability ``p_undocumented`` a present condition gets no phrase (only its vitals show it). Distractors:
  evidence phrases of *absent* conditions, negated ("no evidence of oliguria", "denies orthopnea") or as family
  history ("mother had renal impairment"), which catch a bag-of-words model but not a model that reads context;
- **vitals** (heart rate, mean arterial pressure, respiratory rate, temperature, SpO2, creatinine; AR(1) noise
  around a patient baseline): a present condition adds its signature for ``signature_length`` steps from a random
  onset (kidney failure: creatinine up; heart failure: SpO2 down, respiratory rate up; sepsis: heart rate up, MAP
  down; pneumonia: temperature and respiratory rate up); with probability ``p_silent`` the vitals of a present
  condition stay normal (only the note shows it).

So text and vitals are complementary, and the ground truth of *where* the evidence is is known: ``evidence[i][k]``
lists the word positions of the planted phrases of condition ``k`` in note ``i`` (positions in
:func:`note_words`, which splits like MiniLM's pre-tokeniser, so they index ``TextEncoder.encode_tokens`` rows), and
``onset[i, k]`` the first step of the signature (-1 when absent or silent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["CONDITIONS", "SyntheticEHR", "VITALS", "note_words", "synthetic_ehr"]

CONDITIONS = ("acute kidney failure", "heart failure", "sepsis", "pneumonia")
DESCRIPTIONS = (
    "acute kidney failure: the kidneys suddenly stop filtering waste from the blood",
    "heart failure: the heart cannot pump enough blood for the body's needs",
    "sepsis: a life-threatening response of the body to an infection",
    "pneumonia: an infection that inflames the air sacs of the lungs",
)
VITALS = ("heart_rate", "map", "resp_rate", "temperature", "spo2", "creatinine")

_EVIDENCE = (
    ("oliguria", "reduced urine output", "creatinine elevated", "renal impairment", "rising urea"),
    ("orthopnea", "reduced ejection fraction", "bilateral ankle swelling", "raised jugular venous pressure",
     "elevated natriuretic peptide"),
    ("raised lactate", "positive blood cultures", "rigors", "bacteremia", "hypotension despite fluids"),
    ("lobar consolidation", "productive cough", "purulent sputum", "crackles at the right base",
     "infiltrate on chest film"),
)
_NEGATED = ("no evidence of {}", "denies {}", "no {} noted", "{} ruled out")
_FAMILY = ("mother had {}", "family history of {}", "father treated for {}")
_FILLER = (
    "patient seen on morning rounds", "vitals reviewed with nursing staff", "plan discussed with the family",
    "tolerating oral diet", "mobilising with assistance", "slept well overnight", "pain controlled on paracetamol",
    "medications reconciled", "lines checked and dressed", "bloods sent this morning", "physiotherapy input requested",
    "alert and oriented", "reviewed by the registrar", "observations stable since admission",
    "social work referral made", "awaiting imaging report",
)
# baseline, noise scale, per-condition signature (change per vital)
_BASE = np.array([80.0, 85.0, 16.0, 37.0, 97.0, 1.0])
_SCALE = np.array([8.0, 7.0, 2.0, 0.4, 1.5, 0.15])
_SIGNATURE = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 3.0],     # kidney: creatinine up
    [0.0, 0.0, 1.5, 0.0, -2.5, 0.0],    # heart: resp rate up, SpO2 down
    [2.5, -2.5, 0.0, 0.0, 0.0, 0.0],    # sepsis: heart rate up, MAP down
    [0.0, 0.0, 1.5, 2.5, 0.0, 0.0],     # pneumonia: resp rate and temperature up
])  # in units of _SCALE

_TOKEN = re.compile(r"\w+|[^\w\s]")


def note_words(text: str) -> list[str]:
    """The words of a note as MiniLM's pre-tokeniser splits them (runs of letters/digits, each punctuation mark
    alone); :attr:`SyntheticEHR.evidence` positions index this list."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class SyntheticEHR:
    """texts: ``(n,)`` notes; series: ``(n, T, 6) float32`` vitals (:data:`VITALS`); Y: ``(n, K) int`` conditions
    (:data:`CONDITIONS`); evidence: per row, per condition, the word positions of its planted phrases (empty when
    absent or undocumented); onset: ``(n, K) int`` first signature step (-1: no signature); signature_length: the
    steps a signature lasts; label_names / label_descriptions: ``(K,)`` str."""

    texts: list[str]
    series: np.ndarray
    Y: np.ndarray
    evidence: list[list[list[int]]]
    onset: np.ndarray
    signature_length: int
    label_names: tuple[str, ...] = CONDITIONS
    label_descriptions: tuple[str, ...] = DESCRIPTIONS


def synthetic_ehr(n: int = 1000, steps: int = 24, base_rates: tuple[float, ...] = (0.3, 0.2, 0.15, 0.1),
                  p_undocumented: float = 0.25, p_silent: float = 0.25, signature_length: int = 4,
                  n_distractors: tuple[int, int] = (0, 2), seed: int = 0) -> SyntheticEHR:
    """``n`` synthetic patients (see the module docstring); the same arguments give the same data."""
    rng = np.random.default_rng(seed)
    K = len(CONDITIONS)
    Y = (rng.random((n, K)) < np.asarray(base_rates)).astype(int)
    texts, evidence = [], []
    onset = np.full((n, K), -1, dtype=int)
    series = np.empty((n, steps, len(VITALS)), dtype=np.float32)
    for i in range(n):
        clauses: list[tuple[str, int]] = []  # (clause, condition whose evidence it is or -1)
        for k in np.flatnonzero(Y[i]):
            if rng.random() >= p_undocumented:
                for phrase in rng.choice(_EVIDENCE[k], size=rng.integers(1, 3), replace=False):
                    clauses.append((str(phrase), int(k)))
        absent = np.flatnonzero(Y[i] == 0)
        for _ in range(int(rng.integers(n_distractors[0], n_distractors[1] + 1)) if len(absent) else 0):
            k = int(rng.choice(absent))
            template = rng.choice(_NEGATED if rng.random() < 0.6 else _FAMILY)
            clauses.append((str(template).format(rng.choice(_EVIDENCE[k])), -1))
        n_fill = int(rng.integers(3, 6))
        clauses += [(str(f), -1) for f in rng.choice(_FILLER, size=n_fill, replace=False)]
        clauses = [clauses[j] for j in rng.permutation(len(clauses))]
        words: list[str] = []
        ev: list[list[int]] = [[] for _ in range(K)]
        for clause, k in clauses:
            tokens = note_words(clause)
            if k >= 0:
                ev[k] += list(range(len(words), len(words) + len(tokens)))
            words += tokens + [","]
        words[-1] = "."
        texts.append(" ".join(words).replace(" ,", ",").replace(" .", "."))
        evidence.append(ev)
        # vitals: AR(1) noise around a patient baseline
        noise = np.empty((steps, len(VITALS)))
        noise[0] = rng.normal(size=len(VITALS))
        for t in range(1, steps):
            noise[t] = 0.6 * noise[t - 1] + 0.8 * rng.normal(size=len(VITALS))
        z = noise + rng.normal(scale=0.5, size=len(VITALS))
        for k in np.flatnonzero(Y[i]):
            if rng.random() >= p_silent:
                start = int(rng.integers(2, steps - signature_length + 1))
                onset[i, k] = start
                z[start:start + signature_length] += _SIGNATURE[k]
        series[i] = (_BASE + z * _SCALE).astype(np.float32)
    return SyntheticEHR(texts, series, Y, evidence, onset, signature_length)
