"""Benchmark: ``labelwise.audit.token_classification`` against cleanlab 2.9's ``token_classification``.

    python bench/token_classification_audit.py [--sentences 5000] [--classes 9] [--repeats 3] [--seed 0]

Data: synthetic sentences of 1..30 tokens (mean ~15), K classes, pred_probs Dirichlet-peaked at the true class and
10% of the given labels flipped (``noisy_tokens`` below). Every function runs on the same inputs ``--repeats``
times, best time; both sides single-process (``n_jobs=1``: the comparison is of the code, not of process pools).
cleanlab's token scores are ``pandas.Series`` and its table a ``DataFrame``; labelwise returns arrays and a dict of
columns (the algorithm floor), compared value for value. Prints per function: labelwise seconds, cleanlab seconds, the ratio cleanlab / labelwise, and whether the results
are identical (scores: equal to 1e-10).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import timeit

import numpy as np


def noisy_tokens(seed: int, n_sentences: int, k: int, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 31, n_sentences)
    truth = rng.integers(0, k, lengths.sum())
    alpha = np.full((truth.size, k), 0.3)
    alpha[np.arange(truth.size), truth] += rng.uniform(1, 8, truth.size)
    gamma = rng.gamma(alpha)
    probs = gamma / gamma.sum(axis=1, keepdims=True)
    given = np.where(rng.random(truth.size) < noise, rng.integers(0, k, truth.size), truth)
    cuts = np.cumsum(lengths)[:-1]
    words = np.array([f"w{v}" for v in range(500)])[rng.integers(0, 500, truth.size)]
    return ([g.tolist() for g in np.split(given, cuts)], np.split(probs, cuts),
            [w.tolist() for w in np.split(words, cuts)])


def quiet(fn, *args, **kwargs):
    """cleanlab's summary prints a note on class names; keep the table readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def best(fn, repeats: int):
    """(best of ``repeats`` timed calls, the result)."""
    return min(timeit.repeat(fn, number=1, repeat=repeats)), fn()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import pandas as pd
    from cleanlab.token_classification import filter as cl_filter
    from cleanlab.token_classification import rank as cl_rank
    from cleanlab.token_classification import summary as cl_summary

    from labelwise.audit.token_classification import filter as lw_filter
    from labelwise.audit.token_classification import rank as lw_rank
    from labelwise.audit.token_classification import summary as lw_summary

    labels, pred_probs, words = noisy_tokens(args.seed, args.sentences, args.classes)
    n_tokens = sum(map(len, labels))
    print(f"{args.sentences} sentences, {n_tokens} tokens, K={args.classes}, best of {args.repeats}")
    print(f"{'function':<44}{'labelwise s':>12}{'cleanlab s':>12}{'ratio':>8}  same")

    def row(name, ours, theirs, same):
        t_ours, r_ours = best(ours, args.repeats)
        t_theirs, r_theirs = best(theirs, args.repeats)
        print(f"{name:<44}{t_ours:>12.4f}{t_theirs:>12.4f}{t_theirs / t_ours:>8.1f}  {same(r_ours, r_theirs)}")
        return r_theirs

    issues = row("filter.find_label_issues",
                 lambda: lw_filter.find_label_issues(labels, pred_probs, n_jobs=1),
                 lambda: cl_filter.find_label_issues(labels, pred_probs, n_jobs=1),
                 lambda a, b: a == [tuple(map(int, p)) for p in b])

    def same_scores(a, b):
        return bool(np.allclose(a[0], b[0], rtol=1e-10)
                    and all(np.allclose(x, y, rtol=1e-10) for x, y in zip(a[1], b[1])))

    for method, kw in (("min", {}), ("softmin", {"temperature": 0.05})):
        scores = row(f"rank.get_label_quality_scores({method})",
                     lambda: lw_rank.get_label_quality_scores(labels, pred_probs, sentence_score_method=method,
                                                              sentence_score_kwargs=kw),
                     lambda: cl_rank.get_label_quality_scores(labels, pred_probs, sentence_score_method=method,
                                                              sentence_score_kwargs=kw),
                     same_scores)
    row("rank.issues_from_scores(token_scores)",
        lambda: lw_rank.issues_from_scores(scores[0], token_scores=scores[1], threshold=0.3),
        lambda: cl_rank.issues_from_scores(scores[0], token_scores=scores[1], threshold=0.3),
        lambda a, b: a == b)
    row("summary.common_label_issues",
        lambda: lw_summary.common_label_issues(issues, words, labels=labels, pred_probs=pred_probs),
        lambda: quiet(cl_summary.common_label_issues, issues, words, labels=labels, pred_probs=pred_probs,
                      verbose=False, top=0),
        lambda a, b: pd.DataFrame(a).astype(b.dtypes.to_dict()).equals(b))


if __name__ == "__main__":
    main()
