"""Active distillation rounds: a student asks an expensive teacher for soft labels on the rows chosen by
:func:`labelwise.generate.select.select_next` (RAD, margin, entropy, ...), learns from them, and asks again.

Robust Active Distillation (Baykal et al., ICLR 2023, arXiv 2210.01213) is the ``"rad"`` strategy; its rule lives in
``labelwise.generate.select``. The teacher is any callable ``X -> (n, k) probabilities`` (a bigger model, an LLM
labeller wrapped to return its label probabilities); the student any scikit-learn classifier that takes
``sample_weight``. Soft labels reach the student by replicating each queried row once per class with
``sample_weight = p_c`` (the argmax would throw the distillation signal away).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from sklearn.base import clone

from labelwise.errors import ParameterError, ShapeError
from labelwise.generate.select import STRATEGIES, select_next

__all__ = ["RobustActiveDistiller", "fit_soft"]


def fit_soft(student, x: np.ndarray, soft: np.ndarray, *, min_weight: float = 1e-3):
    """Fit ``student`` on soft labels ``soft: (n, k)`` for rows ``x: (n, d)``: each row repeated per class with weight
    ``soft[i, c]`` (weights below ``min_weight`` dropped). Returns the fitted student."""
    rows, classes = np.nonzero(soft >= min_weight)
    student.fit(x[rows], classes, sample_weight=soft[rows, classes])
    return student


def _proba(student, x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(x), k))
    out[:, np.asarray(student.classes_, dtype=np.int64)] = student.predict_proba(x)
    return out


class RobustActiveDistiller:
    """Query a teacher on ``budget_per_round`` pool rows for ``rounds`` rounds, chosen by ``strategy``.

    student: a scikit-learn classifier with ``sample_weight`` (cloned, never changed in place); teacher:
    ``X (m, d) -> (m, k) probabilities``; strategy: one of ``select.STRATEGIES``; teacher_error: the teacher's error
    rate for ``"rad"`` (None: measured on the seed rows given to :meth:`fit`, which is optimistic when the teacher
    was trained on them). After ``fit``: ``student_`` (trained on seeds and every soft label), ``queried_: (q,) int``
    pool rows, ``teacher_probs_: (q, k)``, and ``history_``: one dict per round (round 0 = seeds only) with
    ``n_queried``, ``student_acc`` (with an evaluation set) and ``teacher_wrong_frac`` of that round's queries (with
    the pool's true labels).
    """

    def __init__(self, student, teacher: Callable[[np.ndarray], np.ndarray], *, budget_per_round: int = 40,
                 rounds: int = 6, strategy: str = "rad", teacher_error: Optional[float] = None, random_state=0):
        self.student = student
        self.teacher = teacher
        self.budget_per_round = budget_per_round
        self.rounds = rounds
        self.strategy = strategy
        self.teacher_error = teacher_error
        self.random_state = random_state

    def _teacher(self, x: np.ndarray, k: int) -> np.ndarray:
        probs = np.asarray(self.teacher(x), dtype=np.float64)
        if probs.shape != (len(x), k):
            raise ShapeError(f"the teacher returned shape {probs.shape} for {len(x)} rows; expected ({len(x)}, {k})")
        return probs

    def fit(self, X_pool, X_seed, y_seed, *, n_classes: Optional[int] = None, X_eval=None, y_eval=None,
            y_pool=None) -> "RobustActiveDistiller":
        """X_pool: (n, d) unlabelled rows; X_seed: (s, d), y_seed: (s,) int in 0..k-1 true labels; X_eval, y_eval: an
        evaluation set for ``history_``; y_pool: (n,) int true pool labels, only to measure the teacher's mistakes."""
        if self.strategy not in STRATEGIES:
            raise ParameterError(f"unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        X_pool, X_seed = np.asarray(X_pool, dtype=np.float64), np.asarray(X_seed, dtype=np.float64)
        y_seed = np.asarray(y_seed, dtype=np.int64)
        k = int(n_classes if n_classes is not None else y_seed.max() + 1)
        seed_soft = np.eye(k)[y_seed]
        error = self.teacher_error
        if self.strategy == "rad" and error is None:
            error = float((self._teacher(X_seed, k).argmax(axis=1) != y_seed).mean())
        queried = np.zeros(0, dtype=np.int64)
        teacher_probs = np.zeros((0, k))
        history = []
        wrong = None
        rng = np.random.default_rng(self.random_state)
        for r in range(self.rounds + 1):
            student = fit_soft(clone(self.student), np.vstack([X_seed, X_pool[queried]]),
                               np.vstack([seed_soft, teacher_probs]))
            entry = {"round": r, "n_queried": len(queried), "teacher_wrong_frac": wrong}
            if X_eval is not None:
                entry["student_acc"] = float((_proba(student, np.asarray(X_eval), k).argmax(axis=1)
                                              == np.asarray(y_eval)).mean())
            history.append(entry)
            if r == self.rounds:
                break
            chosen = select_next(_proba(student, X_pool, k), X_pool, strategy=self.strategy,
                                 budget=self.budget_per_round, labelled=queried, teacher_error=error,
                                 random_state=int(rng.integers(2**31)))
            probs = self._teacher(X_pool[chosen], k)
            if y_pool is not None:
                wrong = float((probs.argmax(axis=1) != np.asarray(y_pool)[chosen]).mean())
            queried = np.concatenate([queried, chosen])
            teacher_probs = np.vstack([teacher_probs, probs])
        self.student_, self.queried_, self.teacher_probs_, self.history_ = student, queried, teacher_probs, history
        self.teacher_error_ = error
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.student_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.student_.predict(X)
