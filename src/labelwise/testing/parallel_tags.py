"""A synthetic parallel tagging corpus with known gold target tags: the check of FILTER (paper 17,
:mod:`labelwise.learn.fusion_encoder`).

The source "language": ``vocab_size`` token ids in three roles: trigger words (``triggers_per_type`` per entity
type), name words shared by every type, and filler words. A sentence of ``min_len..max_len`` tokens holds one or
two entities, each a trigger (tag ``O``) followed by 1-3 name words (``B-type``, ``I-type``): the type is read from
the trigger, so tagging needs context. Some fillers are name words outside an entity (``O``, decoys).

The target "language" is its translation: a bijective lexicon map (target id = ``vocab_size + perm[source id]``),
then reordering (each pair of adjacent 2-token chunks that cuts no entity swaps with ``p_swap``; one entity's name
words move to the end of the sentence with ``p_move``), then insertions (a particle, one of ``n_particles`` target
words with no source word, after a token with ``p_insert``, never inside an entity). Entities stay contiguous and
in order, so the gold target tags are the aligned source tags (``O`` on particles). The projected target tags are
copied by position from the source (``O`` past its end), so they are wrong wherever the order changed: the noisy
labels a translate-train pipeline would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.data.spans import tags_to_spans
from labelwise.errors import ParameterError, ShapeError

__all__ = ["ParallelTags", "bio_span_f1", "parallel_tags"]

TYPES = ("PER", "LOC", "ORG", "MISC")


@dataclass
class ParallelTags:
    """``n`` sentence pairs; every field a list of ``n`` int arrays. ``source_ids[i]: (S_i,)``, ``source_tags[i]:
    (S_i,)`` (gold), ``target_ids[i]: (T_i,)``, ``projected_tags[i]: (T_i,)`` (copied by position: noisy),
    ``gold_target_tags[i]: (T_i,)``, ``alignment[i]: (T_i,)`` (the source position of each target token, -1 for a
    particle). Tag ids index ``tag_names`` (``["O", "B-PER", "I-PER", ...]``)."""

    source_ids: list[np.ndarray]
    source_tags: list[np.ndarray]
    target_ids: list[np.ndarray]
    projected_tags: list[np.ndarray]
    gold_target_tags: list[np.ndarray]
    alignment: list[np.ndarray]
    tag_names: list[str]

    def __len__(self) -> int:
        return len(self.source_ids)

    @property
    def noise_rate(self) -> float:
        """Share of target tokens whose projected tag is not the gold one."""
        p, g = np.concatenate(self.projected_tags), np.concatenate(self.gold_target_tags)
        return float((p != g).mean())

    def __repr__(self) -> str:
        return f"ParallelTags(n={len(self)}, tags={len(self.tag_names)}, noise_rate={self.noise_rate:.3f})"


def _language(vocab_size: int, n_types: int, triggers_per_type: int, n_names: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(triggers (n_types, triggers_per_type), names, fillers, lexicon perm (vocab_size,)) for a language seed."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(vocab_size)
    n_trig = n_types * triggers_per_type
    triggers = ids[:n_trig].reshape(n_types, triggers_per_type)
    names, fillers = ids[n_trig:n_trig + n_names], ids[n_trig + n_names:]
    return triggers, names, fillers, rng.permutation(vocab_size)


def _source_sentence(rng: np.random.Generator, length: int, triggers: np.ndarray, names: np.ndarray,
                     fillers: np.ndarray, p_decoy: float) -> tuple[np.ndarray, np.ndarray]:
    """One source sentence ``(ids (S,), tags (S,))`` with one or two entities (trigger + 1-3 names)."""
    n_types = triggers.shape[0]
    entities = []
    for _ in range(int(rng.integers(1, 3))):
        typ, n = int(rng.integers(n_types)), int(rng.integers(1, 4))
        ent_ids = [int(rng.choice(triggers[typ]))] + [int(x) for x in rng.choice(names, n)]
        entities.append((ent_ids, [0, 1 + 2 * typ] + [2 + 2 * typ] * (n - 1)))
    n_fill = max(length - sum(len(e[0]) for e in entities), 0)
    # an entity starts at a random filler gap; no two entities touch (a filler between them when there is one)
    slots = np.sort(rng.choice(n_fill + 1, len(entities), replace=n_fill + 1 < len(entities)))
    ids: list[int] = []
    tags: list[int] = []
    e = 0
    for g in range(n_fill + 1):
        while e < len(entities) and slots[e] == g:
            ids += entities[e][0]
            tags += entities[e][1]
            e += 1
        if g < n_fill:
            after_entity = bool(tags) and tags[-1] != 0
            decoy = not after_entity and rng.random() < p_decoy
            ids.append(int(rng.choice(names if decoy else fillers)))
            tags.append(0)
    return np.array(ids, dtype=np.int64), np.array(tags, dtype=np.int64)


def _entity_runs(tags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each B/I run (B starts a run) in BIO ids (odd = B, even > 0 = I)."""
    runs, start = [], None
    for i, t in enumerate(tags.tolist() + [0]):
        if start is not None and (t == 0 or t % 2 == 1):
            runs.append((start, i))
            start = None
        if t % 2 == 1:
            start = i
    return runs


