"""Streaming confident learning: the mergeable counts, and the same flags from memory, a memmap, .npy and Parquet.

Truths: the in-memory path (itself checked against cleanlab 2.9 in test_label_errors.py, and here again on the
tie-heavy synthetic data) and exact rational arithmetic for the thresholds.
"""

from __future__ import annotations

import pickle
import warnings
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelwise.audit import label_errors as le
from labelwise.audit.confident_counts import JointCounts, ThresholdCounts
from labelwise.errors import DataError, LabelwiseError, ParameterError, ShapeError
from labelwise.scale.chunks import open_probabilities, widen_half
from tests.conftest import shared_dataset



def _tied(n=400, k=6, seed=0, dtype=np.float32):
    """Probabilities on a coarse grid (many exact ties, within rows and across rows), a class of one row and a
    class of two, and 20% of labels flipped."""
    rng = np.random.default_rng(seed)
    true = rng.choice(k, size=n, p=[0.3, 0.3, 0.2, 0.17, 0.02, 0.01])
    raw = rng.integers(0, 4, (n, k)).astype(np.float64)
    raw[np.arange(n), true] += rng.integers(2, 8, n)
    probs = raw / raw.sum(axis=1, keepdims=True)
    given = true.copy()
    flip = rng.random(n) < 0.2
    given[flip] = rng.integers(0, k - 2, flip.sum())
    given[np.flatnonzero(given == 5)[1:]] = 0  # class 5: one row
    given[np.flatnonzero(given == 4)[2:]] = 1  # class 4: two rows
    if not (given == 5).any():
        given[0] = 5
    return given, probs.astype(dtype)


def _to_parquet(probs: np.ndarray, path, row_group_size=None) -> str:
    k = probs.shape[1]
    column = pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel()), k)
    pq.write_table(pa.table({"id": np.arange(probs.shape[0]), "pred_probs": column}), path,
                   row_group_size=row_group_size)
    return str(path)


def _flags(labels, probs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return le.find_label_issues(labels, probs, **kwargs)


def _every_setting():
    for filter_by in le.FILTERS:
        yield dict(filter_by=filter_by)
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "both", "low_normalized_margin_calibrated"):
        yield dict(filter_by=filter_by, frac_noise=0.5)
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        yield dict(filter_by=filter_by, min_examples_per_class=3)


# --------------------------------------------------------------------------------------------------------------
# the states


def test_thresholds_are_the_correctly_rounded_exact_mean():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 5000)
    values = rng.random(5000) ** 8  # many exponents, so float64 running sums would round
    values[:7] = [0.0, 1.0, 5e-324, 1e-300, 0.1, 0.2, 0.3]
    probs = np.zeros((5000, 3))
    probs[np.arange(5000), labels] = values
    counts = ThresholdCounts(3).update(labels, probs)
    for c in range(3):
        exact = sum((Fraction(float(v)) for v in values[labels == c]), Fraction(0)) / int((labels == c).sum())
        assert counts.thresholds[c] == max(float(exact), 2e-6)


def test_threshold_counts_merge_in_any_order_bit_identically():
    labels, probs = _tied(900, seed=2, dtype=np.float64)
    probs = probs ** 1.7  # off the grid: sums that depend on the order in float64
    whole = ThresholdCounts(6).update(labels, probs).thresholds
    bounds = [0, 1, 8, 100, 101, 450, 899, 900]
    parts = [ThresholdCounts(6).update(labels[a:b], probs[a:b]) for a, b in zip(bounds, bounds[1:])]
    rng = np.random.default_rng(0)
    for _ in range(5):
        order = rng.permutation(len(parts))
        shuffled = [pickle.loads(pickle.dumps(parts[i])) for i in order]
        while len(shuffled) > 1:  # a random merge tree
            i = rng.integers(0, len(shuffled) - 1)
            shuffled[i : i + 2] = [shuffled[i].merge(shuffled[i + 1])]
        assert shuffled[0].thresholds.tobytes() == whole.tobytes()
        assert shuffled[0].n_rows == 900
        np.testing.assert_array_equal(shuffled[0].label_counts, np.bincount(labels, minlength=6))
    np.testing.assert_array_equal(whole, le.confident_thresholds(labels, probs))


def test_joint_counts_merge_in_any_order_and_match_the_in_memory_functions():
    labels, probs = _tied(700, seed=3)
    thresholds = ThresholdCounts(6).update(labels, probs).thresholds
    bounds = [0, 7, 8, 300, 650, 700]
    parts = [JointCounts(thresholds).update(labels[a:b], probs[a:b]) for a, b in zip(bounds, bounds[1:])]
    merged = pickle.loads(pickle.dumps(parts[3]))
    for i in (1, 4, 0, 2):
        merged.merge(parts[i])
    np.testing.assert_array_equal(merged.confident_joint, le.compute_confident_joint(labels, probs, calibrate=False))
    np.testing.assert_array_equal(merged.calibrated_joint(), le.compute_confident_joint(labels, probs))
    assert merged.num_label_issues() == le.num_label_issues(labels, probs)
    assert merged.num_label_issues("off_diagonal_calibrated") == le.num_label_issues(
        labels, probs, method="off_diagonal_calibrated")
    np.testing.assert_array_equal(merged.noise_estimate().noise_matrix, le.estimate_noise(labels, probs).noise_matrix)
    with pytest.raises(ShapeError, match="thresholds"):
        merged.merge(JointCounts(thresholds + 0.01))


