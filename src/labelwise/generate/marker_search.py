"""Constrained marker search: put one ``[`` ... ``]`` pair into a fixed translation (Codec, seed paper 7).

Le et al., "Constrained Decoding for Cross-lingual Label Projection" (ICLR 2024). The translation of the *unmarked*
source is the template ``y = (y_1 .. y_n)`` (token ids); the search finds the marked sequences ``ŷ`` (``y`` with one
open marker before token ``i`` and one close marker before token ``j``, ``i < j``: never an empty span) that maximise
``log P(ŷ | x_marked) = Σ_t log p(ŷ_t | ŷ_<t, x_marked)`` under a :class:`SequenceScorer`.

Log-probabilities are <= 0, so a partial score bounds every completion of it from above: the depth-first
branch-and-bound drops a branch once its partial score is no better than the n-th best complete score (exact). The
fast mode (``future_steps = α >= 0``) compares instead with that candidate's accumulated score ``α`` tokens further
on, which prunes more and may lose the optimum. ``candidate_open_positions`` restricts where the open marker may go
to the template tokens whose log-probability moves when the source gets its markers.

Pure search: the scorer is an argument (an LLM, a server, or ``labelwise.testing.toy_scorer.ToyScorer``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from labelwise.errors import ParameterError

OPEN, CLOSE = "[", "]"


@runtime_checkable
class SequenceScorer(Protocol):
    """A conditional model ``P(target tokens | source text)`` scored token by token.

    ``marker_ids``: ``{"[": [ids], "]": [ids]}``, every token id that writes a marker (e.g. ``"["`` and ``" ["``).
    ``calls``: how many times the model was asked (``next_logprobs`` and ``sequence_logprobs`` calls);
    ``tokens``: how many token positions it evaluated for them (a prefix already evaluated by the previous call is
    not evaluated again). Both only grow; read them before and after a search to count its cost. Optional:
    ``reverse()``, the same model translating the other way (``labelwise.generate.projection``'s reverse score).
    """

    marker_ids: dict
    calls: int
    tokens: int

    def tokenize(self, text: str) -> list:
        """``text`` -> its token ids, as the scorer scores them after the source (the template's tokens)."""

    def char_starts(self, text: str, ids: Sequence[int]) -> list:
        """Where each token of ``ids = tokenize(text)`` starts in ``text``: (len(ids),) character offsets."""

    def next_logprobs(self, source: str, prefix: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        """``log p(c | prefix, source)`` for each id in ``candidates``: (len(candidates),) float, all <= 0."""

    def sequence_logprobs(self, source: str, target: Sequence[int]) -> np.ndarray:
        """Teacher-forced ``log p(target_t | target_<t, source)``: (len(target),) float."""


@dataclass(frozen=True)
class MarkerCandidate:
    """One marked sequence: the open marker goes before template token ``open`` and the close marker before token
    ``close`` (``0 <= open < close <= n``: the span is template tokens ``open .. close - 1``). ``score``: its total
    log-probability. ``exact``: False when the search stopped at ``max_expansions`` before it was complete."""

    open: int
    close: int
    open_id: int
    close_id: int
    score: float
    exact: bool = True

    def tokens(self, template_ids: Sequence[int]) -> list:
        """The marked sequence: (len(template_ids) + 2,) token ids."""
        y = list(template_ids)
        return y[: self.open] + [self.open_id] + y[self.open: self.close] + [self.close_id] + y[self.close:]


def _marker_ids(scorer) -> tuple:
    ids = getattr(scorer, "marker_ids", None) or {}
    opens, closes = list(ids.get(OPEN, [])), list(ids.get(CLOSE, []))
    if not opens or not closes:
        raise ParameterError("The scorer has no marker token ids: give it marker_ids = {'[': [...], ']': [...]}.")
    return opens, closes


def brute_force_marker_search(scorer: SequenceScorer, source_marked: str, template_ids: Sequence[int]) -> list:
    """The O(n²) reference: every (open, close, open id, close id) scored by teacher forcing, best first.
    ``template_ids``: (n,) int. Returns every candidate (n (n + 1) / 2 per marker-id pair), sorted by score."""
    opens, closes = _marker_ids(scorer)
    y = list(template_ids)
    out = []
    for i in range(len(y)):
        for j in range(i + 1, len(y) + 1):
            for o in opens:
                for c in closes:
                    seq = y[:i] + [o] + y[i:j] + [c] + y[j:]
                    score = float(np.sum(scorer.sequence_logprobs(source_marked, seq)))
                    out.append(MarkerCandidate(i, j, o, c, score))
    out.sort(key=lambda m: (-m.score, m.open, m.close, m.open_id, m.close_id))
    return out


def constrained_marker_search(scorer: SequenceScorer, source_marked: str, template_ids: Sequence[int], *,
                              n_best: int = 5, future_steps: int = -1, open_positions: Optional[Sequence[int]] = None,
                              max_expansions: int = 20000) -> list:
    """The ``n_best`` best marked sequences of ``template_ids`` ((n,) int) given ``source_marked``, best first.

    Depth-first branch-and-bound: each expansion asks the scorer once for the log-probabilities of the next
    template token and of the pending marker's ids, and visits the better child first. ``future_steps=-1``: exact
    (a branch is dropped only when its partial score is <= the n-th best complete score, which bounds it). ``α >= 0``:
    the fast heuristic (compared with the n-th best's accumulated score ``α`` tokens ahead). ``open_positions``: the
    template positions the open marker may go before (None: all). After ``max_expansions`` scorer calls the search
    stops and returns the best found, marked ``exact=False``.
    """
    if n_best < 1:
        raise ParameterError(f"n_best must be >= 1, got {n_best}.")
    if max_expansions < 1:
        raise ParameterError(f"max_expansions must be >= 1, got {max_expansions}.")
    opens, closes = _marker_ids(scorer)
    y = list(template_ids)
    n = len(y)
    allowed = set(range(n)) if open_positions is None else {int(p) for p in open_positions if 0 <= int(p) < n}
    last_open = max(allowed, default=-1)
    heap: list = []  # (score, tiebreak, candidate, cumulative scores) min-heap of the n best complete sequences
    counter = 0

    def threshold(length: int) -> float:
        if len(heap) < n_best:
            return -np.inf
        worst = heap[0]
        if future_steps < 0:
            return worst[0]
        cumulative = worst[3]
        return cumulative[min(length + future_steps, len(cumulative) - 1)]

    # a state: (tokens so far, template position, open position or -1, open id, close position or -1, close id,
    #           cumulative scores: (len(tokens) + 1,) with 0.0 first)
    stack = [([], 0, -1, -1, -1, -1, [0.0])]
    expansions = 0
    exact = True
    while stack:
        tokens, t, i, o, j, c, cum = stack.pop()
        if cum[-1] <= threshold(len(tokens)) and len(heap) >= n_best:
            continue
        if j >= 0 and t == n:  # complete
            counter += 1
            item = (cum[-1], counter, MarkerCandidate(i, j, o, c, cum[-1]), cum)
            if len(heap) < n_best:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)
            continue
        # the children: the next template token, and the pending marker where it may go
        moves = []
        if t < n and not (i < 0 and t >= last_open):  # an open marker must still fit before a template token
            moves.append(("y", y[t]))
        if i < 0 and t in allowed:
            moves += [("open", k) for k in opens]
        elif i >= 0 and j < 0 and t > i:  # t > i: the span is never empty
            moves += [("close", k) for k in closes]
        if not moves:
            continue
        if expansions >= max_expansions:
            exact = False
            break
        expansions += 1
        logprobs = scorer.next_logprobs(source_marked, tokens, [k for _, k in moves])
        children = []
        for (kind, k), lp in zip(moves, logprobs):
            score = cum[-1] + float(lp)
            child_cum = cum + [score]
            if kind == "y":
                children.append((score, (tokens + [k], t + 1, i, o, j, c, child_cum)))
            elif kind == "open":
                children.append((score, (tokens + [k], t, t, k, j, c, child_cum)))
            else:
                children.append((score, (tokens + [k], t, i, o, t, k, child_cum)))
        children.sort(key=lambda sc: sc[0])  # the best child is pushed last: visited first
        stack += [state for _, state in children]
    best = sorted(heap, key=lambda item: (-item[0], item[2].open, item[2].close, item[2].open_id, item[2].close_id))
    if exact:
        return [item[2] for item in best]
    return [MarkerCandidate(m.open, m.close, m.open_id, m.close_id, m.score, exact=False)
            for m in (item[2] for item in best)]


def candidate_open_positions(scorer: SequenceScorer, source_clean: str, source_marked: str,
                             template_ids: Sequence[int], threshold1: float = 0.5, threshold2: float = 0.1,
                             window: int = 5) -> list:
    """Template positions where the open marker may go (Codec's position pruning), sorted.

    ``Δ_t = log p(y_t | y_<t, source_marked) - log p(y_t | y_<t, source_clean)`` ((n,) float, two teacher-forced
    calls). Positions with ``|Δ_t| >= threshold1`` seed windows of ``± window`` tokens; inside them the positions
    with ``|Δ_t| >= threshold2`` are kept. Empty when no position moves by ``threshold1``."""
    y = list(template_ids)
    delta = np.abs(np.asarray(scorer.sequence_logprobs(source_marked, y), dtype=float)
                   - np.asarray(scorer.sequence_logprobs(source_clean, y), dtype=float))
    keep = set()
    for seed in np.flatnonzero(delta >= threshold1):
        for p in range(max(0, seed - window), min(len(y), seed + window + 1)):
            if delta[p] >= threshold2:
                keep.add(int(p))
    return sorted(keep)


class CallCounter:
    """The cost bookkeeping a scorer shares: ``calls`` and ``tokens`` (see :class:`SequenceScorer`), with the
    positions the model last evaluated as its one cached prefix. Each ``count_*`` returns how many leading positions
    were already evaluated (the scorer evaluates the rest)."""

    def __init__(self):
        self.calls = 0
        self.tokens = 0
        self._last: tuple = (None, [])

    def count_next(self, source: str, prefix: Sequence[int]) -> int:
        """A ``next_logprobs`` call: it needs the positions of the prompt's end and of ``prefix``."""
        return self._count(source, [-1] + list(prefix))

    def count_sequence(self, source: str, target: Sequence[int]) -> int:
        """A ``sequence_logprobs`` call: the prompt's end and every target position but the last."""
        return self._count(source, [-1] + list(target)[:-1])

    def _count(self, source: str, positions: list) -> int:
        last_source, last = self._last
        same = 0
        if last_source == source:
            for a, b in zip(last, positions):
                if a != b:
                    break
                same += 1
        self.calls += 1
        self.tokens += len(positions) - same
        self._last = (source, positions)
        return same
