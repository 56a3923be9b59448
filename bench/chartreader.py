"""Benchmark: ChartReader's learned chart derenderer (paper 15) against the column-scan heuristic, the notes'
verification experiment (section 15.4) at CPU scale.

    python bench/chartreader.py [--seeds 0,1,2] [--train 1000] [--test 300] [--epochs 6] [--kind bar|line]
                                [--json bench/results/chartreader.json] [--claim-test]

Data: ``labelwise.testing.charts``, 64 x 64 charts rendered with matplotlib from random tables (3-8 bars, or 4-9
line vertices), pixel noise 0.05. Training: ``--train`` charts of the notes' style mix A (gridlines in the bars' hue
50 %, value-label blobs 30 %, error whiskers 20 %, independently). Test sets (other seeds): ``clean`` (no
decoration), ``styled`` (mix A), ``all3`` (every chart with all three decorations) and ``unseen`` (mix A with
hatched bars, or dashed lines: a style never seen in training).

Arms: ``learned`` (``KeypointDerenderer`` at its defaults, ``--epochs`` epochs); ``scan-top`` (the notes'
heuristic: dominant colour, top-most run per bar column) and ``scan-baseline`` (the run standing on the baseline),
each with its colour tolerance tuned on 200 training charts (the best of 0.1-0.35 by relaxed cell accuracy).
Metrics (``labelwise.generate.charts.relaxed_cell_accuracy``): the share of true cells within 5 % of the axis range
(items matched by position) and the share of charts with the right number of items. Prints mean +- std over seeds
and each seed's figures; writes JSON. ``--claim-test`` runs the claim test's small setting (300 training charts,
8 epochs, 100 styled test charts; tests/learn/test_chart_derenderer.py) over the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TOLERANCES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
ALL3 = {"grid": 1.0, "labels": 1.0, "whiskers": 1.0}


def charts(kind: str, n: int, seed: int, **kw):
    from labelwise.testing.charts import bar_charts, line_charts

    if kind == "bar":
        return bar_charts(n, random_state=seed, **kw)
    if "hatched" in kw:
        kw["dashed"] = kw.pop("hatched")
    return line_charts(n, random_state=seed, **kw)


def score(model, data) -> dict:
    from labelwise.generate.charts import derender_charts, relaxed_cell_accuracy

    s = relaxed_cell_accuracy(derender_charts(data.images, data.axes, model), data.tables, data.axes)
    return {"cell": s["relaxed_cell_accuracy"], "count": s["count_accuracy"]}


def tuned_scan(kind: str, run: str, tune) -> tuple:
    from labelwise.generate.charts import ColumnScanDerenderer

    best = max(TOLERANCES, key=lambda t: score(ColumnScanDerenderer(kind=kind, run=run, color_tol=t), tune)["cell"])
    return ColumnScanDerenderer(kind=kind, run=run, color_tol=best), best


def run_seed(seed: int, args) -> dict:
    from labelwise.learn.chart_derenderer import KeypointDerenderer
    from labelwise.testing.charts import STYLE_A

    t0 = time.perf_counter()
    train = charts(args.kind, args.train, 1000 + seed, styles=STYLE_A)
    tests = {"styled": charts(args.kind, args.test, 3000 + seed, styles=STYLE_A)}
    if not args.claim_test:
        tests = {"clean": charts(args.kind, args.test, 2000 + seed),
                 **tests,
                 "all3": charts(args.kind, args.test, 4000 + seed, styles=ALL3),
                 "unseen": charts(args.kind, args.test, 5000 + seed, styles=STYLE_A, hatched=True)}
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    learned = KeypointDerenderer(epochs=args.epochs, random_state=seed).fit(train.images, train.keypoints)
    fit_s = time.perf_counter() - t0
    tune = train.subset(range(min(200, len(train))))
    arms = {"learned": learned}
    tolerances = {}
    for run in (("top", "baseline") if args.kind == "bar" else ("top",)):
        arms[f"scan-{run}"], tolerances[f"scan-{run}"] = tuned_scan(args.kind, run, tune)
    out = {"render_s": render_s, "fit_s": fit_s, "tolerances": tolerances,
           "loss_curve": [round(x, 4) for x in learned.loss_curve_]}
    for arm, model in arms.items():
        out[arm] = {name: score(model, data) for name, data in tests.items()}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=None, help="default 6 (8 with --claim-test)")
    parser.add_argument("--kind", choices=("bar", "line"), default="bar")
    parser.add_argument("--claim-test", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.claim_test:
        args.train, args.test = 300, 100
    if args.epochs is None:
        args.epochs = 8 if args.claim_test else 6
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for seed in seeds:
        results[seed] = run_seed(seed, args)
        r = results[seed]
        print(f"seed {seed}: render {r['render_s']:.0f} s, fit {r['fit_s']:.0f} s, scan tolerances "
              f"{r['tolerances']}", flush=True)
    first = results[seeds[0]]
    arms = [a for a in first if isinstance(first[a], dict) and "styled" in first[a]]
    sets = list(first[arms[0]])
    print(f"\n{args.kind} charts, train {args.train} (mix A), test {args.test} per set, {args.epochs} epochs, "
          f"seeds {seeds}")
    print("relaxed cell accuracy / count accuracy, mean +- std over seeds")
    print(f"{'arm':<15}" + "".join(f"{s:>26}" for s in sets))
    for arm in arms:
        cells = []
        for s in sets:
            c = np.array([results[k][arm][s]["cell"] for k in seeds])
            n = np.array([results[k][arm][s]["count"] for k in seeds])
            cells.append(f"{c.mean():.3f}+-{c.std():.3f} / {n.mean():.3f}")
        print(f"{arm:<15}" + "".join(f"{x:>26}" for x in cells))
    print("\nper seed (cell accuracy):")
    for k in seeds:
        print(f"  seed {k}: " + "; ".join(f"{arm} " + " ".join(f"{results[k][arm][s]['cell']:.3f}" for s in sets)
                                          for arm in arms))
    payload = {"args": vars(args), "results": {str(k): v for k, v in results.items()}}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return payload


if __name__ == "__main__":
    main()