# --------------------------------------------------------------------------------------------------------------
# the same flags wherever the data lives and however it is chunked


def test_tied_synthetic_data_every_filter_every_source_every_chunking(tmp_path):
    labels, probs = _tied()
    npy = tmp_path / "probs.npy"
    np.save(npy, probs)
    parquet = _to_parquet(probs, tmp_path / "probs.parquet", row_group_size=37)
    half = np.save(tmp_path / "half.npy", probs.astype(np.float16)) or tmp_path / "half.npy"
    for setting in _every_setting():
        expected = _flags(labels, probs, **setting)
        for source, chunk_rows in [(npy, 1), (str(npy), 7), (np.load(npy, mmap_mode="r"), 400), (parquet, 7),
                                   (parquet, 1000), (pq.read_table(parquet), 13)]:
            got = _flags(labels, source, chunk_rows=chunk_rows, **setting)
            np.testing.assert_array_equal(got, expected, err_msg=f"{setting} {type(source)} {chunk_rows}")
        in_memory_half = _flags(labels, probs.astype(np.float16), **setting)
        np.testing.assert_array_equal(_flags(labels, half, chunk_rows=13, **setting), in_memory_half,
                                      err_msg=f"float16 {setting}")


def test_scores_counts_and_noise_stream_identically(tmp_path):
    labels, probs = _tied(500, seed=7)
    npy = tmp_path / "p.npy"
    np.save(npy, probs)
    for method in le.SCORES:
        np.testing.assert_array_equal(le.label_quality_scores(labels, npy, method=method, chunk_rows=7),
                                      le.label_quality_scores(labels, probs, method=method), err_msg=method)
    for method in ("off_diagonal", "off_diagonal_calibrated"):
        assert le.num_label_issues(labels, npy, method=method, chunk_rows=3) == le.num_label_issues(
            labels, probs, method=method)
    np.testing.assert_array_equal(le.compute_confident_joint(labels, npy, chunk_rows=11),
                                  le.compute_confident_joint(labels, probs))
    assert le.estimate_noise(labels, npy, chunk_rows=1).error_rate == le.estimate_noise(labels, probs).error_rate
    mask = _flags(labels, probs)
    np.testing.assert_array_equal(le.rank_label_issues(mask, labels, npy), le.rank_label_issues(mask, labels, probs))


def test_prune_by_noise_rate_fallback_cells_stream_identically(tmp_path, monkeypatch):
    """A cell asking for more rows than have a positive margin is solved among all rows of its class: made
    to happen here by asking for whole classes, and checked against the same call on one chunk."""
    labels, probs = _tied(400, seed=9)
    np.save(tmp_path / "p.npy", probs)
    joint = le.compute_confident_joint(labels, probs)
    inflated = joint.copy()
    inflated[0, 1] += 40  # more rows to prune from class 0 into class 1 than class 0 has positive margins for
    inflated[0, 0] -= 40
    calls = []
    original = le._TopPerCell.__init__
    monkeypatch.setattr(le._TopPerCell, "__init__", lambda self, need: calls.append(need) or original(self, need))
    flags = {}
    for filter_by in ("prune_by_noise_rate", "both"):
        flags[filter_by] = _flags(labels, probs, filter_by=filter_by, confident_joint=inflated)
        got = _flags(labels, tmp_path / "p.npy", filter_by=filter_by, confident_joint=inflated, chunk_rows=9)
        np.testing.assert_array_equal(got, flags[filter_by], err_msg=filter_by)
    assert len(calls) == 8  # every call needed the fallback (a second top set)
    # cell (given 0, true 1) by hand: the rows labelled 0 with the largest P[i, 1] - P[i, 0], ties to the lower
    # row, less those whose argmax is their label
    rows_0 = np.flatnonzero(labels == 0)
    need = min(le.prune_counts(inflated)[1, 0], rows_0.size)
    top = rows_0[np.lexsort((rows_0, -(probs[rows_0, 1] - probs[rows_0, 0])))[:need]]
    top = top[~le._row_stats(labels, probs).predicted_is_given[top]]
    assert top.size and flags["prune_by_noise_rate"][top].all()