def _translate_order(rng: np.random.Generator, tags: np.ndarray, p_swap: float, p_move: float, p_insert: float
                     ) -> np.ndarray:
    """The source position of each target token (-1: a particle) after swaps, an entity move and insertions."""
    n = len(tags)
    runs = _entity_runs(tags)
    inside = np.zeros(n + 1, dtype=bool)  # inside[b]: boundary b (between tokens b-1 and b) cuts an entity
    for a, b in runs:
        inside[a + 1:b] = True
    order = list(range(n))
    for j in range(0, n - 3, 4):
        if not inside[[j, j + 2, j + 4]].any() and rng.random() < p_swap:
            order[j:j + 4] = order[j + 2:j + 4] + order[j:j + 2]
    if runs and rng.random() < p_move:
        a, b = runs[int(rng.integers(len(runs)))]
        moved = [s for s in order if a <= s < b]
        order = [s for s in order if not a <= s < b] + moved
    out: list[int] = []
    for k, s in enumerate(order):
        out.append(s)
        nxt = order[k + 1] if k + 1 < len(order) else None
        in_entity = nxt is not None and tags[nxt] != 0 and tags[nxt] % 2 == 0 and s == nxt - 1
        if not in_entity and rng.random() < p_insert:
            out.append(-1)
    return np.array(out, dtype=np.int64)


def parallel_tags(n: int, *, vocab_size: int = 300, n_types: int = 4, min_len: int = 8, max_len: int = 14,
                  triggers_per_type: int = 5, n_names: int = 100, p_decoy: float = 0.15, p_swap: float = 0.5,
                  p_move: float = 0.3, p_insert: float = 0.05, n_particles: int = 20, projection: str = "position",
                  p_miss: float = 0.4, language_seed: int = 0, random_state: int = 0) -> ParallelTags:
    """``n`` sentence pairs of the synthetic language pair (module docstring). The notes' sizes are the defaults
    (300 source words, 4 types, 8-14 tokens); ``language_seed`` fixes the language (roles of the words and the
    lexicon), ``random_state`` the sentences, so a train and a test split share ``language_seed`` and differ in
    ``random_state``. Target ids lie in ``[vocab_size, 2 * vocab_size + n_particles)``.

    ``projection``: ``"position"`` (the notes: every projected tag copied by position, a deterministic function of
    the pair) or ``"aligner"`` (a word aligner that errs at random: each target token's projected tag is the
    position-copied one with probability ``p_miss``, else the gold one)."""
    if projection not in ("position", "aligner"):
        raise ParameterError(f"projection must be 'position' or 'aligner', got {projection!r}.")
    if n_types > len(TYPES):
        raise ParameterError(f"n_types must be at most {len(TYPES)}, got {n_types}.")
    triggers, names, fillers, perm = _language(vocab_size, n_types, triggers_per_type, n_names, language_seed)
    rng = np.random.default_rng(random_state)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("src", "stag", "tgt", "proj", "gold", "align")}
    for _ in range(n):
        src, stag = _source_sentence(rng, int(rng.integers(min_len, max_len + 1)), triggers, names, fillers,
                                     p_decoy)
        align = _translate_order(rng, stag, p_swap, p_move, p_insert)
        particles = 2 * vocab_size + rng.integers(0, n_particles, len(align))
        tgt = np.where(align >= 0, vocab_size + perm[src[np.maximum(align, 0)]], particles)
        gold = np.where(align >= 0, stag[np.maximum(align, 0)], 0)
        proj = np.zeros(len(tgt), dtype=np.int64)
        m = min(len(src), len(tgt))
        proj[:m] = stag[:m]
        if projection == "aligner":
            proj = np.where(rng.random(len(proj)) < p_miss, proj, gold)
        for k, v in zip(("src", "stag", "tgt", "proj", "gold", "align"), (src, stag, tgt, proj, gold, align)):
            out[k].append(v.astype(np.int64))
    tag_names = ["O"] + [f"{p}-{t}" for t in TYPES[:n_types] for p in ("B", "I")]
    return ParallelTags(out["src"], out["stag"], out["tgt"], out["proj"], out["gold"], out["align"], tag_names)


def bio_span_f1(predicted: list[np.ndarray], gold: list[np.ndarray], tag_names: list[str]) -> dict[str, float]:
    """Exact-span micro precision, recall and F1 (the conlleval convention: a span counts when its type and both
    ends match) between BIO tag-id sequences ``predicted[i], gold[i]: (T_i,)``; spans decoded with
    :func:`labelwise.data.spans.tags_to_spans` (its lenient repair of ``I-`` without ``B-``)."""
    if len(predicted) != len(gold):
        raise ShapeError(f"bio_span_f1: {len(predicted)} predicted sequences but {len(gold)} gold ones; give one "
                         "prediction per sentence.")
    from labelwise.generate.projection_baselines import span_f1

    predicted_spans, gold_spans = [], []
    for i, (p, g) in enumerate(zip(predicted, gold)):
        if len(p) != len(g):
            raise ShapeError(f"bio_span_f1: sentence {i} has {len(p)} predicted tags and {len(g)} gold ones; give "
                             "one tag per token.")
        offsets = [(k, k + 1) for k in range(len(g))]
        predicted_spans.append(tags_to_spans([tag_names[t] for t in p], offsets))
        gold_spans.append(tags_to_spans([tag_names[t] for t in g], offsets))
    scores = span_f1(predicted_spans, gold_spans)  # one span F1 for the whole package
    return {key: scores[key] for key in ("precision", "recall", "f1")}
