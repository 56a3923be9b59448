"""The out-of-core audit (labelwise.audit.out_of_core) against the in-memory audit on the same rows.

Known truths: with the same probabilities the flags, scores and per-class tables equal the in-memory audit's; with
exact search the duplicates and outliers equal the in-memory algorithms' on the same vectors; a table read as one
Parquet file, as a folder of Parquet files or as a Latin-1 semicolon CSV gives one audit; a run killed with SIGKILL
and rerun gives the audit of an uninterrupted run without embedding the finished rows again; on Banking77 with
injected noise, the minibatch model finds the noise about as well as the in-memory model.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.out_of_core import audit_out_of_core
from labelwise.audit.result import AuditResult
from labelwise.errors import DataError, ParameterError
from labelwise.features.hashing import HashingTextEncoder
from tests.conftest import REPO, shared_dataset

LIMIT = "380MB"  # the smallest budget: batches of 4,885 rows, shards of 19,542 rows at 256 dimensions


def _banking77_rows(n_rows: int, noise: float = 0.08, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """n_rows texts from Banking77 (train and test, then copies with one word dropped) with ``noise`` of the labels
    moved to another class; returns (frame with columns text, category; flipped (n,) bool)."""
    frames = [pd.read_csv(shared_dataset("banking77", name)) for name in ("train.csv", "test.csv")]
    base = pd.concat(frames, ignore_index=True)
    rng = np.random.default_rng(seed)
    rows = [base]
    while sum(map(len, rows)) < n_rows:
        copy = base.copy()
        words = copy["text"].str.split()
        drop = rng.integers(0, 1 << 30, len(copy))
        copy["text"] = [" ".join(w[:i % len(w)] + w[i % len(w) + 1:]) or t for w, i, t in
                        zip(words, drop, copy["text"])]
        rows.append(copy)
    frame = pd.concat(rows, ignore_index=True).iloc[:n_rows].reset_index(drop=True)
    classes = np.array(sorted(frame["category"].unique()))
    flipped = rng.random(n_rows) < noise
    shift = rng.integers(1, len(classes), flipped.sum())
    codes = np.searchsorted(classes, frame["category"].to_numpy())
    codes[flipped] = (codes[flipped] + shift) % len(classes)
    frame["category"] = classes[codes]
    return frame, flipped


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """20,000 Banking77 rows as one Parquet file, a folder of three, and a Latin-1 ';' CSV; out-of-fold
    probabilities from a hashing-encoder logistic regression (the file both audits are given)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    folder = tmp_path_factory.mktemp("ooc")
    frame, flipped = _banking77_rows(20_000)
    frame.loc[3, "text"] = "Café crème: où est ma carte ?"  # Latin-1 characters
    frame.to_parquet(folder / "table.parquet", index=False)
    (folder / "parts").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / "parts" / f"part-{i}.parquet", index=False)
    frame.to_csv(folder / "table.csv", sep=";", encoding="latin-1", errors="replace", index=False)  # € -> ?
    X = HashingTextEncoder(256).encode(frame["text"].tolist())
    codes = np.searchsorted(np.array(sorted(frame["category"].unique())), frame["category"])
    probs = cross_val_predict(LogisticRegression(C=1.0, max_iter=300), X, codes, cv=3, method="predict_proba")
    np.save(folder / "probs.npy", probs)
    return folder, frame, flipped, X


def _ooc(data, out, **options):
    options.setdefault("memory_limit", LIMIT)
    options.setdefault("encoder", "hashing")
    return audit_out_of_core(str(data), label="category", text=["text"], out=out, **options)


