"""How long ``import labelwise`` takes, and which heavy packages it loads, for one or more versions of the code.

    python bench/import_time.py [--repeats 7] [--rev b4f3314 --rev .]

Each ``--rev`` is a git revision of this repository (its ``src/`` is exported to a temporary folder) or ``.`` for
the working tree (the default). The versions take turns, each in ``--repeats`` fresh interpreters running
``python -X importtime -c "import labelwise"``; the script prints the median and the range of the cumulative time
Python reports for ``labelwise``, numpy's share of it (if the import loads numpy), and the heavy packages the
import loaded. Absolute times depend on the machine and its load; compare the rows of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "torch", "onnxruntime", "fastapi", "llama_cpp", "ray", "rich")
ROOT = Path(__file__).resolve().parents[1]


def cumulative_us(stderr: str, module: str):
    """The cumulative microseconds ``-X importtime`` reports for ``module``, or None if it was not imported."""
    for line in stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    return None


def source_tree(rev: str, scratch: Path) -> Path:
    if rev == ".":
        return ROOT / "src"
    target = scratch / rev
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rev", action="append", help="git revision, or '.' for the working tree (repeatable)")
    args = parser.parse_args()
    revs = args.rev or ["."]
    code = f"import sys, labelwise; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    with tempfile.TemporaryDirectory() as scratch:
        trees = {rev: source_tree(rev, Path(scratch)) for rev in revs}
        times = {rev: [] for rev in revs}
        numpy = {rev: [] for rev in revs}
        loaded = {rev: set() for rev in revs}
        for _ in range(args.repeats):
            for rev, tree in trees.items():
                env = {**os.environ, "PYTHONPATH": str(tree)}
                run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                                     text=True, check=True, env=env)
                times[rev].append(cumulative_us(run.stderr, "labelwise"))
                numpy[rev].append(cumulative_us(run.stderr, "numpy"))
                loaded[rev].update(run.stdout.split())
    print(f"import labelwise, {args.repeats} fresh interpreters per version (-X importtime, cumulative):")
    for rev in revs:
        t, n = times[rev], [x for x in numpy[rev] if x is not None]
        share = f"numpy {statistics.median(n) / 1e6:.3f} s of it" if n else "numpy not imported"
        print(f"  {rev:>12}: median {statistics.median(t) / 1e6:.3f} s (min {min(t) / 1e6:.3f}, max "
              f"{max(t) / 1e6:.3f}), {share}; heavy packages loaded: {', '.join(sorted(loaded[rev])) or 'none'}")


if __name__ == "__main__":
    main()
