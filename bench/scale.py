"""Benchmark: labelwise past one machine's memory (issue 15). One CLI, one part per question:

    python bench/scale.py --part streaming [--rows 5000000] [--classes 345] [--dir /tmp]
    python bench/scale.py --part ray|audit|cost [ARGS...]  # runs bench/scale_ray.py / scale_audit.py / scale_cost.py
    python bench/scale.py --part all                   # every part whose script exists

Part ``streaming``: confident learning over probabilities on disk, labelwise vs cleanlab 2.9's
``cleanlab.experimental.label_issues_batched.find_label_issues_batched`` in the same run.

1. Writes ``rows x classes`` float16 probabilities with ``np.lib.format.open_memmap`` in a fresh temporary
   directory (5M x 345 is 3.45 GB; deleted at the end), in chunks, seeded: each row has a true class (uniform),
   logits ``N(0, 1) * s + 5 * onehot(true)`` with a per-row noise scale ``s`` drawn from [0.3, 1.5] (confident and
   unsure rows), softmax; then 10% of the given labels flipped uniformly to another class. Labels go to an
   ``.npy`` file beside it.
2. Reads the file once (untimed), so every measurement below starts from the same warm page cache.
3. Runs each measurement in a fresh Python subprocess, timing the work inside it and reporting the process's
   peak resident memory (``VmHWM`` of /proc/self/status, which counts the pages of a memory-mapped file that the
   process has mapped; ``ru_maxrss`` would carry over the parent's peak through fork) and its peak anonymous memory (``RssAnon`` sampled every 20 ms: what the process itself allocated):
   - ``read floor``: one sequential read of the whole file (``readinto`` a 64 MB buffer, a checksum of each
     buffer so every byte is used), the least any method must do;
   - labelwise ``find_label_issues(labels, "probs.npy", filter_by=...)`` for ``low_self_confidence`` (what
     cleanlab's batched function computes), ``low_normalized_margin_calibrated`` (the audit's default) and
     ``prune_by_noise_rate`` (cleanlab's default filter);
   - cleanlab ``find_label_issues_batched(labels=..., pred_probs=np.load(path, mmap_mode="r"),
     batch_size=..., n_jobs=1, return_mask=True)`` as its docstring recommends (its default scores and count:
     ``low_self_confidence`` with ``self_confidence``; batch size as large as memory allows: the same ~64 MB of
     float32 per batch labelwise uses, and its default 10,000 rows).
4. Prints a table (time, time / read floor, peak RSS, peak anonymous memory, Jaccard of the flagged rows with
   cleanlab's, speed-up over cleanlab) and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OTHER_PARTS = {"ray": HERE / "scale_ray.py", "audit": HERE / "scale_audit.py", "cost": HERE / "scale_cost.py"}
READ_BYTES = 64 << 20
LABELWISE_FILTERS = ("low_self_confidence", "low_normalized_margin_calibrated", "prune_by_noise_rate")


# --------------------------------------------------------------------------------------------------------------
# the data


def write_data(directory: Path, n: int, k: int, noise: float = 0.1, seed: int = 0, chunk: int = 100_000):
    """probs.npy (n, k) float16 and labels.npy (n,) int64 in ``directory``; returns the flipped rows' mask."""
    rng = np.random.default_rng(seed)
    probs = np.lib.format.open_memmap(directory / "probs.npy", mode="w+", dtype=np.float16, shape=(n, k))
    labels = np.empty(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        true = rng.integers(0, k, m)
        logits = rng.standard_normal((m, k), dtype=np.float32)
        logits *= rng.uniform(0.3, 1.5, (m, 1)).astype(np.float32)
        logits[np.arange(m), true] += 5.0
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        probs[start : start + m] = logits
        given = true.copy()
        flip = rng.random(m) < noise
        given[flip] = (true[flip] + rng.integers(1, k, flip.sum())) % k
        labels[start : start + m] = given
        flipped[start : start + m] = flip
    probs.flush()
    del probs
    np.save(directory / "labels.npy", labels)
    return flipped


def read_file(path: Path) -> int:
    """One sequential read of every byte (64 MB at a time); returns a checksum so nothing is skipped."""
    buffer = bytearray(READ_BYTES)
    view = memoryview(buffer)
    words = np.frombuffer(buffer, dtype=np.uint64)
    total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            got = f.readinto(view)
            if not got:
                break
            total += int(np.bitwise_xor.reduce(words[: got // 8]))
    return total


# --------------------------------------------------------------------------------------------------------------
# one measurement, in a fresh process


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmHWM: peak resident memory of this process image, reset by exec,
    unlike ru_maxrss which a child inherits from the process it was forked from)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_anon(stop: threading.Event, out: list) -> None:
    peak = 0
    while not stop.is_set():
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            break
        stop.wait(0.02)
    out.append(peak)


def child(method: str, directory: Path, batch_size: int) -> None:
    """Run one method, print one JSON line: seconds, peak RSS and anonymous memory (bytes); save the flags."""
    import warnings

    warnings.simplefilter("ignore")
    stop, anon = threading.Event(), []
    sampler = threading.Thread(target=_peak_anon, args=(stop, anon), daemon=True)
    probs_path, labels_path = directory / "probs.npy", directory / "labels.npy"
    if method.startswith("cleanlab"):
        from cleanlab.experimental.label_issues_batched import find_label_issues_batched
    else:
        from labelwise.audit.label_errors import find_label_issues
    sampler.start()
    t0 = time.perf_counter()
    if method == "read floor":
        read_file(probs_path)
        mask = None
    elif method.startswith("cleanlab"):
        labels = np.load(labels_path)
        mask = find_label_issues_batched(labels=labels, pred_probs=np.load(probs_path, mmap_mode="r"),
                                         batch_size=batch_size, n_jobs=1, verbose=False, return_mask=True)
    else:
        labels = np.load(labels_path)
        mask = find_label_issues(labels, str(probs_path), filter_by=method.split(" ", 1)[1])
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if mask is not None:
        np.save(directory / f"flags {method}.npy", np.flatnonzero(mask))
    peak_rss = _status("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss, "peak_anon": anon[0] if anon else None}))


def measure(method: str, directory: Path, batch_size: int = 0) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--child", method, "--dir", str(directory),
                          "--batch-size", str(batch_size)], capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"{method} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    a, b = set(a.tolist()), set(b.tolist())
    return len(a & b) / max(1, len(a | b))


# --------------------------------------------------------------------------------------------------------------
# the parts


def streaming(args) -> dict:
    n, k = args.rows, args.classes
    need = n * k * 2 + n * 8
    free = shutil.disk_usage(args.dir).free
    if free < 1.5 * need:
        raise SystemExit(f"{args.dir} has {free / 1e9:.1f} GB free; the data needs {need / 1e9:.2f} GB. "
                         "Pass --dir elsewhere or fewer --rows.")
    directory = Path(tempfile.mkdtemp(prefix="labelwise-scale-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        flipped = write_data(directory, n, k)
        size = (directory / "probs.npy").stat().st_size
        print(f"{n:,} x {k} float16 probabilities: {size / 1e9:.2f} GB written in {time.perf_counter() - t0:.0f} s "
              f"({flipped.mean():.1%} labels flipped); warming the page cache with one read")
        read_file(directory / "probs.npy")
        from labelwise.scale.chunks import default_chunk_rows

        batch = default_chunk_rows(k, 4)  # ~64 MB of float32 per batch, as labelwise's chunks
        runs = [("read floor", 0)]
        runs += [(f"labelwise {f}", 0) for f in LABELWISE_FILTERS]
        runs += [(f"cleanlab batched (batch_size={batch})", batch), ("cleanlab batched (batch_size=10000)", 10_000)]
        results = {}
        for method, batch_size in runs:
            results[method] = measure(method, directory, batch_size)
            print(f"  {method}: {results[method]['seconds']:.1f} s", flush=True)
        floor = results["read floor"]["seconds"]
        reference_name = f"cleanlab batched (batch_size={batch})"
        reference = np.load(directory / f"flags {reference_name}.npy")
        flipped_rows = np.flatnonzero(flipped)
        for method, r in results.items():
            r["time_over_floor"] = r["seconds"] / floor
            if method != "read floor":
                flags = np.load(directory / f"flags {method}.npy")
                r["flagged"] = int(flags.size)
                r["jaccard_vs_cleanlab"] = jaccard(flags, reference)
                r["precision_vs_flips"] = float(np.isin(flags, flipped_rows).mean()) if flags.size else 0.0
                r["recall_vs_flips"] = float(np.isin(flipped_rows, flags).mean())
                r["speedup_vs_cleanlab"] = results[reference_name]["seconds"] / r["seconds"]
        header = (f"{'method':50s} {'time s':>7s} {'/floor':>7s} {'peak RSS':>9s} {'anon':>8s} {'flagged':>9s} "
                  f"{'Jaccard*':>8s} {'vs CL':>6s} {'prec':>5s} {'recall':>6s}")
        print(f"\nn={n:,} k={k}, float16 .npy {size / 1e9:.2f} GB, warm page cache, "
              f"{os.cpu_count()} CPUs (shared); * Jaccard with {reference_name}")
        print(header)
        for method, r in results.items():
            extra = ("" if method == "read floor" else
                     f" {r['flagged']:9,d} {r['jaccard_vs_cleanlab']:8.4f} {r['speedup_vs_cleanlab']:5.2f}x "
                     f"{r['precision_vs_flips']:5.3f} {r['recall_vs_flips']:6.3f}")
            print(f"{method:50s} {r['seconds']:7.1f} {r['time_over_floor']:6.2f}x {r['peak_rss'] / 2**20:7.0f}MB "
                  f"{r['peak_anon'] / 2**20:6.0f}MB{extra}")
        return {"rows": n, "classes": k, "file_bytes": size, "cpus": os.cpu_count(), "results": results}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def other_part(name: str, extra: list) -> None:
    script = OTHER_PARTS[name]
    if not script.exists():
        print(f"part {name}: {script.relative_to(REPO)} is not there yet; skipped")
        return
    subprocess.run([sys.executable, str(script), *extra], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("streaming", "ray", "audit", "cost", "all"), default="streaming")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--classes", type=int, default=345)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the temporary data goes")
    parser.add_argument("--json", default="bench/results/scale_streaming.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=0, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.child:
        return child(args.child, Path(args.dir), args.batch_size)
    if args.part in ("streaming", "all"):
        report = streaming(args)
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=2))
        tmp.replace(out)
        print(f"wrote {out}")
    for name in ("ray", "audit"):
        if args.part in (name, "all"):
            other_part(name, extra)


if __name__ == "__main__":
    main()
