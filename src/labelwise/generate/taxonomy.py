"""Induce a label taxonomy from raw text with an LLM: phase 1 of TnT-LLM.

Seed paper: Wan et al., "TnT-LLM: Text Mining at Scale with Large Language Models" (KDD 2024, arXiv 2403.12173).
Phase 1 works like stochastic gradient descent over the data, with prompts as the update rule:

1. **summarise** every sampled text in a few words focused on the use case (texts already shorter than a summary
   are kept as they are: a summary exists to fit many documents into one prompt, and a short text needs none);
2. **generate** a first taxonomy from the first minibatch of summaries;
3. **update** it with each later minibatch: the model sees the current taxonomy and new texts, and writes the
   revised taxonomy (keep what fits, merge overlaps, add what is missing);
4. **review** it once at the end: merge near-duplicates, make names specific and descriptions discriminative.

The taxonomy is a list of :class:`Category` (a short name and a one-sentence description). It is saved as YAML a
person can edit and give back (``labelwise annotate --taxonomy``, or ``induce_taxonomy(start=...)`` to refine it
on more data).

Small local models follow instructions badly, so every answer is forced into the list format by a grammar where
the backend supports one (llama.cpp), parsed leniently otherwise, and then repaired: names are cut to a few words;
empty names, catch-alls ("Other": labelling adds it back), names copied from the texts and items that run into the
next ones are dropped; duplicates and near-duplicates (embedding cosine >= 0.9) are merged; an answer that mostly
repeats one line is refused; a list longer than ``max_labels`` is asked for again and then merged by embedding
similarity. An update that comes back unusable keeps the previous taxonomy.

**The first minibatch decides whether the model can do this at all.** Its answer is checked by
:func:`labelwise.generate.taxonomy_check.check_proposal` (the prompt written back, names taken from the
instructions, questions, sentences, one line repeated). If it fails, or the first minibatch gives no usable
taxonomy, the model is not asked again: the taxonomy falls back to embedding clusters named by their distinctive
words (:func:`labelwise.generate.clusters.cluster_taxonomy`; with ``start``, the starting taxonomy is kept), and
``Taxonomy.settings["fallback_reason"]`` says why, how many calls were skipped and how long they would have taken
(the seconds per call measured so far times the calls left). It never crashes on the model's output, and every
repair is recorded in ``Taxonomy.settings["repairs"]``. Progress is reported per model call (stage
``"building the taxonomy"``; a retry adds a step), after ``"summarising"`` per text.

This module is the minibatch loop. The prompts and the grammar are in :mod:`~labelwise.generate.taxonomy_prompts`,
the reading and repairs in :mod:`~labelwise.generate.taxonomy_categories`, :class:`Taxonomy` and its YAML file in
:mod:`~labelwise.generate.taxonomy_yaml`; ``Taxonomy``, ``Category`` and ``OTHER`` are importable from here too.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.errors import DataError, ParameterError
from labelwise.generate.clusters import cluster_taxonomy
from labelwise.generate.taxonomy_categories import (OTHER, Category, clean_categories, merge_closest,
                                                    merge_near_duplicates, parse_categories)
from labelwise.generate.taxonomy_check import DROPPED, check_proposal
from labelwise.generate.taxonomy_prompts import (GRANULARITY, generate_prompt, review_prompt, summary_prompt,
                                                 taxonomy_grammar, update_prompt)
from labelwise.generate.taxonomy_yaml import Taxonomy
from labelwise.llm.backend import Backend
from labelwise.progress import report

__all__ = ["induce_taxonomy", "summarize", "Taxonomy", "Category", "OTHER"]

STAGE = "building the taxonomy"  # the progress stage of the generate / update / review calls


class _Timer:
    """Seconds spent in model calls that the cache did not answer, and how many there were."""

    def __init__(self):
        self.seconds, self.calls = 0.0, 0

    def complete(self, backend: Backend, prompt: str, **options):
        served = backend.usage.cached
        started = time.perf_counter()
        answer = backend.complete(prompt, **options)
        if backend.usage.cached == served:
            self.seconds += time.perf_counter() - started
            self.calls += 1
        return answer

    @property
    def per_call(self) -> Optional[float]:
        return self.seconds / self.calls if self.calls else None


class _Calls:
    """Progress of the taxonomy's model calls: one step per call; a retry adds a step to the total."""

    def __init__(self, progress, total: int):
        self.progress, self.done, self.total = progress, 0, total
        report(progress, STAGE, 0, total)

    def one(self, retry: bool = False) -> None:
        self.done += 1
        self.total += retry
        report(self.progress, STAGE, self.done, max(self.total, self.done))

    def stop(self) -> None:
        """No more calls: the bar ends where the work did."""
        self.total = self.done
        report(self.progress, STAGE, self.done, self.done)


