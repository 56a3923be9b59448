"""Benchmark: span projection onto a translation, every projector on the hand-written EN->ES/FR/DE fixture.

    python bench/span_projection.py [--repeats 3] [--no-codec] [--model GGUF | --server URL --server-model NAME]
                                    [--mode exact|fast] [--n-threads 1] [--limit N] [--json PATH]

Data: ``tests/fixtures/projection_pairs.jsonl``: 40 hand-written sentence pairs (14 ES, 13 FR, 13 DE), 95 gold
spans on both sides, 51 of them changed in form by the translation (Germany -> Alemania, London -> Londres,
United Kingdom -> des Vereinigten Königreichs, Monday -> lunes), the rest names and brands that stay as they are.

Arms (all Projectors ``(source_text, spans, target_text) -> list[Optional[Span]]``, run on the same rows):

* ``exact``, ``fuzzy``, ``embedding``: ``labelwise.generate.projection_baselines`` at their defaults (thresholds set
  on principle, not tuned here); the embedding arm's MiniLM is loaded and warmed before timing and has no cache;
* ``codec``: Codec (seed paper 7), ``labelwise.generate.projection.project_spans`` bound to the sequence scorer of
  ``labelwise.llm.sequence_scorer`` over the packaged Gemma 3 270M (or ``--model``, or ``--server``). When that code
  is not importable (or the model is missing) the bench says "Codec arm unavailable: <reason>" and runs the
  baselines.

Prints exact-span precision / recall / F1 overall, F1 on changed-form and on unchanged spans and per target language,
and each arm's wall time for one pass over the fixture (median of ``--repeats`` timings, each averaged over as many
passes as fill 0.25 s; Codec: one pass) and its ratio to ``exact``'s.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import time
from pathlib import Path
from typing import Callable, Optional

from labelwise.data.spans import Span
from labelwise.generate.projection_baselines import project_embedding, project_exact, project_fuzzy, span_f1

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "projection_pairs.jsonl"
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German"}


def load_pairs(path: Path = FIXTURE, limit: Optional[int] = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r["source_spans"] = [Span(*s) for s in r["source_spans"]]
        r["target_spans"] = [Span(*s) for s in r["target_spans"]]
    return rows[:limit] if limit else rows


def _accepted(function: Callable, options: dict) -> dict:
    """The ``options`` that ``function`` takes by name (and that are set)."""
    params = inspect.signature(function).parameters
    return {k: v for k, v in options.items() if k in params and v is not None}


def codec_projector(args: argparse.Namespace) -> tuple[Optional[Callable], str]:
    """(projector of a fixture row, "") for the Codec arm, or (None, the reason it is unavailable).

    Written against the issue-19 interfaces: ``project_spans(source_text, spans, target_text, scorer, *, mode,
    n_best)``, the scorer made by ``labelwise.llm.sequence_scorer.open_scorer(model, server=, server_model=, threads=,
    source_lang=, target_lang=)`` (the in-process llama.cpp model: the packaged Gemma 3 270M or ``--model``; or an
    OpenAI-compatible server). The languages (English, Spanish, ...) also go to ``project_spans`` if it takes them.
    One scorer is made per language pair (its translation prompt names both) and kept.
    """
    try:
        from labelwise.generate.projection import project_spans
        from labelwise.llm import sequence_scorer
    except Exception as err:  # the module is missing or broken: say so and run the baselines
        return None, f"{type(err).__name__}: {err}"
    make = getattr(sequence_scorer, "open_scorer", None)
    if make is None:
        names = [n for n in dir(sequence_scorer) if not n.startswith("_")]
        return None, f"no open_scorer in labelwise.llm.sequence_scorer (it has: {', '.join(names)})"
    scorers: dict = {}

    def languages(row: dict) -> dict:
        return {"source_lang": LANGUAGE_NAMES[row["source_lang"]], "target_lang": LANGUAGE_NAMES[row["target_lang"]]}

    def scorer_for(row: dict):
        key = (row["source_lang"], row["target_lang"])
        if key not in scorers:
            options = {"model": args.model, "server": args.server, "server_model": args.server_model,
                       "threads": args.n_threads, **languages(row)}
            scorers[key] = make(**_accepted(make, options))
        return scorers[key]

    def project(row: dict) -> list[Optional[Span]]:
        options = _accepted(project_spans, {"mode": args.mode, **languages(row)})
        return project_spans(row["source"], row["source_spans"], row["target"], scorer_for(row), **options)

    try:
        scorer_for({"source_lang": "en", "target_lang": "es"})
    except Exception as err:  # llama-cpp-python or the GGUF missing, or the scorer's options differ
        return None, f"{type(err).__name__}: {err}"
    return project, ""


def run_arm(project: Callable[[dict], list], rows: list[dict], repeats: int,
            min_seconds: float = 0.25) -> tuple[list[list], float]:
    """Predictions of every row and the seconds of one pass over all rows: the median of ``repeats`` timings,
    each the mean of as many passes as fill ``min_seconds`` (a fast arm's pass takes well under a millisecond)."""
    times = []
    for _ in range(repeats):
        passes, start = 0, time.perf_counter()
        while True:
            predicted = [project(r) for r in rows]
            passes += 1
            if time.perf_counter() - start >= min_seconds:
                break
        times.append((time.perf_counter() - start) / passes)
    return predicted, statistics.median(times)


def scores(rows: list[dict], predicted: list[list]) -> dict:
    """F1 overall, on changed-form and unchanged spans, and per target language."""
    def subset(keep_row, keep_span) -> dict:
        pred, gold = [], []
        for r, p in zip(rows, predicted):
            if keep_row(r):
                idx = [j for j, changed in enumerate(r["changed_form"]) if keep_span(changed)]
                pred.append([p[j] for j in idx])
                gold.append([r["target_spans"][j] for j in idx])
        return span_f1(pred, gold)

    out = {"all": subset(lambda r: True, lambda c: True),
           "changed": subset(lambda r: True, lambda c: c),
           "unchanged": subset(lambda r: True, lambda c: not c)}
    for lang in sorted({r["target_lang"] for r in rows}):
        out[lang] = subset(lambda r, lang=lang: r["target_lang"] == lang, lambda c: True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each baseline (median shown)")
    parser.add_argument("--no-codec", action="store_true", help="baselines only")
    parser.add_argument("--model", default=None, help="GGUF for the Codec arm (default: packaged Gemma 3 270M)")
    parser.add_argument("--server", default=None, help="OpenAI-compatible server URL for the Codec arm")
    parser.add_argument("--server-model", default=None, help="the model name on --server")
    parser.add_argument("--mode", default="exact", choices=["exact", "fast"], help="Codec's search mode")
    parser.add_argument("--n-threads", type=int, default=1, help="llama.cpp threads for the Codec arm")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs only (a quick look)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    rows = load_pairs(limit=args.limit)

    from labelwise.features.text import TextEncoder

    encoder = TextEncoder(cache_dir=False, n_threads=1)
    encoder.encode(["warm-up"])  # the model load is not projection time
    arms: dict[str, Callable[[dict], list]] = {
        "exact": lambda r: project_exact(r["source"], r["source_spans"], r["target"]),
        "fuzzy": lambda r: project_fuzzy(r["source"], r["source_spans"], r["target"]),
        "embedding": lambda r: project_embedding(r["source"], r["source_spans"], r["target"], encoder=encoder),
    }
    timing = {name: (args.repeats, 0.25) for name in arms}  # (repeats, min_seconds)
    if not args.no_codec:
        project, reason = codec_projector(args)
        if project is None:
            print(f"Codec arm unavailable: {reason}")
        else:
            arms[f"codec ({args.mode})"], timing[f"codec ({args.mode})"] = project, (1, 0.0)

    n_spans = sum(len(r["source_spans"]) for r in rows)
    n_changed = sum(sum(r["changed_form"]) for r in rows)
    print(f"{len(rows)} pairs, {n_spans} spans ({n_changed} changed form); exact-span P / R / F1 and F1 per subset")
    langs = sorted({r["target_lang"] for r in rows})
    header = f"{'arm':<14}{'P':>6}{'R':>6}{'F1':>6}{'changed':>9}{'unchanged':>10}" + "".join(
        f"{lang:>6}" for lang in langs) + f"{'ms/pair':>9}{'x exact':>9}"
    print(header)
    results, base_time = {}, None
    for name, project in arms.items():
        predicted, seconds = run_arm(project, rows, *timing[name])
        result = scores(rows, predicted)
        base_time = seconds if base_time is None else base_time
        results[name] = {**result, "seconds": seconds, "time_ratio": seconds / base_time}
        a = result["all"]
        print(f"{name:<14}{a['precision']:>6.2f}{a['recall']:>6.2f}{a['f1']:>6.2f}{result['changed']['f1']:>9.2f}"
              f"{result['unchanged']['f1']:>10.2f}" + "".join(f"{result[lang]['f1']:>6.2f}" for lang in langs)
              + f"{1000 * seconds / len(rows):>9.2f}{seconds / base_time:>9.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
