"""Sequence scorers for Codec's marker search (``labelwise.generate.marker_search.SequenceScorer``).

A causal LM with a translation prompt is a conditional model ``P(target | source)``: the prompt
``"Translate from English to Spanish.\\nEnglish: {source}\\nSpanish:"`` is followed by the target's tokens, and each
token's log-probability given the prompt and the tokens before it is the MT model's step score (Codec's seed paper 7
uses a seq2seq MT model; a decoder-only LM with this prompt stands in for it).

- :class:`LlamaCppSequenceScorer`: the in-process llama.cpp model (default: the packaged Gemma 3 270M). The prompt is
  decoded once per source (its batches reused across sources as ``LlamaCppBackend`` does), then the target path
  token by token, one token per batch, keeping every position's logits along the current path: a search that moves
  from a prefix to one of its children evaluates one token. One token per batch also fixes llama.cpp's batch layout,
  so a sequence scores the same, to the bit, whichever path reached it (the search equals brute force exactly).
- :class:`BackendTextScorer`: any :class:`~labelwise.llm.backend.Backend` that scores continuations, in particular an
  OpenAI-compatible server with prompt log-probabilities (``/completions`` with ``echo`` and ``logprobs``). Its
  tokens are text pieces (a word or a punctuation mark with the spaces before it): the step score of a piece is
  ``log P(prefix + piece) - log P(prefix)`` under the server's own tokenizer, capped at 0 so that partial scores stay
  upper bounds (the cap only acts where the server's tokens straddle two pieces, e.g. ``" ]."``).
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np

from labelwise.errors import LLMError
from labelwise.generate.marker_search import CLOSE, OPEN, CallCounter

__all__ = ["translation_prompt", "LlamaCppSequenceScorer", "BackendTextScorer"]


def translation_prompt(source: str, source_lang: str = "English", target_lang: str = "Spanish") -> str:
    """The prompt whose continuation is the translation of ``source`` (the target follows after one space)."""
    return f"Translate from {source_lang} to {target_lang}.\n{source_lang}: {source}\n{target_lang}:"


def _byte_to_char(text: str) -> np.ndarray:
    """Character offset of each byte offset of ``text`` in UTF-8 (a byte inside a character maps to that character's
    start): (len(bytes) + 1,) int."""
    out = np.zeros(len(text.encode()) + 1, dtype=int)
    position = 0
    for i, char in enumerate(text):
        width = len(char.encode())
        out[position: position + width] = i
        position += width
    out[position] = len(text)
    return out


class LlamaCppSequenceScorer(CallCounter):
    """``backend``: a :class:`~labelwise.llm.llamacpp.LlamaCppBackend` (default: the packaged model on one thread).
    ``source_lang``, ``target_lang``: names written into :func:`translation_prompt`. The counters ``calls`` and
    ``tokens`` count model calls and the token positions actually decoded for them."""

    def __init__(self, backend=None, *, source_lang: str = "English", target_lang: str = "Spanish"):
        super().__init__()
        if backend is None:
            from labelwise.llm.llamacpp import default_backend

            backend = default_backend(n_threads=1)
        self.backend = backend
        self.source_lang, self.target_lang = source_lang, target_lang
        llm = backend.llm
        self.marker_ids = {marker: [ids[0] for ids in (self._ids(marker), self._ids(" " + marker)) if len(ids) == 1]
                           for marker in (OPEN, CLOSE)}
        self._prompt: list = []  # the prompt's tokens (BOS first) whose last token starts the path
        self._path: list = []  # the tokens decoded one by one after prompt[:-1]: prompt[-1], then the target's
        self._rows: list = []  # per path position: (logits, log-normaliser) of the next token
        self._n_vocab = llm.n_vocab()

    def _ids(self, text: str) -> list:
        return list(self.backend.llm.tokenize(text.encode(), add_bos=False, special=False))

    def reverse(self) -> "LlamaCppSequenceScorer":
        """The same model translating the other way (target -> source), for Codec's reverse re-ranking score."""
        return LlamaCppSequenceScorer(self.backend, source_lang=self.target_lang, target_lang=self.source_lang)

    # ---- tokens -----------------------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list:
        """The target's tokens as they follow the prompt (after one space): (tokens,) int."""
        return self._ids(" " + text)

    def char_starts(self, text: str, ids: Sequence[int]) -> list:
        """Where each token of ``tokenize(text)`` starts in ``text`` (the space before the first token is not part of
        ``text``: it starts at 0): (tokens,) int."""
        pieces = [self.backend.llm.detokenize([int(i)]) for i in ids]
        if b"".join(pieces) != (" " + text).encode():
            raise LLMError(f"The model's tokens do not spell the translation {text[:60]!r} again; give the text as "
                           "the model's tokenizer writes it (e.g. without control characters).")
        chars = _byte_to_char(text)
        starts, position = [], -1  # byte offsets in text (the leading space is byte -1)
        for piece in pieces:
            starts.append(int(chars[max(position, 0)]))
            position += len(piece)
        return starts

    # ---- scores -----------------------------------------------------------------------------------------------

    def _evaluate(self, source: str, path: list) -> list:
        """Decode what the cache lacks of ``prompt(source)`` and ``path`` (the prompt's last token, then target
        tokens); the (logits, log-normaliser) rows of every path position."""
        backend, llm = self.backend, self.backend.llm
        prompt = list(llm.tokenize(translation_prompt(source, self.source_lang, self.target_lang).encode(),
                                   add_bos=True))
        path = [prompt[-1]] + list(path)
        base = len(prompt) - 1
        if base + len(path) > llm.n_ctx():
            raise LLMError(f"The prompt and translation need {base + len(path)} tokens, more than the model's context "
                           f"of {llm.n_ctx()}: shorten the text or load the model with a larger n_ctx.")
        with backend._lock:
            # intact: the cache still holds this scorer's path (another scorer on the backend may have replaced it)
            intact = (prompt == self._prompt and backend._prefix == prompt[:-1]
                      and llm.n_tokens == base + len(self._path) and backend._path_owner is self)
            if not intact:
                backend._decode_prefix(prompt[:-1])
                self._prompt, self._path, self._rows = prompt, [], []
            backend._path_owner = self
            same = 0
            for a, b in zip(self._path, path):
                if a != b:
                    break
                same += 1
            same = min(same, len(path))
            del self._path[same:], self._rows[same:]
            llm._ctx.kv_cache_seq_rm(-1, base + same, -1)
            llm.n_tokens = base + same
            for position in range(same, len(path)):
                token = path[position]
                llm._batch.set_batch(batch=[token], n_past=base + position, logits_all=True)
                llm._ctx.decode(llm._batch)
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(1, self._n_vocab))[0].copy()
                top = float(logits.max())  # float32 rows (1 MB each for Gemma), normalisers in float64
                self._rows.append((logits, top + np.log(np.exp(logits.astype(np.float64) - top).sum())))
                self._path.append(token)
                llm.input_ids[base + position] = token
                llm.n_tokens = base + position + 1
            self.tokens += len(path) - same
            return self._rows[: len(path)]

    def next_logprobs(self, source: str, prefix: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        self.calls += 1
        logits, norm = self._evaluate(source, list(prefix))[-1]
        return logits[list(candidates)].astype(np.float64) - norm

    def sequence_logprobs(self, source: str, target: Sequence[int]) -> np.ndarray:
        self.calls += 1
        target = list(target)
        rows = self._evaluate(source, target[:-1])
        return np.array([float(logits[t]) - norm for (logits, norm), t in zip(rows, target)])


_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")


class BackendTextScorer(CallCounter):
    """Any backend with ``score(prompt, continuations)`` (an OpenAI-compatible server: ``OpenAIBackend``), with text
    pieces for tokens. ``requests``: the continuations scored (one server request each; repeats are memoised).
    ``calls``/``tokens`` count as for the other scorers (``tokens`` in pieces, with a one-sequence cache)."""

    def __init__(self, backend, *, source_lang: str = "English", target_lang: str = "Spanish"):
        super().__init__()
        self.backend = backend
        self.source_lang, self.target_lang = source_lang, target_lang
        self._pieces: list = [OPEN, " " + OPEN, CLOSE, " " + CLOSE]
        self._ids = {piece: i for i, piece in enumerate(self._pieces)}
        self.marker_ids = {OPEN: [0, 1], CLOSE: [2, 3]}
        self._memo: dict = {}
        self.requests = 0

    def reverse(self) -> "BackendTextScorer":
        """The same backend translating the other way (target -> source), for Codec's reverse re-ranking score."""
        return BackendTextScorer(self.backend, source_lang=self.target_lang, target_lang=self.source_lang)

    def _id(self, piece: str) -> int:
        if piece not in self._ids:
            self._ids[piece] = len(self._pieces)
            self._pieces.append(piece)
        return self._ids[piece]

    def tokenize(self, text: str) -> list:
        """Words and punctuation marks with the spaces before them: (pieces,) int."""
        return [self._id(m.group()) for m in _PIECE.finditer(text)]

    def char_starts(self, text: str, ids: Sequence[int]) -> list:
        """Where each piece of ``tokenize(text)`` starts (its leading spaces included): (pieces,) int."""
        return [m.start() for m in _PIECE.finditer(text)]

    def _text_logprob(self, source: str, ids: tuple) -> float:
        if not ids:
            return 0.0
        key = (source, ids)
        if key not in self._memo:
            prompt = translation_prompt(source, self.source_lang, self.target_lang)
            text = "".join(self._pieces[i] for i in ids)
            self.requests += 1
            self._memo[key] = float(self.backend.score(prompt, [" " + text.lstrip()])[0][0])
        return self._memo[key]

    def _step(self, source: str, prefix: tuple, piece: int) -> float:
        return min(0.0, self._text_logprob(source, prefix + (piece,)) - self._text_logprob(source, prefix))

    def next_logprobs(self, source: str, prefix: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        self.count_next(source, prefix)
        prefix = tuple(prefix)
        return np.array([self._step(source, prefix, int(c)) for c in candidates])

    def sequence_logprobs(self, source: str, target: Sequence[int]) -> np.ndarray:
        self.count_sequence(source, target)
        target = tuple(int(t) for t in target)
        return np.array([self._step(source, target[:t], target[t]) for t in range(len(target))])


def open_scorer(model=None, *, server: Optional[str] = None, server_model: Optional[str] = None, threads=None,
                source_lang: str = "English", target_lang: str = "Spanish", **options):
    """The scorer a user asked for (as ``labelwise.llm.open_backend``): a server URL -> :class:`BackendTextScorer`,
    else a GGUF file or the packaged model -> :class:`LlamaCppSequenceScorer`."""
    from labelwise.llm import open_backend

    backend = open_backend(model, server=server, server_model=server_model, threads=threads or 1, **options)
    if server:
        return BackendTextScorer(backend, source_lang=source_lang, target_lang=target_lang)
    return LlamaCppSequenceScorer(backend, source_lang=source_lang, target_lang=target_lang)
