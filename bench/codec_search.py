"""Codec's marker search (seed paper 7): exact branch-and-bound and the fast heuristic against the O(n²) brute force.

    python bench/codec_search.py                 # the ToyScorer on 20 short and 20 longer random pairs (seconds)
    python bench/codec_search.py --gemma         # and Gemma 3 270M on 20 short EN->ES pairs (brute force: minutes)
    python bench/codec_search.py --gemma --pairs 5

For each pair: the brute force scores every (open, close, open id, close id) by teacher forcing; the exact search
(``future_steps=-1``) and the fast one (``future_steps=5``) run on the same scorer, n_best=5, no position pruning.
Printed per arm: scorer calls (model invocations: one per expansion for the search, one per candidate sequence for
the brute force), token positions evaluated (with a one-sequence KV cache: a prefix the previous call evaluated is
not evaluated again), and how often the argmax (and the five best scores) equal the brute force's. For Gemma also
how often the argmax span is the hand-written gold word.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from labelwise.generate.marker_search import brute_force_marker_search, constrained_marker_search  # noqa: E402

GEMMA_PAIRS = [  # (marked English source, Spanish translation, the gold target of the marked span)
    ("[ Germany ] won.", "Alemania ganó.", "Alemania"),
    ("I saw [ Paris ].", "Vi París.", "París"),
    ("[ Maria ] sings.", "María canta.", "María"),
    ("We love [ London ].", "Amamos Londres.", "Londres"),
    ("[ John ] is tall.", "John es alto.", "John"),
    ("She visited [ Spain ].", "Ella visitó España.", "España"),
    ("[ Google ] hired him.", "Google lo contrató.", "Google"),
    ("The [ Pope ] spoke.", "El Papa habló.", "Papa"),
    ("I live in [ Berlin ].", "Vivo en Berlín.", "Berlín"),
    ("[ Peter ] called Anna.", "Pedro llamó a Anna.", "Pedro"),
    ("Peter called [ Anna ].", "Pedro llamó a Anna.", "Anna"),
    ("[ Italy ] is beautiful.", "Italia es hermosa.", "Italia"),
    ("They flew to [ Japan ].", "Volaron a Japón.", "Japón"),
    ("[ The United Nations ] met.", "Las Naciones Unidas se reunieron.", "Las Naciones Unidas"),
    ("[ Egypt ] has pyramids.", "Egipto tiene pirámides.", "Egipto"),
    ("He met [ the king ].", "Conoció al rey.", "rey"),
    ("[ Mexico ] won.", "México ganó.", "México"),
    ("Ana works at [ Microsoft ].", "Ana trabaja en Microsoft.", "Microsoft"),
    ("[ Lisbon ] is sunny.", "Lisboa es soleada.", "Lisboa"),
    ("I read [ the Bible ].", "Leí la Biblia.", "la Biblia"),
]


def toy_pairs(n: int, short: bool):
    """The random pairs of tests/generate/test_marker_search.py: (scorer, marked source, template, no gold)."""
    from labelwise.testing.toy_scorer import random_marker_case

    return [(*random_marker_case(seed, short), None) for seed in range(n)]


def run(pairs, label: str) -> None:
    cost = {arm: [0, 0] for arm in ("brute", "exact", "fast")}
    agree = {"exact": 0, "exact5": 0, "fast": 0}
    gold_hits, lengths = 0, []
    for scorer, marked, target, gold in pairs:
        y = scorer.tokenize(target)
        lengths.append(len(y))
        results = {}
        for arm, search in (("brute", lambda: brute_force_marker_search(scorer, marked, y)),
                            ("exact", lambda: constrained_marker_search(scorer, marked, y, n_best=5)),
                            ("fast", lambda: constrained_marker_search(scorer, marked, y, n_best=5,
                                                                       future_steps=5))):
            calls, tokens = scorer.calls, scorer.tokens
            results[arm] = search()
            cost[arm][0] += scorer.calls - calls
            cost[arm][1] += scorer.tokens - tokens
        best = results["brute"][0]
        key = (best.open, best.close, best.open_id, best.close_id)
        for arm in ("exact", "fast"):
            m = results[arm][0]
            agree[arm] += (m.open, m.close, m.open_id, m.close_id) == key
        agree["exact5"] += np.allclose([m.score for m in results["exact"]],
                                       [m.score for m in results["brute"][:5]], atol=1e-9)
        if gold is not None:
            starts = scorer.char_starts(target, y) + [len(target)]
            found = target[starts[best.open]: starts[best.close]].strip()
            gold_hits += found == gold
            if found != gold:
                print(f"  {marked!r} -> {target!r}: the argmax marks {found!r}, the gold is {gold!r}")
    n = len(pairs)
    print(f"\n{label}: {n} pairs, template length {min(lengths)}-{max(lengths)} tokens (mean {np.mean(lengths):.1f})")
    print(f"{'arm':<8}{'calls':>9}{'tokens':>10}{'calls / brute':>15}{'tokens / brute':>16}{'argmax = brute':>16}")
    for arm in ("brute", "exact", "fast"):
        calls, tokens = cost[arm]
        same = "" if arm == "brute" else f"{agree[arm]}/{n}"
        print(f"{arm:<8}{calls:>9,}{tokens:>10,}{calls / cost['brute'][0]:>15.2f}{tokens / cost['brute'][1]:>16.2f}"
              f"{same:>16}")
    print(f"exact search: the five best scores equal the brute force's in {agree['exact5']}/{n} pairs")
    if any(p[3] is not None for p in pairs):
        print(f"the argmax span is the gold word in {gold_hits}/{n} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemma", action="store_true", help="also run the packaged Gemma 3 270M (minutes)")
    parser.add_argument("--pairs", type=int, default=20, help="Gemma pairs (at most 20)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    run(toy_pairs(20, short=True), "ToyScorer, short pairs")
    run(toy_pairs(20, short=False), "ToyScorer, longer pairs")
    if args.gemma:
        from labelwise.llm.llamacpp import LlamaCppBackend
        from labelwise.llm.sequence_scorer import LlamaCppSequenceScorer

        scorer = LlamaCppSequenceScorer(LlamaCppBackend(n_threads=args.threads, n_ctx=512, use_cache=False))
        run([(scorer, m, t, g) for m, t, g in GEMMA_PAIRS[: args.pairs]], "Gemma 3 270M (llama.cpp), EN->ES")


if __name__ == "__main__":
    main()
