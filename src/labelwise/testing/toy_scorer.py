"""A deterministic stand-in for a translation model's ``P(marked target | marked source)``, for exact tests of the
Codec marker search (``labelwise.generate.marker_search``) and of span projection without a model.

Words and punctuation are tokens (ids by CRC-32 into a vocabulary of ``vocab_size``); each next-token distribution
is a log-softmax over the whole vocabulary of seeded Gaussian logits (a function of the source without its markers, the last two tokens
and the position, so every search sees the same numbers), plus two rules. A translator's: when the source (markers
aside) is one of ``translations``, the next word of its translation is likelier by ``fluency``. An aligner's: after an
open marker the words of the source's marked span (or their ``lexicon`` translations) are likelier (and before it,
when the source has markers, less likely), a close marker
is likelier right after them and unlikely elsewhere, and they are unlikelier after the close marker.
"""

from __future__ import annotations

import random
import re
import zlib
from typing import Optional, Sequence

import numpy as np

from labelwise.generate.marker_search import CLOSE, OPEN, CallCounter

__all__ = ["ToyScorer", "random_marker_case"]

WORDS = "the a of France Germany backed plan only and Britain city river blue red green house".split()

_TOKEN = re.compile(r"\w+|[^\w\s]")


class ToyScorer(CallCounter):
    """``noise``: the scale of the random logits (larger: the rule matters less, argmaxes look random).
    ``bonus``: the rule's strength. ``lexicon``: source word -> target word (``{"Germany": "Alemania"}``).
    ``translations``: source text -> its translation, the text this toy translator prefers (by ``fluency``).
    Two ids write each marker (``"["`` and a ``"▁["`` variant), as SentencePiece models have."""

    def __init__(self, *, noise: float = 1.0, bonus: float = 4.0, fluency: float = 6.0,
                 lexicon: Optional[dict] = None, translations: Optional[dict] = None, vocab_size: int = 512,
                 seed: int = 0):
        super().__init__()
        self.fluency = float(fluency)
        self.noise, self.bonus, self.seed = float(noise), float(bonus), int(seed)
        self.lexicon = {k.lower(): v.lower() for k, v in (lexicon or {}).items()}
        self.vocab_size = int(vocab_size)
        self.marker_ids = {OPEN: [0, 2], CLOSE: [1, 3]}
        self._open, self._close = set(self.marker_ids[OPEN]), set(self.marker_ids[CLOSE])
        self.translations = {}
        self._memo: dict = {}
        for source, target in (translations or {}).items():
            self.add_translation(source, target)

    def add_translation(self, source: str, target: str) -> None:
        """Make ``target`` this toy's translation of ``source`` (markers in ``source`` are ignored)."""
        self.translations[self._clean(source)] = self.tokenize(target)

    def _clean(self, source: str) -> tuple:
        return tuple(t for t in self.tokenize(source) if t not in self._open and t not in self._close)

    # ---- tokens -----------------------------------------------------------------------------------------------

    def _id(self, token: str) -> int:
        if token == OPEN:
            return 0
        if token == CLOSE:
            return 1
        return 4 + zlib.crc32(token.lower().encode()) % (self.vocab_size - 4)

    def tokenize(self, text: str) -> list:
        """Words and punctuation marks, in order: (tokens,) int."""
        return [self._id(m.group()) for m in _TOKEN.finditer(text)]

    def char_starts(self, text: str, ids: Sequence[int]) -> list:
        """Where each token of ``tokenize(text)`` starts: (tokens,) int."""
        return [m.start() for m in _TOKEN.finditer(text)]

    def _span_ids(self, source: str) -> set:
        words = _TOKEN.findall(source.partition(OPEN)[2].partition(CLOSE)[0])
        return {self._id(w) for w in words} | {self._id(self.lexicon[w.lower()]) for w in words
                                               if w.lower() in self.lexicon}

    # ---- scores -----------------------------------------------------------------------------------------------

    def _logprobs(self, source: str, prefix: Sequence[int]) -> np.ndarray:
        """The next token's log-probabilities over the whole vocabulary: (vocab_size,) float (memoised)."""
        key = (source, tuple(prefix))
        if key not in self._memo:
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[key] = self._compute(source, prefix)
        return self._memo[key]

    def _compute(self, source: str, prefix: Sequence[int]) -> np.ndarray:
        last = prefix[-1] if prefix else -1
        before = prefix[-2] if len(prefix) > 1 else -1
        clean = self._clean(source)  # the same noise with and without the source's markers
        key = f"{self.seed}|{clean}|{before}|{last}|{len(prefix)}".encode()
        logits = np.random.default_rng(zlib.crc32(key)).normal(0.0, self.noise, self.vocab_size)
        markers = sorted(self._open | self._close)
        logits[markers] -= 2.0
        translation = self.translations.get(self._clean(source))
        if translation is not None:
            done = sum(t not in self._open and t not in self._close for t in prefix)
            if done < len(translation):
                logits[translation[done]] += self.fluency
        span = sorted(self._span_ids(source))
        depth = sum(t in self._open for t in prefix) - sum(t in self._close for t in prefix)
        if depth == 0 and not any(t in self._open for t in prefix):
            logits[span] -= self.bonus / 2  # a marked source would rather open a marker before its span's words
        if last in self._open:
            logits[span] += self.bonus
        elif depth > 0:
            closes = sorted(self._close)
            logits[closes] += self.bonus if last in span else -self.bonus
        elif last in self._close:
            logits[span] -= self.bonus
        top = logits.max()
        return logits - (top + np.log(np.exp(logits - top).sum()))

    def next_logprobs(self, source: str, prefix: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        self.count_next(source, prefix)
        return self._logprobs(source, list(prefix))[list(candidates)]

    def sequence_logprobs(self, source: str, target: Sequence[int]) -> np.ndarray:
        self.count_sequence(source, target)
        target = list(target)
        return np.array([self._logprobs(source, target[:t])[target[t]] for t in range(len(target))])


def random_marker_case(seed: int, short: bool = False) -> tuple:
    """A random marked source and template, with a toy translator that prefers the template: (scorer, marked
    source, template text). Short: 4-7 source and 4-8 target words; else 5-9 and 8-14."""
    r = random.Random(seed)
    source = r.sample(WORDS, r.randint(4, 7) if short else r.randint(5, 9))
    start, length = r.randrange(len(source)), r.randint(1, 2)
    marked = " ".join(source[:start] + [OPEN] + source[start:start + length] + [CLOSE] + source[start + length:])
    target = " ".join(r.sample(WORDS, r.randint(4, 8) if short else r.randint(8, 14)))
    return ToyScorer(noise=r.choice([0.5, 1.0, 3.0]), seed=seed, translations={marked: target}), marked, target
