"""How long `make demo` takes a new user: a fresh clone, a new virtual environment, the install, the demo.

    python bench/demo_setup_time.py [--cold] [--rev HEAD]

Clones ``--rev`` of this repository into a temporary folder, runs ``make demo`` there with the first ``python3`` on
PATH and prints the wall time of the whole command and of its two parts (install, demo). By default pip uses its
usual cache (``warm``: the packages were downloaded before, as on a developer's machine or a CI runner with a
cache); ``--cold`` gives pip an empty cache folder, so every package is downloaded from the registry, as on a
brand-new machine. The clone is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="an empty pip cache: download every package")
    parser.add_argument("--rev", default="HEAD")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelwise-demo-") as tmp:
        clone = Path(tmp) / "labelwise"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.rev], check=True)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        if args.cold:
            env["PIP_CACHE_DIR"] = str(Path(tmp) / "pip-cache")
        start = time.perf_counter()
        done = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
            return done.returncode
        # the demo's own time, measured again on the installed environment
        start = time.perf_counter()
        again = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-m", "labelwise.demo", "--out",
                                str(Path(tmp) / "again")], env=env, capture_output=True, text=True, check=True)
        demo = time.perf_counter() - start
        figures = re.search(r"precision [0-9.]+, recall [0-9.]+, F1 [0-9.]+", again.stdout)
        print(f"make demo from a fresh clone ({'cold: empty pip cache' if args.cold else 'warm pip cache'}): "
              f"{total:.0f} s in all; the demo alone {demo:.0f} s, so install about {total - demo:.0f} s")
        print(f"demo result: {figures.group(0) if figures else '(not found in its output)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