def summarize(texts: Sequence[str], backend: Backend, *, use_case: str, max_words: int = 20,
              only_longer: bool = True, progress: Optional[Callable[[str, int, int], None]] = None) -> list:
    """One summary of at most ~``max_words`` words per text (n strings). ``only_longer``: texts of at most
    ``max_words`` words are kept as they are (no model call). An empty or runaway answer falls back to the text's
    first ``max_words`` words."""
    out = []
    for i, text in enumerate(texts):
        words = str(text).split()
        if only_longer and len(words) <= max_words:
            out.append(" ".join(words))
        else:
            answer = backend.complete(summary_prompt(text, use_case, max_words), max_tokens=2 * max_words + 8,
                                      stop=["\n"]).text
            summary = answer.strip().split()
            out.append(" ".join((summary if len(summary) >= 2 else words)[: int(max_words * 1.5)]))
        if progress is not None:
            progress("summarising", i + 1, len(texts))
    return out


def _ask(backend: Backend, prompt: str, min_labels: int, max_labels: int, chat: bool, attempt: int,
         timer: _Timer) -> list:
    # a moderate frequency penalty: the answer is a list of distinct items, and small models otherwise repeat a line
    options = {"max_tokens": max_labels * 32 + 16, "frequency_penalty": 0.5, "stop": ["\n\n"],
               "temperature": 0.0 if attempt == 0 else 0.7,
               "seed": backend.seed + attempt, "chat": chat}
    if backend.supports_grammar:
        options["grammar"] = taxonomy_grammar(min_labels, max_labels)
    return parse_categories(timer.complete(backend, prompt, **options).text)


def _propose(backend, prompt, instructions, min_labels, max_labels, chat, encoder, attempts, notes, calls, timer,
             texts=()) -> tuple:
    """(a repaired list of categories from ``prompt`` or None, the failed :class:`ProposalCheck` or None).

    An answer that fails :func:`check_proposal` (the model did not follow the prompt) is final: asking again costs
    a call that a model this weak rarely repays. Too few or too many usable categories are asked for again."""
    best = None
    for attempt in range(attempts):
        written = [c for c in _ask(backend, prompt, min_labels, max_labels, chat, attempt, timer)
                   if str(c.name).strip()]
        calls.one(retry=attempt > 0)
        check = check_proposal([c.name for c in written], instructions, texts)
        if not check.ok:
            backend.usage.malformed += 1
            notes.append(f"attempt {attempt + 1}: not a taxonomy: {check.reason}")
            return None, check
        notes.extend(f"dropped {c.name!r}: {rule}" for rule in DROPPED for c in written
                     if c.name in check.broken.get(rule, []))
        written = [c for c in written if c.name not in check.dropped()]
        found, fixes = clean_categories(written, texts)
        found, merged = merge_near_duplicates(found, encoder)
        fixes += merged
        if min_labels <= len(found) <= max_labels:
            notes.extend(fixes)
            return found, None
        backend.usage.malformed += 1
        notes.append(f"attempt {attempt + 1}: {len(found)} usable categories (wanted {min_labels}-{max_labels})")
        if len(found) > max_labels and (best is None or len(found) > len(best)):
            best, best_fixes = found, fixes
    if best is not None:  # too many, even when asked again: merge the closest
        merged, more = merge_closest(best, max_labels, encoder)
        notes.extend(best_fixes + more)
        return merged, None
    return None, None