@pytest.mark.shared
@pytest.mark.slow
def test_same_probabilities_give_the_in_memory_audit_exactly(table, tmp_path):
    from labelwise import audit_dataset

    folder, frame, _, X = table
    ooc = _ooc(folder / "parts", tmp_path / "ooc", pred_probs=folder / "probs.npy", exact=True)
    mem = audit_dataset(str(folder / "table.parquet"), label="category", text="text", encoder="hashing",
                        pred_probs=str(folder / "probs.npy"), checks=["balance"])
    assert ooc.settings["batch_rows"] < 5_000 and ooc.settings["shard_rows"] < len(frame)  # 5 batches, 2 shards
    np.testing.assert_array_equal(ooc.is_issue, mem.is_issue)
    np.testing.assert_array_equal(ooc.label_quality, mem.label_quality)
    np.testing.assert_array_equal(ooc.suggested, mem.suggested)
    pd.testing.assert_frame_equal(ooc.per_class(), mem.per_class())
    assert ooc.checks.balance.summary.imbalance_ratio == mem.checks.balance.summary.imbalance_ratio

    # duplicates and outliers: the in-memory algorithms on the same vectors with exact search
    from labelwise.audit.checks.duplicates import _normalised_text
    from labelwise.audit.duplicates import find_near_duplicates
    from labelwise.audit.outliers import outlier_scores
    from labelwise.neighbours import knn

    neighbours = knn(X, 10, exact=True)
    dup = find_near_duplicates(X, exact_keys=_normalised_text(frame["text"].tolist()), neighbours=neighbours)
    np.testing.assert_array_equal(ooc.checks.duplicates.pairs, dup.pairs)
    np.testing.assert_array_equal(ooc.checks.duplicates.duplicate_group, dup.group)
    assert dup.n_duplicate_rows > 1000  # the copies with a word dropped and Banking77's own repeats
    out = outlier_scores(X, neighbours=neighbours)
    np.testing.assert_allclose(ooc.checks.outliers.outlier_distance, out.knn_distance, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ooc.checks.outliers.is_outlier_issue, out.is_outlier)

    # the folder is the audit folder AuditResult.load reads, one row per input row in issues.parquet
    loaded = AuditResult.load(tmp_path / "ooc")
    np.testing.assert_array_equal(loaded.is_issue, mem.is_issue)
    issues = pd.read_parquet(tmp_path / "ooc" / "issues.parquet")
    assert issues["row"].tolist() == list(range(len(frame)))
    assert issues["text"].tolist() == frame["text"].tolist()
    assert issues["is_label_issue"].to_numpy().tolist() == mem.is_issue.tolist()
    assert not (tmp_path / "ooc" / ".work").exists()


@pytest.mark.shared
@pytest.mark.slow
def test_parquet_file_folder_and_latin1_csv_give_one_audit(table, tmp_path):
    folder, frame, _, _ = table
    runs = {name: _ooc(folder / path, tmp_path / name, pred_probs=folder / "probs.npy", checks=["balance"],
                       **options)
            for name, path, options in (("file", "table.parquet", {}), ("parts", "parts", {}),
                                        ("csv", "table.csv", {"encoding": "latin-1", "sep": ";"}))}
    for name in ("parts", "csv"):
        np.testing.assert_array_equal(runs[name].is_issue, runs["file"].is_issue)
        assert runs[name].classes == runs["file"].classes
    texts = pd.read_parquet(tmp_path / "csv" / "issues.parquet")["text"]
    assert texts[3] == "Café crème: où est ma carte ?"


@pytest.mark.shared
@pytest.mark.slow
def test_minibatch_model_finds_the_noise_as_the_in_memory_model_does(tmp_path):
    """Banking77's training split, 8% of labels moved: precision and recall of the flags against the moved rows, the
    out-of-core minibatch model against the in-memory audit with scikit-learn's logistic regression (the same
    objective, C=1), both on hashing features with 3 folds."""
    from sklearn.linear_model import LogisticRegression

    from labelwise import audit_dataset

    frame, flipped = _banking77_rows(10_003)
    frame = frame.iloc[:10_003]
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    found = {
        "minibatch": _ooc(tmp_path / "train.parquet", tmp_path / "ooc", model="minibatch", n_folds=3,
                          checks=["balance"]).is_issue,
        "in_memory": audit_dataset(str(tmp_path / "train.parquet"), label="category", text="text", encoder="hashing",
                                   classifier=LogisticRegression(C=1.0, max_iter=1000), n_folds=3,
                                   checks=["balance"]).is_issue,
    }
    scores = {model: (flipped[f].mean(), f[flipped].mean()) for model, f in found.items()}
    (precision_mb, recall_mb), (precision_lr, recall_lr) = scores["minibatch"], scores["in_memory"]
    assert abs(precision_mb - precision_lr) < 0.05 and abs(recall_mb - recall_lr) < 0.05, scores
    assert recall_mb > 0.6, scores


