"""Derive the human-validated label errors of four published test sets from the paper's repository.

    python bench/label_errors_truth.py [--repo /work/.mirror/cleanlab+label-errors/repo] [--commit HEAD]
                                       [--out bench/data/label_errors_truth.json]

Source: github.com/cleanlab/label-errors (Northcutt, Athalye, Mueller, "Pervasive Label Errors in Test Sets
Destabilize Machine Learning Benchmarks", NeurIPS 2021 Datasets & Benchmarks), Apache-2.0 (its LICENSE, added in
commit 6d5d6b3); read from a local git clone with ``git show``, nothing else is downloaded.

Each file ``mturk/<set>_mturk.json`` lists the candidates the authors sent to Mechanical Turk (the examples
confident learning flagged, cleanlab 1.0), each shown to 5 workers with the given label and the guessed one; the
``mturk`` object counts the workers' answers (``given``, ``guessed``, ``neither``, ``both`` for images and 20news;
``given``, ``guessed``, ``neutral``, ``off-topic`` for IMDB). The paper's definition: a candidate is a validated
label error when a majority (at least 3 of 5) did not choose the given label, i.e. ``given < 3`` (a ``both`` vote
does not agree with the given label alone: the paper counts majority-"both" candidates as *multi-label* errors).
This reproduces the paper's counts: 15 (MNIST), 54 (CIFAR-10), 82 (20news), 725 (IMDB).
(A few MNIST candidates were answered twice, 10 votes; none of those is an error under either reading.)

IMDB ids are file names (``test/neg/10003_3``); ``dataset_indexing/imdb_test_set_index_to_filename.json`` maps the
row index to them. Writes, per set, the row indices (into the published ``*_pyx.npy``/``*_original_labels.npy``)
of the candidates that were validated (``reviewed``) and of those confirmed as errors (``errors``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

SETS = {"20news": "20news", "imdb": "imdb", "cifar10": "cifar10", "mnist": "mnist"}
DEFAULT_REPO = "/work/.mirror/cleanlab+label-errors/repo"


def git_show(repo: str, commit: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", repo, "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def derive(repo: str, commit: str) -> dict:
    sha = subprocess.run(["git", "--git-dir", repo, "rev-parse", commit], check=True, capture_output=True,
                         text=True).stdout.strip()
    licence = " ".join(git_show(repo, sha, "LICENSE").decode().split()[:3])  # "Apache License Version"
    out = {
        "source": "https://github.com/cleanlab/label-errors (mturk/*_mturk.json, "
                  "dataset_indexing/imdb_test_set_index_to_filename.json)",
        "commit": sha,
        "licence": f"{licence} 2.0 (the repository's LICENSE): these derived index lists may be redistributed with "
                   "attribution",
        "paper": "Northcutt, Athalye, Mueller, Pervasive Label Errors in Test Sets Destabilize Machine Learning "
                 "Benchmarks, NeurIPS 2021 Datasets & Benchmarks",
        "definition": "a reviewed candidate is an error when fewer than 3 of its 5 Mechanical Turk workers chose the "
                      "given label (mturk.given < 3)",
        "derived_by": "bench/label_errors_truth.py",
        "sets": {},
    }
    imdb_names = json.loads(git_show(repo, sha, "dataset_indexing/imdb_test_set_index_to_filename.json"))
    imdb_index = {"test/" + name.removesuffix(".txt"): i for i, name in enumerate(imdb_names)}
    for name, stem in SETS.items():
        items = json.loads(git_show(repo, sha, f"mturk/{stem}_mturk.json"))
        ids = [imdb_index[item["id"]] if name == "imdb" else int(item["id"]) for item in items]
        reviewed = sorted(ids)
        errors = sorted(i for i, item in zip(ids, items) if item["mturk"]["given"] < 3)
        out["sets"][name] = {"reviewed": reviewed, "errors": errors}
        print(f"{name:8s} reviewed {len(reviewed):5d}  confirmed errors {len(errors):4d}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=DEFAULT_REPO, help="git directory of a clone of cleanlab/label-errors")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "data" / "label_errors_truth.json"))
    args = parser.parse_args()
    truth = derive(args.repo, args.commit)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(truth, indent=1)
    out.write_text(re.sub(r"\[\s+([\d,\s]+?)\s+\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