@pytest.mark.shared
@pytest.mark.parametrize("name", ["20news", "imdb", "cifar10", "mnist"])
def test_published_sets_stream_to_the_same_flags(name, tmp_path):
    """The four test sets of "Pervasive Label Errors", every filter, from an .npy memmap and from Parquet, in
    odd-sized chunks: the in-memory flags (which equal cleanlab 2.9's, see test_label_errors.py)."""
    probs = np.load(shared_dataset("label-errors", f"{name}_test_set_pyx.npy")).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.load(shared_dataset("label-errors", f"{name}_test_set_original_labels.npy")).astype(np.int64)
    np.save(tmp_path / "p.npy", probs)
    parquet = _to_parquet(probs, tmp_path / "p.parquet", row_group_size=1000)
    for filter_by in le.FILTERS:
        expected = _flags(labels, probs, filter_by=filter_by)
        np.testing.assert_array_equal(_flags(labels, tmp_path / "p.npy", filter_by=filter_by, chunk_rows=997),
                                      expected, err_msg=f"npy {filter_by}")
        np.testing.assert_array_equal(_flags(labels, parquet, filter_by=filter_by, chunk_rows=2503), expected,
                                      err_msg=f"parquet {filter_by}")
    head = 300  # the smallest chunks on a subset
    for filter_by in le.FILTERS:
        np.testing.assert_array_equal(
            _flags(labels[:head], np.load(tmp_path / "p.npy", mmap_mode="r")[:head], filter_by=filter_by,
                   chunk_rows=1), _flags(labels[:head], probs[:head], filter_by=filter_by), err_msg=filter_by)


# --------------------------------------------------------------------------------------------------------------
# the chunk source


def test_parquet_as_k_numeric_columns_and_list_columns(tmp_path):
    labels, probs = _tied(300, seed=11)
    pq.write_table(pa.table({f"p{j}": probs[:, j] for j in range(6)}), tmp_path / "cols.parquet")
    lists = pa.array([list(map(float, row)) for row in probs], type=pa.list_(pa.float32()))
    pq.write_table(pa.table({"scores": lists, "note": ["x"] * 300}), tmp_path / "lists.parquet")
    source = open_probabilities(str(tmp_path / "cols.parquet"))
    assert source.shape == (300, 6) and source.dtype == np.float32
    expected = _flags(labels, probs)
    np.testing.assert_array_equal(_flags(labels, str(tmp_path / "cols.parquet"), chunk_rows=50), expected)
    np.testing.assert_array_equal(_flags(labels, str(tmp_path / "lists.parquet"), chunk_rows=64), expected)
    directory = tmp_path / "dir"
    directory.mkdir()
    _to_parquet(probs[:100], directory / "a.parquet")
    _to_parquet(probs[100:], directory / "b.parquet")
    np.testing.assert_array_equal(_flags(labels, str(directory), chunk_rows=33), expected)
    chunks = list(open_probabilities(str(directory)).iter_chunks(33))
    assert [start for start, _ in chunks] == list(range(0, 300, 33))
    np.testing.assert_array_equal(np.concatenate([block for _, block in chunks]), probs)


def test_inputs_that_cannot_be_streamed_say_what_to_do(tmp_path):
    labels, probs = _tied(100, seed=13)
    with pytest.raises(DataError, match="does not exist"):
        le.find_label_issues(labels, str(tmp_path / "missing.npy"))
    np.save(tmp_path / "flat.npy", probs.ravel())
    with pytest.raises(ShapeError, match="2-D"):
        le.find_label_issues(labels, tmp_path / "flat.npy")
    bad = probs.copy()
    bad[57, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ShapeError, match="rows 56..63.*NaN"):
        le.find_label_issues(labels, tmp_path / "nan.npy", chunk_rows=8)
    np.save(tmp_path / "ok.npy", probs)
    with pytest.raises(ShapeError, match=r"labels must have shape \(100,\)"):
        le.find_label_issues(labels[:-1], tmp_path / "ok.npy")
    with pytest.raises(ParameterError, match="in-memory array"):
        le.find_label_issues(np.zeros((100, 6)), tmp_path / "ok.npy", multi_label=True)
    with pytest.raises(ParameterError, match="chunk_rows"):
        le.find_label_issues(labels, tmp_path / "ok.npy", chunk_rows=0)
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="Parquet"):
        le.find_label_issues(labels, str(tmp_path / "junk.parquet"))
    two = pa.table({"a": pa.array([[0.5, 0.5]] * 100), "b": pa.array([[0.5, 0.5]] * 100)})
    with pytest.raises(DataError, match="columns="):
        le.find_label_issues(labels % 2, two)
    with pytest.raises(ShapeError, match="not numeric"):
        le.find_label_issues(labels % 2, pa.table({"a": [0.5] * 100, "b": ["x"] * 100}))
    for error in (DataError, ShapeError, ParameterError):
        assert issubclass(error, LabelwiseError)


def test_float16_is_widened_exactly():
    every_half = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    finite = every_half[:0x7C00].reshape(-1, 2)  # +0.0 .. 65504, subnormals included: the fast path
    np.testing.assert_array_equal(widen_half(finite), finite.astype(np.float32))
    mixed = every_half.reshape(-1, 4)  # negatives, infinities and NaNs take numpy's conversion
    np.testing.assert_array_equal(widen_half(mixed), mixed.astype(np.float32))