def _small_table(folder, rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = np.array("card transfer refund cash limit pin fee account top up exchange rate atm".split())
    labels = rng.integers(0, 3, rows)
    text = [" ".join(rng.choice(words[l * 4:l * 4 + 4], 4)) + f" {i}" for i, l in enumerate(labels)]
    frame = pd.DataFrame({"text": text, "category": np.array(["a", "b", "c"])[labels]})
    frame.to_parquet(folder / "small.parquet", index=False)
    return frame


def test_bad_inputs_stop_with_one_line(tmp_path):
    frame = _small_table(tmp_path)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        piece = frame.iloc[i * 1000:(i + 1) * 1000]
        (piece.rename(columns={"category": "label"}) if i == 2 else piece).to_parquet(parts / f"{i}.parquet")
    with pytest.raises(DataError, match=r"There is no label column 'category' in .*2\.parquet.*'label'") as err:
        _ooc(parts, tmp_path / "out")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder without .parquet files"):
        _ooc(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(ParameterError, match="tfidf .* use --encoder minilm .* or hashing"):
        _ooc(tmp_path / "small.parquet", tmp_path / "out", encoder="tfidf")
    with pytest.raises(ParameterError, match="--memory-limit takes a size"):
        _ooc(tmp_path / "small.parquet", tmp_path / "out", memory_limit="lots")
    missing = frame.copy()
    missing.loc[[5, 2500], "category"] = None
    missing.to_parquet(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match=r"2 missing labels of 3000.*rows 5, 2500 of .*missing.parquet"):
        _ooc(tmp_path / "missing.parquet", tmp_path / "out")
    dropped = _ooc(tmp_path / "missing.parquet", tmp_path / "dropped", drop_missing=True, checks=["balance"],
                   model="minibatch")
    assert dropped.n_rows == 2998 and dropped.n_input_rows == 3000
    issues = pd.read_parquet(tmp_path / "dropped" / "issues.parquet")
    assert len(issues) == 3000 and issues.loc[[5, 2500], "given_label"].isna().all()


class _Counting:
    """The hashing encoder, counting the rows it embeds (same model_id: a resumed run accepts its rows)."""

    def __init__(self):
        self.inner, self.rows = HashingTextEncoder(256), 0
        self.dim, self.model_id = 256, self.inner.model_id

    def encode(self, texts):
        self.rows += len(texts)
        return self.inner.encode(texts)


_SLOW_RUN = """
import sys, time
from labelwise.audit.out_of_core import audit_out_of_core
from labelwise.features.hashing import HashingTextEncoder

class Slow(HashingTextEncoder):
    def encode(self, texts, progress=None):
        time.sleep(0.3)
        return super().encode(texts)

audit_out_of_core(sys.argv[1], label="category", text=["text"], out=sys.argv[2], encoder=Slow(256),
                  memory_limit="380MB", batch_rows=200, checks=["balance"], model="minibatch")
"""


@pytest.mark.slow
def test_killed_run_resumes_from_the_rows_already_embedded(tmp_path):
    frame = _small_table(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    child = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, str(tmp_path / "small.parquet"), str(out)], env=env)
    marker = out / ".work" / "progress.json"
    done = 0
    deadline = time.monotonic() + 60
    while done < 1000 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
        try:
            done = json.loads(marker.read_text())["done"].get("embedded_rows", 0)
        except (OSError, ValueError):
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    done = json.loads(marker.read_text())["done"]["embedded_rows"]
    assert 1000 <= done < len(frame)
    assert not (out / "issues.parquet").exists()

    counting = _Counting()
    resumed = audit_out_of_core(str(tmp_path / "small.parquet"), label="category", text=["text"], out=out,
                                encoder=counting, memory_limit="380MB", batch_rows=200, checks=["balance"],
                                model="minibatch")
    assert counting.rows == len(frame) - done  # only the rows not embedded before the kill
    fresh = audit_out_of_core(str(tmp_path / "small.parquet"), label="category", text=["text"],
                              out=tmp_path / "fresh", encoder="hashing", memory_limit="380MB", batch_rows=200,
                              checks=["balance"], model="minibatch")
    np.testing.assert_array_equal(np.asarray(resumed.pred_probs), np.asarray(fresh.pred_probs))
    np.testing.assert_array_equal(resumed.is_issue, fresh.is_issue)


_PEAK_RUN = """
import sys
from labelwise.audit.out_of_core import audit_out_of_core
from labelwise.features.hashing import HashingTextEncoder

audit_out_of_core(sys.argv[1], label="category", text=["text"], out=sys.argv[2], encoder=HashingTextEncoder(1024),
                  memory_limit="380MB", checks=["balance"], model="auto")
# VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into ru_maxrss across fork and exec
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("peak_rss_bytes", int(hwm) * 1024)
"""


@pytest.mark.slow
def test_peak_memory_stays_under_the_limit_when_the_arrays_do_not_fit(tmp_path):
    """120,000 rows of 1,024-d embeddings are 490 MB on disk, over the 380 MB limit; the child stays under it."""
    rows = 120_000
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    labels = rng.integers(0, 2, rows)
    text = [" ".join(words[rng.integers(0, 1500, 6) + 1500 * l]) for l in labels]
    pd.DataFrame({"text": text, "category": np.array(["x", "y"])[labels]}).to_parquet(tmp_path / "big.parquet")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    run = subprocess.run([sys.executable, "-c", _PEAK_RUN, str(tmp_path / "big.parquet"), str(tmp_path / "out")],
                         env=env, capture_output=True, text=True, check=True)
    peak = int(re.search(r"peak_rss_bytes (\d+)", run.stdout).group(1))
    assert rows * 1024 * 4 > 380 * 2**20
    assert peak < 380 * 2**20, f"peak RSS {peak / 2**20:.0f} MB"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["settings"]["classifier"] == "MinibatchLogisticRegression"
    assert summary["accuracy_of_out_of_fold_model"] > 0.95  # the two classes use disjoint words
