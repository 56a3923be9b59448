"""The label budget planner: how many cheap weak labels and how many expensive oracle labels to buy.

Mallen & Belrose, "Balancing Label Quantity and Quality for Scalable Elicitation" (arXiv 2410.13215, 2024),
scaled to a linear head on frozen features. A budget ``B`` (in the same unit as the costs) buys
``n_oracle = floor(f * B / cost_oracle)`` oracle labels and ``n_weak = floor((B - n_oracle * cost_oracle) / cost_weak)``
weak ones, each capped by what the pool holds; the cost reported is what was bought, the labels held out for early
stopping included. A model is trained on the weak labels (stage 1), then, with a fresh optimiser, from those weights on
the oracle labels (stage 2); each stage holds out ``val_frac`` of its own labels for early stopping when it has
``min_val`` or more, and every stage sees the same number of gradient points (``points_per_stage``) whatever its size,
so that large purchases are not also "more trained". ``f = 1`` is the oracle-only baseline, ``f = 0`` the weak-only one.

Fewer than ``min_oracle`` oracle labels after a weak stage over-fit a handful of items and hurt (the notes' pilot:
B = 16, f = 0.1 fell from 0.739 to 0.585), so then stage 2 is skipped and those oracle labels join stage 1's training
set instead. Stage 1's early stopping is on weak-label validation, so it selects for agreement with the weak labeller,
as in the paper's code.

The learner is a torch linear softmax head trained with Adam on one thread (torch rather than scikit-learn's SGD: Adam,
a fresh optimiser state for stage 2 and best-checkpoint early stopping are the paper's recipe and are a few lines here).

The three regimes, per budget: *quantity* (weak only is best), *quality* (oracle only is best) and *mixed* (some
``0 < f < 1`` beats both). :func:`pareto_frontier` gives the best mix per budget; :func:`classify_regime` names the
regime.

    planner = LabelBudgetPlanner(cost_oracle=1.0, cost_weak=0.1, budgets=[4, 16, 64, 256], n_seeds=5)
    result = planner.run(X_pool, y_oracle, y_weak, X_test, y_test)   # y_oracle: -1 where unknown
    pareto_frontier(result); classify_regime(result)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.atomic import write_text_atomic
from labelwise.data.io import read_table, write_table_atomic
from labelwise.data.labels import label_cells
from labelwise.data.locate import DATAFRAME_SOURCE
from labelwise.errors import DataError, MissingExtraError, ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

__all__ = ["BudgetResult", "LabelBudgetPlanner", "budget_counts", "classify_regime", "pareto_frontier", "plan_budget",
           "sequential_fit"]

ORACLE_FRACS = (1.0, 0.5, 0.25, 0.1, 0.0)
REGIMES = ("quantity", "mixed", "quality")
_EPS = 1e-9


def budget_counts(budget: float, oracle_frac: float, cost_oracle: float, cost_weak: float,
                  n_oracle_pool: int | None = None, n_pool: int | None = None) -> tuple[int, int, float]:
    """``(n_oracle, n_weak, cost)`` that ``budget`` buys when ``oracle_frac`` of it goes to oracle labels.

    ``n_oracle = floor(f B / cost_oracle)`` capped at ``n_oracle_pool``; ``n_weak = floor((B - n_oracle cost_oracle) /
    cost_weak)`` capped at ``n_pool - n_oracle`` (weak and oracle labels go to different items), so money the oracle
    cap frees buys weak labels, except at ``f = 1`` (oracle only stays oracle only); ``cost`` is what those labels
    cost (held-out validation labels are bought too, so they count)."""
    if cost_oracle <= 0 or cost_weak <= 0:
        raise ParameterError(f"label costs must be > 0, got oracle {cost_oracle} and weak {cost_weak}.")
    if not 0 <= oracle_frac <= 1:
        raise ParameterError(f"oracle_frac must be in [0, 1], got {oracle_frac}.")
    if budget < 0:
        raise ParameterError(f"budget must be >= 0, got {budget}.")
    n_oracle = int(math.floor(oracle_frac * budget / cost_oracle + _EPS))
    if n_oracle_pool is not None:
        n_oracle = min(n_oracle, int(n_oracle_pool))
    n_weak = 0 if oracle_frac == 1 else int(math.floor((budget - n_oracle * cost_oracle) / cost_weak + _EPS))
    if n_pool is not None:
        n_weak = max(0, min(n_weak, int(n_pool) - n_oracle))
    return n_oracle, n_weak, n_oracle * cost_oracle + n_weak * cost_weak


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the [learn] extra
        raise MissingExtraError("torch", "learn", "the label budget planner") from exc
    return torch


def _train_stage(torch, W, b, X, y, *, points: int, val_frac: float, min_val: int, lr: float, batch_size: int,
                 rng: np.random.Generator, gen, keep_start: bool) -> None:
    """One stage of training, in place on ``W: (d, k)`` and ``b: (k,)``: a fresh Adam, ``points`` gradient points in
    batches of ``batch_size``, and, when ``len(y) >= min_val``, early stopping on a ``val_frac`` hold-out (the best of
    about 20 checkpoints by validation accuracy, ties to the lower log-loss; the starting weights count only with
    ``keep_start``, i.e. when an earlier stage trained them: untrained zeros would win every tie on a tiny
    validation set)."""
    n = len(y)
    if n == 0:
        return
    perm = rng.permutation(n)
    n_val = int(round(val_frac * n)) if n >= min_val and val_frac > 0 else 0
    val, tr = perm[:n_val], perm[n_val:]
    Xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    Xv, yv = torch.from_numpy(X[val]), torch.from_numpy(y[val])
    opt = torch.optim.Adam([W, b], lr=lr)
    steps = max(1, math.ceil(points / batch_size))
    every = max(1, steps // 20)

    def score():
        with torch.no_grad():
            logits = Xv @ W + b
            return (float((logits.argmax(1) == yv).float().mean()),
                    -float(torch.nn.functional.cross_entropy(logits, yv)))

    best = score() if n_val and keep_start else (-1.0, -np.inf)
    kept = (W.detach().clone(), b.detach().clone())
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(tr), (min(batch_size, len(tr)),), generator=gen)
        loss = torch.nn.functional.cross_entropy(Xt[idx] @ W + b, yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if n_val and (step % every == 0 or step == steps):
            now = score()
            if now > best:
                best, kept = now, (W.detach().clone(), b.detach().clone())
    if n_val:
        with torch.no_grad():
            W.copy_(kept[0])
            b.copy_(kept[1])


def sequential_fit(X_weak: np.ndarray, y_weak: np.ndarray, X_oracle: np.ndarray, y_oracle: np.ndarray,
                   n_classes: int, *, points_per_stage: int = 3000, val_frac: float = 0.2, min_val: int = 10,
                   min_oracle: int = 10, lr: float = 0.05, batch_size: int = 16, random_state: Any = 0,
                   n_threads: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """Weak -> oracle training of a linear softmax head; returns ``(W: (d, k) float32, b: (k,) float32)``.

    ``X_weak: (n_w, d)``, ``y_weak: (n_w,) int`` in ``[0, n_classes)``; the same for the oracle set. Stage 1 trains on
    the weak labels, stage 2 (a fresh Adam, from stage 1's weights) on the oracle ones; each stage as described in
    the module docstring. With weak labels and fewer than ``min_oracle`` oracle labels, stage 2 is skipped and the
    oracle labels join stage 1. Predict with ``(X @ W + b).argmax(1)``."""
    from labelwise.learn.estimators import _seed, _threads

    torch = _torch()
    X_weak, X_oracle = np.asarray(X_weak, np.float32), np.asarray(X_oracle, np.float32)
    y_weak, y_oracle = np.asarray(y_weak, np.int64), np.asarray(y_oracle, np.int64)
    d = X_weak.shape[1] if X_weak.ndim == 2 and len(X_weak) else X_oracle.shape[1]
    if len(y_weak) and 0 < len(y_oracle) < min_oracle:
        X_weak, y_weak = np.vstack([X_weak, X_oracle]), np.concatenate([y_weak, y_oracle])
        X_oracle, y_oracle = X_oracle[:0], y_oracle[:0]
    seed = _seed(random_state)
    rng = np.random.default_rng(seed)
    with _threads(n_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        W = torch.zeros(d, n_classes, requires_grad=True)
        b = torch.zeros(n_classes, requires_grad=True)
        for X, y, keep_start in ((X_weak, y_weak, False), (X_oracle, y_oracle, len(y_weak) > 0)):
            _train_stage(torch, W, b, X, y, points=points_per_stage, val_frac=val_frac, min_val=min_val, lr=lr,
                         batch_size=batch_size, rng=rng, gen=gen, keep_start=keep_start)
        return W.detach().numpy().copy(), b.detach().numpy().copy()


def _interval(acc: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation and a 95% t-interval of the mean over seeds (clipped to [0, 1])."""
    from scipy.stats import t

    acc = np.asarray(acc, float)
    mean = float(acc.mean())
    if len(acc) < 2:
        return mean, 0.0, mean, mean
    sd = float(acc.std(ddof=1))
    half = float(t.ppf(0.975, len(acc) - 1)) * sd / math.sqrt(len(acc))
    return mean, sd, max(0.0, mean - half), min(1.0, mean + half)


@dataclass
class BudgetResult:
    """What a :class:`LabelBudgetPlanner` sweep measured.

    runs: one row per (budget, oracle_frac, seed): ``budget, oracle_frac, seed, n_oracle, n_weak, cost, accuracy``.
    cost_oracle, cost_weak: the costs of one label of each kind. ``to_frame()`` summarises over seeds.
    """

    runs: pd.DataFrame
    cost_oracle: float
    cost_weak: float
    params: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        regimes = classify_regime(self)
        shown = ", ".join(f"{k} at {', '.join(f'{b:g}' for b in v)}" for k, v in regimes.items() if v)
        return (f"BudgetResult({self.runs['budget'].nunique()} budgets x {self.runs['oracle_frac'].nunique()} mixes x "
                f"{self.runs['seed'].nunique()} seeds; weak/oracle cost {self.cost_weak:g}/{self.cost_oracle:g}; "
                f"{shown})")

    def to_frame(self) -> pd.DataFrame:
        """Per (budget, oracle_frac): ``n_oracle, n_weak, cost`` (means over seeds), ``accuracy`` (mean), ``sd``,
        ``lo``, ``hi`` (95% interval of the mean), ``seeds``; budgets ascending, oracle_frac descending."""
        rows = []
        for (budget, f), g in self.runs.groupby(["budget", "oracle_frac"], sort=False):
            mean, sd, lo, hi = _interval(g["accuracy"].to_numpy())
            rows.append({"budget": budget, "oracle_frac": f, "n_oracle": g["n_oracle"].mean(),
                         "n_weak": g["n_weak"].mean(), "cost": g["cost"].mean(), "accuracy": mean, "sd": sd,
                         "lo": lo, "hi": hi, "seeds": len(g)})
        frame = pd.DataFrame(rows, columns=["budget", "oracle_frac", "n_oracle", "n_weak", "cost", "accuracy", "sd",
                                            "lo", "hi", "seeds"])
        return frame.sort_values(["budget", "oracle_frac"], ascending=[True, False]).reset_index(drop=True)

    def save(self, directory) -> Path:
        """``runs.csv`` (every run), ``summary.csv`` (:meth:`to_frame`), ``frontier.csv`` and ``summary.json``, each
        written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table_atomic(self.runs, directory / "runs.csv")
        write_table_atomic(self.to_frame(), directory / "summary.csv")
        write_table_atomic(pareto_frontier(self), directory / "frontier.csv")
        meta = {"cost_oracle": self.cost_oracle, "cost_weak": self.cost_weak, "params": self.params,
                "regimes": classify_regime(self)}
        write_text_atomic(directory / "summary.json", json.dumps(meta, indent=2, default=str) + "\n")
        return directory

    @classmethod
    def load(cls, directory) -> "BudgetResult":
        """Read back what :meth:`save` wrote."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "summary.json").read_text())
            runs = read_table(directory / "runs.csv")
        except (OSError, ValueError) as exc:
            raise DataError(f"{directory}: not a saved budget result ({exc}); run the planner again.") from exc
        return cls(runs=runs, cost_oracle=float(meta["cost_oracle"]), cost_weak=float(meta["cost_weak"]),
                   params=meta.get("params", {}))


def _regime(frame: pd.DataFrame, margin: float) -> str:
    """The regime of one budget's rows of :meth:`BudgetResult.to_frame`: the best pure strategy, unless a mix beats
    both pure strategies that were measured by more than ``margin``."""
    acc = dict(zip(frame["oracle_frac"], frame["accuracy"]))
    pure = {f: a for f, a in acc.items() if f in (0.0, 1.0)}
    mixed = {f: a for f, a in acc.items() if 0.0 < f < 1.0}
    best_pure = max(pure.values()) if pure else -np.inf
    if mixed and max(mixed.values()) > best_pure + margin:
        return "mixed"
    if not pure:
        return "mixed"
    return "quality" if max(pure, key=lambda f: (pure[f], f)) == 1.0 else "quantity"


def pareto_frontier(result: BudgetResult, margin: float = 0.0) -> pd.DataFrame:
    """The best mix per budget: ``budget, best_f, n_oracle, n_weak, cost, accuracy, lo, hi, regime, on_frontier``.

    ``best_f`` is the oracle fraction with the highest mean accuracy (ties to the cheaper, then the smaller f);
    ``regime`` as in :func:`classify_regime`; ``on_frontier`` is True when no cheaper row of the table (any budget,
    any f) reaches the same accuracy, i.e. the point lies on the cost-accuracy upper envelope."""
    frame = result.to_frame()
    rows = []
    for budget, g in frame.groupby("budget", sort=True):
        g = g.sort_values(["accuracy", "cost", "oracle_frac"], ascending=[False, True, True])
        best = g.iloc[0]
        dominated = bool(((frame["cost"] < best["cost"] - _EPS) & (frame["accuracy"] >= best["accuracy"])).any())
        rows.append({"budget": budget, "best_f": best["oracle_frac"], "n_oracle": best["n_oracle"],
                     "n_weak": best["n_weak"], "cost": best["cost"], "accuracy": best["accuracy"], "lo": best["lo"],
                     "hi": best["hi"], "regime": _regime(g, margin), "on_frontier": not dominated})
    return pd.DataFrame(rows, columns=["budget", "best_f", "n_oracle", "n_weak", "cost", "accuracy", "lo", "hi",
                                       "regime", "on_frontier"])


def classify_regime(result: BudgetResult, margin: float = 0.0) -> dict:
    """``{"quantity": [budgets], "mixed": [...], "quality": [...]}``: per budget, *quantity* when weak only
    (``f = 0``) is the best, *quality* when oracle only (``f = 1``) is, *mixed* when some ``0 < f < 1`` beats both
    pure strategies by more than ``margin`` (in accuracy)."""
    out = {name: [] for name in REGIMES}
    for row in pareto_frontier(result, margin).itertuples():
        out[row.regime].append(float(row.budget))
    return out


class LabelBudgetPlanner:
    """Simulate buying labels at several budgets and mixes, and measure the accuracy each buys (paper 26).

    cost_oracle, cost_weak: the price of one label of each kind (> 0). budgets: (m,) budgets in that unit.
    oracle_fracs: the fractions ``f`` of each budget spent on oracle labels (1 = oracle only, 0 = weak only).
    n_seeds: repeats (different draws of the labelled items and of training). The other parameters go to
    :func:`sequential_fit`.
    """

    def __init__(self, cost_oracle: float = 1.0, cost_weak: float = 0.1, budgets: Sequence[float] = (4, 16, 64, 256),
                 oracle_fracs: Sequence[float] = ORACLE_FRACS, n_seeds: int = 5, val_frac: float = 0.2,
                 points_per_stage: int = 3000, min_oracle: int = 10, min_val: int = 10, lr: float = 0.05,
                 batch_size: int = 16, random_state: Any = 0, n_threads: int | None = 1):
        self.cost_oracle, self.cost_weak = cost_oracle, cost_weak
        self.budgets, self.oracle_fracs = budgets, oracle_fracs
        self.n_seeds, self.val_frac, self.points_per_stage = n_seeds, val_frac, points_per_stage
        self.min_oracle, self.min_val, self.lr, self.batch_size = min_oracle, min_val, lr, batch_size
        self.random_state, self.n_threads = random_state, n_threads

    def _check(self) -> None:
        if not (0 < self.cost_oracle < math.inf and 0 < self.cost_weak < math.inf):
            raise ParameterError(f"label costs must be > 0 and finite, got oracle {self.cost_oracle} and weak "
                                 f"{self.cost_weak}.")
        if not len(self.budgets) or not all(0 < b < math.inf for b in self.budgets):
            raise ParameterError(f"budgets must be one or more numbers > 0 (finite), got {list(self.budgets)}.")
        if not len(self.oracle_fracs) or not all(0 <= f <= 1 for f in self.oracle_fracs):
            raise ParameterError(f"oracle_fracs must be in [0, 1], got {list(self.oracle_fracs)}.")
        if int(self.n_seeds) < 1:
            raise ParameterError(f"n_seeds must be >= 1, got {self.n_seeds}.")
        if not 0 <= self.val_frac < 1:
            raise ParameterError(f"val_frac must be in [0, 1), got {self.val_frac}.")

    def run(self, X_pool: np.ndarray, y_oracle: np.ndarray, y_weak: np.ndarray, X_test: np.ndarray,
            y_test: np.ndarray, progress: Optional[ProgressCallback] = None) -> BudgetResult:
        """Sweep budgets x oracle fractions x seeds; return a :class:`BudgetResult`.

        X_pool: (n, d) float features of the items one could label. y_oracle: (n,) int oracle label, -1 where the pilot
        has none (only labelled items can be bought as oracle labels). y_weak: (n,) int weak label, -1 where none.
        X_test: (m, d), y_test: (m,) int true labels the accuracy is measured on. Labels in ``[0, k)``.
        ``progress("training", done, total)`` is called after each run."""
        from labelwise.learn.estimators import _seed

        self._check()
        X_pool = np.asarray(X_pool, np.float32)
        X_test = np.asarray(X_test, np.float32)
        y_oracle, y_weak, y_test = (np.asarray(v).astype(np.int64) for v in (y_oracle, y_weak, y_test))
        n = len(X_pool)
        if X_pool.ndim != 2 or X_test.ndim != 2 or X_test.shape[1] != X_pool.shape[1]:
            raise ShapeError(f"X_pool (n, d) and X_test (m, d) must share d, got {X_pool.shape} and {X_test.shape}.")
        if len(y_oracle) != n or len(y_weak) != n or len(y_test) != len(X_test):
            raise ShapeError(f"y_oracle and y_weak must be ({n},) and y_test ({len(X_test)},), got "
                             f"{y_oracle.shape}, {y_weak.shape} and {y_test.shape}.")
        n_classes = int(max(y_oracle.max(initial=-1), y_weak.max(initial=-1), y_test.max(initial=-1))) + 1
        oracle_rows, weak_rows = np.flatnonzero(y_oracle >= 0), np.flatnonzero(y_weak >= 0)
        runs = []
        total = int(self.n_seeds) * len(self.budgets) * len(self.oracle_fracs)
        base = np.random.SeedSequence(_seed(self.random_state))
        for s, child in enumerate(base.spawn(int(self.n_seeds))):
            rng = np.random.default_rng(child)
            # One order per seed, shared by every budget and mix (common random numbers: a larger purchase extends
            # a smaller one), so that differences between mixes are not differences between draws.
            oracle_order = rng.permutation(oracle_rows)
            weak_order = rng.permutation(weak_rows)
            fit_seed = int(rng.integers(0, 2**31 - 1))
            for budget in self.budgets:
                for f in self.oracle_fracs:
                    n_o, _, _ = budget_counts(budget, f, self.cost_oracle, self.cost_weak, len(oracle_rows))
                    bought = oracle_order[:n_o]
                    free = weak_order[~np.isin(weak_order, bought)]
                    _, n_w, cost = budget_counts(budget, f, self.cost_oracle, self.cost_weak, len(oracle_rows),
                                                 n_o + len(free))
                    weak = free[:n_w]
                    W, b = sequential_fit(X_pool[weak], y_weak[weak], X_pool[bought], y_oracle[bought], n_classes,
                                          points_per_stage=self.points_per_stage, val_frac=self.val_frac,
                                          min_val=self.min_val, min_oracle=self.min_oracle, lr=self.lr,
                                          batch_size=self.batch_size, random_state=fit_seed, n_threads=self.n_threads)
                    acc = float(((X_test @ W + b).argmax(1) == y_test).mean())
                    runs.append({"budget": float(budget), "oracle_frac": float(f), "seed": s, "n_oracle": n_o,
                                 "n_weak": n_w, "cost": cost, "accuracy": acc})
                    report(progress, "training", len(runs), total)
        params = {k: getattr(self, k) for k in ("budgets", "oracle_fracs", "n_seeds", "val_frac", "points_per_stage",
                                                "min_oracle", "min_val", "lr", "batch_size", "random_state")}
        params["budgets"] = [float(x) for x in self.budgets]
        params["oracle_fracs"] = [float(x) for x in self.oracle_fracs]
        return BudgetResult(runs=pd.DataFrame(runs), cost_oracle=float(self.cost_oracle),
                            cost_weak=float(self.cost_weak), params=params)


MIN_TEST = 10  # oracle labels held out to measure accuracy on
MIN_TRAIN = 10  # oracle labels left to buy


def _labels(values: pd.Series, name: str) -> pd.Series:
    """Labels as strings, None where empty (NaN, None, blank), read as every labelwise command reads them: an integer
    column that pandas turned into floats for its empty cells gives "1", not "1.0"."""
    cells = label_cells(values, False, None, name=name, source=DATAFRAME_SOURCE, row_ids=np.arange(len(values)))
    return pd.Series(cells, index=values.index, dtype=object)


def plan_budget(table: pd.DataFrame, *, text: str, oracle: str, weak: str, cost_oracle: float, cost_weak: float,
                budgets: Sequence[float] | None = None, budget: float | None = None, encoder: Any = None,
                test_frac: float = 0.3, n_seeds: int = 5, random_state: Any = 0,
                progress: Optional[ProgressCallback] = None,
                **planner_params) -> BudgetResult:
    """Simulate the label budget sweep on a pilot table and return a :class:`BudgetResult`.

    table: one row per item; ``text`` holds the text, ``oracle`` the expert label on a sample (empty elsewhere),
    ``weak`` the cheap label (LLM, crowd) on every row it was bought for. ``test_frac`` of the expert-labelled rows
    (at least 10) are held out to measure accuracy; the rest, and every weak-labelled row not held out, can be
    "bought". budgets: default 2, 8, 32, ... expert labels' worth up to every expert label of the pool; ``budget``
    (the user's own) is added to them. encoder: an object
    with ``encode(texts, progress=None) -> (n, d)`` (default: the packaged MiniLM :class:`TextEncoder`).
    The result's ``params["classes"]`` lists the labels."""
    for role, col in (("text", text), ("oracle", oracle), ("weak", weak)):
        if col not in table.columns:
            raise DataError(f"the table has no column {col!r} (the {role} column); its columns are: "
                            f"{', '.join(map(str, table.columns))}.")
    from labelwise.learn.estimators import _seed

    seed = _seed(random_state)  # one int for the split and the planner, also when random_state is None
    planner = LabelBudgetPlanner(cost_oracle=cost_oracle, cost_weak=cost_weak, budgets=budgets or [1.0],
                                 n_seeds=n_seeds, random_state=seed, **planner_params)
    planner._check()  # before the encoder runs
    if budget is not None and not 0 < budget < math.inf:
        raise ParameterError(f"budget must be > 0 and finite, got {budget}.")
    y_o, y_w = _labels(table[oracle], oracle), _labels(table[weak], weak)
    n_labelled = int(y_o.notna().sum())
    needed = MIN_TEST + MIN_TRAIN
    if n_labelled < needed or int(round(test_frac * n_labelled)) > n_labelled - MIN_TRAIN:
        raise DataError(f"column {oracle!r} has {n_labelled} expert labels; the planner needs at least "
                        f"{max(needed, int(np.ceil(MIN_TRAIN / (1 - test_frac))))} ({MIN_TEST} to measure accuracy on "
                        f"and {MIN_TRAIN} to train with); label more rows of the pilot.")
    if int(y_w.notna().sum()) == 0:
        raise DataError(f"column {weak!r} holds no weak labels; fill it with the cheap labeller's answers.")
    oracle_set, weak_set = set(y_o.dropna()), set(y_w.dropna())
    foreign = weak_set - oracle_set
    share = float(y_w.isin(foreign).sum() / y_w.notna().sum())
    if share > 0.1:
        shown = ", ".join(repr(v) for v in sorted(foreign)[:5])
        raise DataError(f"columns {weak!r} and {oracle!r} use different label sets: {share:.0%} of the weak labels "
                        f"({shown}{', ...' if len(foreign) > 5 else ''}) never occur among the expert labels; map both "
                        "to the same label names.")
    classes = sorted(oracle_set | weak_set)
    index = {c: i for i, c in enumerate(classes)}
    code = lambda s: s.map(lambda v: -1 if v is None else index[v]).to_numpy(np.int64)
    y_o, y_w = code(y_o), code(y_w)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    labelled = rng.permutation(np.flatnonzero(y_o >= 0))
    test = np.sort(labelled[:max(MIN_TEST, int(round(test_frac * len(labelled))))])
    pool = np.setdiff1d(np.arange(len(table)), test)
    if encoder is None:
        from labelwise.features.text import TextEncoder

        encoder = TextEncoder()
    X = np.asarray(encoder.encode([str(t) for t in table[text].tolist()], progress=progress), np.float32)
    if budgets is None:
        top = len(labelled) - len(test)
        budgets = [2.0 * 4 ** i * cost_oracle for i in range(12) if 2 * 4 ** i < top] + [top * cost_oracle]
    if budget is not None:
        budgets = sorted(set(float(b) for b in budgets) | {float(budget)})
    planner.budgets = budgets
    result = planner.run(X[pool], y_o[pool], y_w[pool], X[test], y_o[test], progress=progress)
    result.params.update({"classes": classes, "test_rows": len(test), "pool_rows": len(pool),
                          "oracle_pool": len(labelled) - len(test), "weak_pool": int((y_w[pool] >= 0).sum())})
    return result