def induce_taxonomy(texts: Sequence[str], backend: Backend, *, use_case: str = "", max_labels: int = 25,
                    min_labels: int = 2, granularity: str = "medium", sample_size: Optional[int] = 200,
                    batch_size: int = 40, summarize_texts: bool = True, max_words: int = 20, review: bool = True,
                    start: Optional[Taxonomy] = None, chat: bool = False, attempts: int = 2, encoder=None,
                    random_state: int = 0, progress: Optional[Callable[[str, int, int], None]] = None) -> Taxonomy:
    """TnT-LLM phase 1 over ``texts`` (n strings): a :class:`Taxonomy` of ``min_labels``..``max_labels`` categories.

    use_case: what the labels are for ("the intent of a customer's message"); it steers summaries and categories.
    granularity: "coarse", "medium" or "fine". sample_size: texts drawn (``random_state``) from the corpus (None: all).
    batch_size: texts per minibatch (the first generates, each later one updates). start: an existing taxonomy to
    refine (every minibatch then updates it). chat: send prompts as chat messages (instruction-tuned models).
    encoder: embeds category names to merge surplus categories and for the fallback (default: the packaged
    MiniLM). Deterministic for a given ``random_state`` and model (temperature 0, responses cached).
    """
    if granularity not in GRANULARITY:
        raise DataError(f"granularity must be one of {', '.join(GRANULARITY)}; got {granularity!r}.")
    if not 2 <= min_labels <= max_labels:
        raise DataError(f"Need 2 <= min_labels <= max_labels; got min_labels={min_labels}, max_labels={max_labels}.")
    if max_labels > 99:
        raise DataError("max_labels must be at most 99: a taxonomy that long is no longer something a person reads.")
    if batch_size < 1 or sample_size is not None and sample_size < 1:
        raise ParameterError(f"batch_size and sample_size count texts, at least 1 (sample_size None: all); got "
                             f"batch_size={batch_size}, sample_size={sample_size}.")
    texts = [" ".join(str(t).split()) for t in texts]
    texts = [t for t in texts if t]
    if len(texts) < 2:
        raise DataError("Need at least two non-empty texts to induce a taxonomy from.")
    use_case = use_case.strip() or "Find the main categories of these texts."
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(texts))
    if sample_size is not None:
        order = order[:sample_size]
    sample = [texts[i] for i in order]
    summaries = (summarize(sample, backend, use_case=use_case, max_words=max_words, progress=progress)
                 if summarize_texts else [" ".join(t.split()[: max_words * 3]) for t in sample])
    batches = [summaries[i:i + batch_size] for i in range(0, len(summaries), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < batch_size / 2:  # a short tail joins the minibatch before it
        batches[-2:] = [batches[-2] + batches[-1]]
    notes: list = []
    steps: list = []
    current = start
    calls_before = backend.usage.calls + backend.usage.cached
    timer = _Timer()
    calls = _Calls(progress, len(batches) + review)
    stopped = None  # why the model was not asked again, when it could not follow the prompt
    for b, batch in enumerate(batches):
        if current is None:
            prompt = generate_prompt(batch, use_case, min_labels, max_labels, granularity)
            instructions = generate_prompt([], "", min_labels, max_labels, granularity)
            step = "generate"
        else:
            prompt = update_prompt(current.categories, batch, use_case, min_labels, max_labels, granularity)
            instructions = update_prompt([], [], "", min_labels, max_labels, granularity)
            step = "update"
        found, failed = _propose(backend, prompt, instructions, min_labels, max_labels, chat, encoder, attempts,
                                 notes, calls, timer, batch)
        if found is not None:
            current = Taxonomy(found, use_case)
        steps.append({"step": step, "minibatch": b + 1, "labels": None if current is None else len(current)})
        if b == 0 and (failed is not None or current is None):  # the first minibatch decides
            stopped = failed.reason if failed is not None else "no usable taxonomy from the first minibatch"
            break
        if found is None:
            notes.append(f"minibatch {b + 1}: no usable taxonomy; kept the previous one")
    left = len(batches) - len(steps) + review
    fallback = reason = None
    if stopped is not None:
        calls.stop()
        fallback = "embedding clusters" if current is None else "the starting taxonomy"
        reason = (f"the model cannot follow the taxonomy prompt ({stopped}); used {fallback} instead, without the "
                  f"{left} call{'' if left == 1 else 's'} left{_estimate(timer, left)}")
        notes.append(reason)
        if current is None:
            current = cluster_taxonomy(sample, n_labels=min(max_labels, max(min_labels, len(sample) // 10)),
                                       encoder=encoder, random_state=random_state)
    elif review:
        found, _ = _propose(backend, review_prompt(current.categories, use_case, min_labels, max_labels, granularity),
                            review_prompt([], "", min_labels, max_labels, granularity), min_labels, max_labels,
                            chat, encoder, attempts, notes, calls, timer)
        if found is not None:
            current = Taxonomy(found, use_case)
        steps.append({"step": "review", "labels": len(current)})
    settings = {"method": "TnT-LLM phase 1 (labelwise)", "model": backend.model, "backend": backend.name,
                "texts_sampled": len(sample), "minibatches": len(batches), "batch_size": batch_size,
                "max_labels": max_labels, "min_labels": min_labels, "granularity": granularity,
                "summaries": summarize_texts, "random_state": random_state,
                "llm_calls": backend.usage.calls + backend.usage.cached - calls_before, "fallback": fallback,
                "fallback_reason": reason, "seconds_per_call": timer.per_call,
                "calls_skipped": left if stopped is not None else 0,
                "steps": steps, "repairs": notes}
    return Taxonomy(current.categories, use_case, settings)


def _estimate(timer: _Timer, left: int) -> str:
    """", which would have taken about N min (S s per call)" from the calls timed so far, or "" if none was."""
    if timer.per_call is None or left == 0:
        return ""
    total = timer.per_call * left
    span = f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
    return f", which would have taken about {span} more ({timer.per_call:.0f} s per call)"
