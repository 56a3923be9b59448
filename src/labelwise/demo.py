"""``make demo``: audit a real labelled dataset with known label errors, end to end, as a user would.

The data is scikit-learn's bundled handwritten digits (1,797 8x8 images from the UCI "Optical Recognition of
Handwritten Digits" set; no download). 8% of the labels are flipped at random (seeded), the table is written as
a CSV, ``labelwise audit`` runs on it exactly as on the command line, and the flagged rows are scored against
the flips we know about.

    python -m labelwise.demo --out demo-out
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

NOISE = 0.08
SEED = 0


def write_demo_table(directory: Path) -> tuple[Path, np.ndarray]:
    """Write digits.csv (64 pixel columns + a ``digit`` label with 8% flipped) and flipped_rows.csv."""
    from sklearn.datasets import load_digits

    from labelwise.data import flip_labels, write_table_atomic

    digits = load_digits()
    noisy, flipped = flip_labels(digits.target, NOISE, random_state=SEED)
    table = pd.DataFrame(digits.data.astype(int), columns=[f"pixel_{i:02d}" for i in range(64)])
    table["digit"] = noisy
    path = write_table_atomic(table, directory / "digits.csv")
    truth = pd.DataFrame({"row": np.flatnonzero(flipped), "true_digit": digits.target[flipped], "given": noisy[flipped]})
    write_table_atomic(truth, directory / "flipped_rows.csv")
    return path, flipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-out", help="folder for the demo's table and audit results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from labelwise.cli.main import main as labelwise_cli

    path, flipped = write_demo_table(out)
    print(f"wrote {path}: 1,797 handwritten digits, {flipped.sum()} labels flipped on purpose ({NOISE:.0%})\n")
    command = ["audit", str(path), "--label", "digit", "--out", str(out / "audit"), "--report"]
    print("$ labelwise " + " ".join(command), flush=True)
    status = labelwise_cli(command)
    if status != 0:
        return status

    from labelwise.audit.result import AuditResult

    audited = AuditResult.load(out / "audit")  # the one reader of an audit folder
    flagged = np.zeros(len(flipped), dtype=bool)
    flagged[audited.row_ids] = audited.is_issue
    hits = int((flagged & flipped).sum())
    precision, recall = hits / max(flagged.sum(), 1), hits / flipped.sum()
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    print(
        f"\nAgainst the {flipped.sum()} labels we flipped: labelwise flagged {flagged.sum()} rows, {hits} of them "
        f"flipped: precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}."
    )
    print(f"Open {out / 'audit' / 'report.html'} for the Dataset Nutrition Label, and {out / 'audit' / 'issues.csv'} "
          "(sort by label_quality) to review the worst labels first.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
