"""Whether a model's answer to a taxonomy prompt is a taxonomy at all, or the model could not follow the prompt.

A small base model (the packaged Gemma 3 270M) asked for a taxonomy often writes the prompt back: names such as
"What are the categories for" or "category?", the same line again and again, or the texts themselves. Repairs
(:mod:`~labelwise.generate.taxonomy_categories`) cannot turn that into categories, and asking again costs minutes
per call on a laptop. :func:`check_proposal` judges the names of one answer by five rules and says whether the model
followed the prompt; :func:`labelwise.generate.taxonomy.induce_taxonomy` falls back to embedding clusters as soon
as the first minibatch's answer fails it.

Rules, each on one name as the model wrote it (words: lower-cased runs of letters and digits; content words: those
not in :data:`FUNCTION_WORDS`, a short list of English articles, pronouns, prepositions and auxiliaries):

- ``echo``: the name repeats the prompt's instructions: it holds a run of ``ECHO_WORDS`` (3) words of them, or the
  whole name of two words is a run of them (runs of function words alone, such as "that is too", do not count);
- ``question``: the name ends with a question mark;
- ``instructions``: the name uses only words of the instructions and none of the texts, or it has no content word
  at all ("What are the", "Categories", "Description");
- ``long``: more than ``MAX_NAME_WORDS`` words or ``MAX_NAME_CHARS`` characters (a sentence, not a name);
- ``repeat``: the same name as an earlier one (ignoring case, punctuation and plurals), or a near-duplicate of it
  (Jaccard similarity of their character 3-grams >= ``NEAR_DUPLICATE``).

The answer fails when it has no name, or when more than ``BAD_SHARE`` (half) of its names break a rule. A passing
answer's names that echo the prompt, come from the instructions or ask a question are dropped by the caller.

Algorithm floor: strings in, a :class:`ProposalCheck` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from labelwise.generate.taxonomy_categories import MAX_NAME_WORDS, name_key

ECHO_WORDS = 3
MAX_NAME_CHARS = 60
NEAR_DUPLICATE = 0.8
BAD_SHARE = 0.5
RULES = ("echo", "question", "instructions", "long", "repeat")
#: the rules whose names are dropped from an answer that passes (long names are shortened, repeats merged)
DROPPED = ("echo", "instructions", "question")

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> list:
    return _WORD.findall(str(text).casefold())


#: Words that name nothing on their own. Deliberately short: scikit-learn's stop-word list holds words such as
#: "top", "bill" and "call", which are good category names.
FUNCTION_WORDS = frozenset("""a an the and or nor but if then than so of for to in on at by with from as into about
over under between per is are was were be been being am do does did doing have has had can could will would shall
should may might must what which who whom whose when where why how this that these those it its i you he she we they
me my your our their his her them us there here not no yes all any each every some such one ones other others too
very also just only""".split())


def _trigrams(text: str) -> set:
    padded = f"  {name_key(text)} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


@dataclass
class ProposalCheck:
    """The verdict on one answer: ``ok`` (the model followed the prompt), ``broken``: {rule: names that break it}
    (a name appears under its first rule only), ``n_names``, and ``reason``: why it failed, one line ("" if ok)."""

    ok: bool
    n_names: int
    broken: dict = field(default_factory=dict)
    reason: str = ""

    def dropped(self) -> set:
        """The names a passing answer should lose (echoes, words of the instructions, questions)."""
        return {name for rule in DROPPED for name in self.broken.get(rule, [])}


def name_problem(name: str, instructions_words: Sequence[str], text_vocabulary: set, earlier: Sequence[str]) -> str:
    """The first rule of :data:`RULES` that ``name`` breaks, or ``""``. ``instructions_words``: the instructions as a
    word list; ``text_vocabulary``: the texts' words; ``earlier``: the names before this one."""
    words = _words(name)
    span = min(len(words), ECHO_WORDS)
    if span >= 2:
        runs = {tuple(instructions_words[i:i + span]) for i in range(len(instructions_words) - span + 1)}
        if any(run in runs and not set(run) <= FUNCTION_WORDS
               for run in (tuple(words[i:i + span]) for i in range(len(words) - span + 1))):
            return "echo"
    if str(name).strip().endswith("?"):
        return "question"
    content = [w for w in words if w not in FUNCTION_WORDS]
    if not content or (set(content) <= set(instructions_words) and not set(content) & text_vocabulary):
        return "instructions"
    if len(str(name).split()) > MAX_NAME_WORDS or len(str(name).strip()) > MAX_NAME_CHARS:
        return "long"
    grams = _trigrams(name)
    for other in earlier:
        if name_key(name) == name_key(other):
            return "repeat"
        theirs = _trigrams(other)
        if grams and len(grams & theirs) / len(grams | theirs) >= NEAR_DUPLICATE:
            return "repeat"
    return ""


def check_proposal(names: Sequence[str], instructions: str, texts: Sequence[str] = ()) -> ProposalCheck:
    """Judge the category ``names`` (as written, in order) of one answer about ``texts`` to a prompt whose
    ``instructions`` are the prompt's fixed words (no texts, no current taxonomy, no use case: words the user chose
    may be good names). See the module's rules."""
    names = [str(n) for n in names if str(n).strip()]
    if not names:
        return ProposalCheck(False, 0, {}, "the answer holds no category")
    instruction_words = _words(instructions)
    text_vocabulary = {w for t in texts for w in _words(t)}
    broken: dict = {}
    for i, name in enumerate(names):
        rule = name_problem(name, instruction_words, text_vocabulary, names[:i])
        if rule:
            broken.setdefault(rule, []).append(name)
    bad = sum(len(v) for v in broken.values())
    if bad <= BAD_SHARE * len(names):
        return ProposalCheck(True, len(names), broken)
    what = {"echo": "echo the prompt", "instructions": "words of the instructions", "question": "questions",
            "long": "sentences", "repeat": "repeats"}
    parts = ", ".join(f"{len(broken[r])} {what[r]}" for r in RULES if r in broken)
    example = next(iter(broken.values()))[0]
    return ProposalCheck(False, len(names), broken, f"{bad} of its {len(names)} names are not categories: {parts}; "
                                                    f"e.g. {example[:40]!r}")
