"""Unlearning on a table: train a classifier that can later forget rows, save it, and make it forget.

The model file (``model.safetensors``) is a :class:`~labelwise.learn.unlearn.SplitMLP`'s weights in safetensors,
with a JSON config in the file's metadata: the network's shape, the classes, which columns are its inputs and how
they are encoded, the training recipe, and which rows of the training table were held out. Loading runs no code
(no pickle). A user of their own PyTorch model calls :mod:`labelwise.learn.unlearn` directly instead.

- :func:`train_model`: a labelled table -> :class:`TableClassifier` (a held-out share of rows kept aside for the
  accuracy and the membership-inference check); :meth:`TableClassifier.save` / :func:`load_model`.
- :func:`unlearn`: a model, its training table and the rows (or class) to forget -> :class:`UnlearnResult` (the new
  model and the before/after :class:`~labelwise.learn.unlearn.UnlearningReport`).

LAF (paper 19: Shen et al., "Label-Agnostic Forgetting", ICLR 2024) is the default method; the baselines are
:mod:`labelwise.learn.unlearn.baselines`.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.dataset import load_labelled_table
from labelwise.errors import DataError, MissingExtraError, ParameterError
from labelwise.progress import ProgressCallback

__all__ = ["METHODS", "TableClassifier", "UnlearnResult", "load_model", "parse_forget", "train_model", "unlearn"]

FORMAT, VERSION = "labelwise.split_mlp", 1
METHODS = ("laf", "laf+r", "retrain", "finetune", "gradient_ascent", "random_labels", "pseudo_finetune")
ENCODERS = ("minilm", "hashing")


def _torch():
    try:
        import torch  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(exc.name or "torch", "learn", "labelwise unlearning") from exc
    import labelwise.learn.unlearn as unlearn_algorithms

    return unlearn_algorithms


@dataclass
class TableClassifier:
    """A :class:`~labelwise.learn.unlearn.SplitMLP` with what it needs to be applied to a table.

    model: the network (``(n, d_in) -> (n, k)`` logits). classes: ``k`` class names, in output order. label: the
    label column. inputs: ``{"text": [...], "encoder": "minilm" | "hashing", "features": [...], "shift": [...],
    "scale": [...], "embeddings": column or None}``. heldout_rows: the rows of the training table it never trained
    on (0-based data rows). training: the recipe (epochs, lr, batch_size, random_state, n_rows). history: the
    unlearning steps applied to it (method and how many rows; never which rows).
    """

    model: Any
    classes: list
    label: str
    inputs: dict
    heldout_rows: list
    training: dict
    history: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"TableClassifier({len(self.classes)} classes of {self.label!r}, {self.model.d_in} inputs, trained on "
                f"{self.training['n_rows'] - len(self.heldout_rows)} rows; {len(self.history)} unlearning steps)")

    def features(self, table) -> np.ndarray:
        """``(n, d_in) float32`` inputs of a :class:`~labelwise.data.LabelledTable` read with this model's columns."""
        return _table_features(self.inputs, table, self.model.d_in)

    def save(self, path) -> Path:
        """Write the weights and config to ``path`` (safetensors, atomically)."""
        from safetensors.torch import save as save_bytes

        from labelwise.data.atomic import write_bytes_atomic

        meta = {"format": FORMAT, "version": str(VERSION), "config": json.dumps({
            "network": self.model.config(), "classes": [str(c) for c in self.classes], "label": self.label,
            "inputs": self.inputs, "heldout_rows": [int(r) for r in self.heldout_rows], "training": self.training,
            "history": self.history})}
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        return write_bytes_atomic(path, save_bytes(state, metadata=meta))


def load_model(path) -> TableClassifier:
    """A :class:`TableClassifier` from a file :meth:`TableClassifier.save` wrote (no code runs on load)."""
    algorithms = _torch()
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {path} does not exist: train one with labelwise.unlearning.train_model "
                        "or 'labelwise train-classifier'.")
    blob = path.read_bytes()
    try:
        state = load_bytes(blob)  # first: safetensors checks the header before json reads it
        header_len = int.from_bytes(blob[:8], "little")
        meta = json.loads(blob[8:8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        raise DataError(f"{path} is not a labelwise model file (not safetensors); give a file written by "
                        "TableClassifier.save or 'labelwise train-classifier'.") from None
    if meta.get("format") != FORMAT:
        raise DataError(f"{path} is a safetensors file but not a labelwise model (format "
                        f"{meta.get('format')!r}); for your own PyTorch model use labelwise.learn.unlearn.")
    if meta.get("version") != str(VERSION):
        raise DataError(f"{path} has model format version {meta.get('version')}; this labelwise reads {VERSION}.")
    config = _checked_config(meta.get("config"), path)
    import torch

    with torch.device("meta"):  # the shapes the config describes, without allocating them
        expected = {k: tuple(v.shape) for k, v in algorithms.SplitMLP(**config["network"]).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found != expected:
        wrong = sorted(set(found) ^ set(expected)) or [k for k in expected if found[k] != expected[k]]
        raise DataError(f"{path}: the weights do not fit the network its config describes (first at {wrong[0]!r}); "
                        "the file is damaged or was not written by labelwise.")
    model = algorithms.SplitMLP(**config["network"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(f"{path}: the weights do not fit the network its config describes "
                        f"({str(exc).splitlines()[0]})") from None
    model.eval()
    return TableClassifier(model=model, classes=config["classes"], label=config["label"], inputs=config["inputs"],
                           heldout_rows=config["heldout_rows"], training=config["training"],
                           history=config.get("history", []))


def _checked_config(text, path: Path) -> dict:
    """The JSON config of a model file, every field :func:`load_model` and :func:`unlearn` use checked for its type
    and range (a file is user input: damaged or crafted, it must stop with one line, not build a huge network)."""
    try:
        config = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        config = None
    if not isinstance(config, dict):
        raise DataError(f"{path} has no readable model config in its metadata; the file is damaged or was not written "
                        "by labelwise.")

    def ints(values, low: int) -> bool:
        return isinstance(values, list) and all(type(v) is int and v >= low for v in values)

    def strings(values) -> bool:
        return isinstance(values, list) and all(isinstance(v, str) for v in values)

    net, training, inputs = config.get("network"), config.get("training"), config.get("inputs")
    net_ok = (isinstance(net, dict) and set(net) == {"d_in", "n_classes", "encoder_hidden", "head_hidden"}
              and ints([net["d_in"], net["n_classes"]], 1) and ints(net["encoder_hidden"], 1)
              and len(net["encoder_hidden"]) > 0 and ints(net["head_hidden"], 1))
    training_ok = (isinstance(training, dict) and ints([training.get("n_rows"), training.get("epochs"),
                                                        training.get("batch_size")], 1)
                   and type(training.get("lr")) in (int, float) and training["lr"] > 0)
    n_rows = training["n_rows"] if training_ok else 0

    def inputs_ok() -> bool:
        if not isinstance(inputs, dict):
            return False
        text, features, embeddings = inputs.get("text"), inputs.get("features"), inputs.get("embeddings")
        if text and not (strings(text) and inputs.get("encoder") in ENCODERS):
            return False
        if features and not (strings(features) and all(
                isinstance(inputs.get(k), list) and len(inputs[k]) == len(features)
                and all(type(v) in (int, float) and math.isfinite(v) for v in inputs[k]) for k in ("shift", "scale"))
                and 0 not in inputs["scale"]):
            return False
        return isinstance(embeddings or "", str) and bool(text or features or embeddings)

    checks = (("network", net_ok), ("training", training_ok), ("inputs", inputs_ok()),
              ("classes", strings(config.get("classes")) and net_ok and len(config["classes"]) == net["n_classes"]),
              ("label", isinstance(config.get("label"), str)),
              ("heldout_rows", ints(config.get("heldout_rows"), 0) and all(r < n_rows for r in config["heldout_rows"])),
              ("history", isinstance(config.get("history", []), list)))
    bad = next((name for name, ok in checks if not ok), None)
    if bad is not None:
        raise DataError(f"{path}: the {bad!r} field of its model config is missing or invalid; the file is damaged "
                        "or was not written by labelwise.")
    return config


def _table_features(inputs: dict, table, d_in: Optional[int] = None) -> np.ndarray:
    """``(n, d) float32``: the text columns embedded, the numeric features standardised, the embedding column, side by
    side (as ``inputs`` describes); with ``d_in``, ``d`` must equal it."""
    parts = []
    if inputs.get("text"):
        parts.append(np.asarray(_encoder(inputs["encoder"]).encode(table.texts()), dtype=np.float32))
    if inputs.get("features"):
        raw = _numeric(table.frame, inputs["features"], table.source)
        parts.append((raw - np.asarray(inputs["shift"])) / np.asarray(inputs["scale"]))
    if inputs.get("embeddings"):
        parts.append(table.embeddings())
    X = np.concatenate(parts, axis=1).astype(np.float32)
    if d_in is not None and X.shape[1] != d_in:
        raise DataError(f"{table.source} gives {X.shape[1]} input values per row, the model expects {d_in}: give the "
                        "table (and embedding width) it was trained on.")
    return X


def _encoder(name: str):
    if name not in ENCODERS:
        raise ParameterError(f"encoder must be one of {', '.join(ENCODERS)}, got {name!r}.")
    from labelwise.features import HashingTextEncoder, TextEncoder

    return HashingTextEncoder(dim=256) if name == "hashing" else TextEncoder()


def _numeric(frame: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    out = []
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            from labelwise.data.locate import describe_row

            raise DataError(f"feature column {col!r} of {source} needs numbers; {describe_row(source, bad[0])} holds "
                            f"{frame[col].iloc[bad[0]]!r}. Encode or drop that column, or give it as --text.")
        out.append(values.to_numpy(dtype=np.float64))
    return np.stack(out, axis=1)


def _read(data, label: str, inputs: dict, encoding=None, sep=None):
    return load_labelled_table(data, label=label, text=inputs.get("text") or None,
                               features=inputs.get("features") or None, embeddings=inputs.get("embeddings"),
                               multi_label=False, encoding=encoding, sep=sep)


def train_model(data, *, label: str, text: Optional[Sequence[str]] = None, features: Optional[Sequence[str]] = None,
                embeddings: Optional[str] = None, encoder: str = "minilm", test_size: float = 0.2,
                encoder_hidden: Sequence[int] = (256, 64), head_hidden: Sequence[int] = (32,), epochs: int = 60,
                lr: float = 1e-3, batch_size: int = 64, random_state: int = 0, encoding: Optional[str] = None,
                sep: Optional[str] = None, progress: Optional[ProgressCallback] = None) -> TableClassifier:
    """Train a :class:`TableClassifier` on a labelled table (path or DataFrame), holding out a stratified
    ``test_size`` share of the rows (recorded in the model, so that unlearning can measure test accuracy and the
    membership-inference check). Inputs: ``text`` columns (embedded with ``encoder``), numeric ``features``
    (standardised) and/or an ``embeddings`` column; none named: the columns are read as the audit reads them."""
    algorithms = _torch()
    if not 0 < test_size < 1:
        raise ParameterError(f"test_size must be in (0, 1), got {test_size}.")
    table = load_labelled_table(data, label=label, text=list(text) if text else None,
                                features=list(features) if features else None, embeddings=embeddings,
                                multi_label=False, encoding=encoding, sep=sep)
    if table.n_input_rows not in (None, len(table)):
        raise DataError("rows with a missing label cannot be unlearned later by row number; fill or drop them first.")
    y = table.labels.codes
    inputs = {"text": table.text_columns, "encoder": encoder, "features": table.feature_columns,
              "embeddings": table.embedding_column}
    if table.feature_columns:
        raw = _numeric(table.frame, table.feature_columns, table.source)
        inputs["shift"], inputs["scale"] = raw.mean(0).tolist(), np.where(raw.std(0) > 0, raw.std(0), 1.0).tolist()
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(table))
    counts = np.bincount(y)
    n_test = math.ceil(test_size * len(y))  # as train_test_split counts; stratifying needs every class on both sides
    strat = y if counts.min() >= 2 and min(n_test, len(y) - n_test) >= len(counts) else None
    train_rows, held = train_test_split(rows, test_size=test_size, stratify=strat, random_state=random_state)
    clf = TableClassifier(model=None, classes=list(table.labels.classes), label=label, inputs=inputs,
                          heldout_rows=sorted(int(r) for r in held), training={
                              "epochs": epochs, "lr": lr, "batch_size": batch_size, "random_state": random_state,
                              "n_rows": len(table)})
    X = _table_features(inputs, table)
    net = algorithms.SplitMLP(X.shape[1], len(clf.classes), encoder_hidden, head_hidden)
    clf.model = algorithms.fit_classifier(algorithms.reinitialise(net, random_state), X[train_rows], y[train_rows],
                                          epochs=epochs, lr=lr, batch_size=batch_size, random_state=random_state,
                                          progress=progress)
    pred = algorithms.predict_proba(clf.model, X[held]).argmax(1)
    clf.training["heldout_accuracy"] = float((pred == y[held]).mean())
    return clf


def parse_forget(spec: str, classes: Sequence[str], n_rows: int, *, encoding: Optional[str] = None
                 ) -> tuple[Optional[int], Optional[np.ndarray], str]:
    """What ``--forget`` names: ``(class index, None, description)`` for a class, ``(None, rows, description)`` for
    row numbers (0-based data rows, sorted, unique).

    ``spec``: ``class:NAME`` or ``rows:3,17,42`` explicitly; else a file of row numbers (one table with a ``row``
    column, as ``labelwise select`` writes, or numbers separated by commas, spaces or new lines); else a class name;
    else row numbers ``3,17,42``. A class named like a row number wins: write ``rows:0`` for row 0.
    """
    spec = str(spec).strip()
    classes = [str(c) for c in classes]
    kind, _, value = spec.partition(":") if spec.startswith(("class:", "rows:")) else ("", "", spec)
    is_file = not kind and _is_file(value)
    if kind == "class" or (not kind and value in classes and not is_file):
        if value not in classes:
            raise ParameterError(f"--forget class {value!r} is not one of the model's classes "
                                 f"({_shortlist(classes)}).")
        return classes.index(value), None, f"class {value!r}"
    source = "--forget"
    if is_file:
        source, text = value, _row_file_text(Path(value), encoding)
    elif not kind and not re.fullmatch(r"[0-9,\s]+", value):
        close = difflib.get_close_matches(value, classes, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ParameterError(f"--forget {value!r} is not a class of the model, a file or row numbers like 3,17,42; "
                             f"{hint}classes: {_shortlist(classes)}.")
    else:
        text = value
    tokens = [t for t in re.split(r"[,\s]+", text) if t]
    bad = next((t for t in tokens if not re.fullmatch(r"[0-9]+", t)), None)
    if bad is not None or not tokens:
        raise DataError(f"{source}: expected row numbers (0-based data rows) separated by commas or new lines; "
                        f"found {bad!r}." if bad is not None else f"{source} holds no row numbers.")
    numbers = sorted({int(t) for t in tokens})  # checked before int64 holds them: 10**30 is out of range, no overflow
    if numbers[-1] >= n_rows:
        raise ParameterError(f"{source}: row {numbers[-1]} is out of range; the data has {n_rows} rows "
                             f"(0-{n_rows - 1}).")
    rows = np.array(numbers, dtype=np.int64)
    return None, rows, f"{len(rows)} rows from {source}" if source != "--forget" else f"{len(rows)} rows"


def _is_file(value: str) -> bool:
    """Whether ``value`` names a file; a long list of row numbers is no file name (the OS refuses it as too long)."""
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def _shortlist(names: Sequence[str], n: int = 8) -> str:
    return ", ".join(names[:n]) + (f", ... ({len(names)} in all)" if len(names) > n else "")


def _row_file_text(path: Path, encoding: Optional[str]) -> str:
    """The row numbers in a file: a table's ``row`` column when it has one, else the file's text."""
    if path.suffix.lower() in (".csv", ".tsv", ".parquet", ".jsonl"):
        from labelwise.data.io import read_table

        try:
            frame = read_table(path, encoding=encoding)
        except DataError:
            frame = None
        if frame is not None and "row" in frame.columns:
            return " ".join(str(v) for v in frame["row"].tolist())
    try:
        return path.read_text(encoding=encoding or "utf-8")
    except UnicodeDecodeError:
        raise DataError(f"--forget {path} is not a text file of row numbers.") from None


@dataclass
class UnlearnResult:
    """model: the unlearned :class:`TableClassifier`; before / after: the original's and the unlearned model's
    :class:`~labelwise.learn.unlearn.UnlearningReport` on the same rows; what: the forgotten class or rows in words;
    n_forget, n_remain, n_test: rows forgotten, kept, held out."""

    model: TableClassifier
    method: str
    what: str
    n_forget: int
    n_remain: int
    n_test: int
    before: Any
    after: Any

    def __repr__(self) -> str:
        return (f"UnlearnResult({self.method} forgot {self.what}: forget accuracy {self.before.forget_accuracy:.3f} -> "
                f"{self.after.forget_accuracy:.3f}, test {self.before.test_accuracy:.3f} -> "
                f"{self.after.test_accuracy:.3f})")

    def to_frame(self) -> pd.DataFrame:
        """One row per model (original, unlearned), one column per metric."""
        return pd.DataFrame([self.before.as_dict(), self.after.as_dict()], index=["original", self.method])

    def metrics(self) -> dict:
        """Everything as JSON-ready values."""
        return {"method": self.method, "forgot": self.what, "n_forget": self.n_forget, "n_remain": self.n_remain,
                "n_test": self.n_test, "original": self.before.as_dict(), "unlearned": self.after.as_dict()}


def unlearn(model, data, forget, *, method: str = "laf", epochs: Optional[int] = None,
            temperature: Optional[float] = None, lr_ue: Optional[float] = None, lr_ra: Optional[float] = None,
            r_fraction: float = 0.1, random_state: int = 0, encoding: Optional[str] = None, sep: Optional[str] = None,
            progress: Optional[ProgressCallback] = None) -> UnlearnResult:
    """Make ``model`` (a :class:`TableClassifier` or its file) forget rows of ``data``, the table it was trained on.

    forget: a class name or row numbers as :func:`parse_forget` reads them (a string), or a sequence of row numbers.
    method: one of :data:`METHODS`; ``"laf"`` uses no labels, ``"laf+r"`` refits the head on ``r_fraction`` of the
    remaining rows' labels, the baselines use every label. epochs: LAF's (default 20) or the fine-tuning baselines'
    (default 5); retraining repeats the model's own recipe. temperature: LAF's T (default 20 for a class, 5 for rows,
    the paper's choice). The labels of ``data`` are read for the metrics whatever the method.
    """
    algorithms = _torch()
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; use one of {', '.join(METHODS)}.")
    clf = load_model(model) if isinstance(model, (str, Path)) else model
    table = _read(data, clf.label, clf.inputs, encoding=encoding, sep=sep)
    n = clf.training["n_rows"]
    if len(table) != n:
        raise DataError(f"{table.source} has {len(table)} rows; the model was trained on a table of {n} rows. Give "
                        "the table it was trained on (row numbers refer to it).")
    known = {c: i for i, c in enumerate(clf.classes)}
    unknown = sorted(set(map(str, table.labels.classes)) - set(known))
    if unknown:
        raise DataError(f"{table.source} has labels the model does not know ({_shortlist(unknown)}): give the table "
                        "it was trained on.")
    y = np.array([known[str(c)] for c in np.asarray(table.labels.classes, dtype=object)[table.labels.codes]])
    held = np.zeros(n, bool)
    held[clf.heldout_rows] = True
    if isinstance(forget, str):
        cls, rows, what = parse_forget(forget, clf.classes, n, encoding=encoding)
    else:
        rows = np.unique(np.asarray(list(forget), dtype=np.int64))
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            raise ParameterError(f"row numbers must be in 0-{n - 1}; got {rows[0] if rows[0] < 0 else rows[-1]}.")
        cls, what = None, f"{len(rows)} rows"
    f = np.zeros(n, bool)
    if cls is not None:
        f[(y == cls) & ~held] = True
    else:
        f[rows] = True
        if (f & held).any():
            bad = np.flatnonzero(f & held)
            raise ParameterError(f"rows {', '.join(map(str, bad[:5]))}{' ...' if len(bad) > 5 else ''} were held out "
                                 "when the model was trained (it never learned them): leave them out of --forget.")
    r = ~f & ~held
    if f.sum() == 0:
        raise ParameterError(f"nothing to forget: {what} has no training rows.")
    if r.sum() < 5 or held.sum() < 5:
        raise ParameterError(f"forgetting {what} leaves {int(r.sum())} training rows; unlearning needs at least 5 "
                             "remaining and 5 held-out rows.")
    X = clf.features(table)
    Xf, yf, Xr, yr, Xt, yt = X[f], y[f], X[r], y[r], X[held], y[held]
    gone = [cls] if cls is not None else None
    net = clf.model
    before = algorithms.unlearning_report(net, Xr, yr, Xf, yf, Xt, yt, forgotten_classes=gone,
                                          random_state=random_state)
    start = time.perf_counter()
    laf_kw = {k: v for k, v in {"epochs": epochs, "lr_ue": lr_ue, "lr_ra": lr_ra}.items() if v is not None}
    T = temperature if temperature is not None else (20.0 if cls is not None else 5.0)
    few_epochs = epochs if epochs is not None else 5
    if method in ("laf", "laf+r"):
        laf = algorithms.LabelAgnosticForgetting(temperature=T, random_state=random_state, **laf_kw)
        new = laf.fit_transform(net, Xf, Xr, progress=progress)
        if method == "laf+r":
            rng = np.random.default_rng(random_state)
            few = rng.choice(len(Xr), max(1, int(round(r_fraction * len(Xr)))), replace=False)
            new = laf.refit_head(new, Xr[few], yr[few])
    elif method == "retrain":
        t = clf.training
        new = algorithms.retrain(net, Xr, yr, epochs=t["epochs"], lr=t["lr"], batch_size=t["batch_size"],
                                 random_state=random_state, progress=progress)
    elif method == "finetune":
        new = algorithms.finetune(net, Xr, yr, epochs=few_epochs, random_state=random_state, progress=progress)
    elif method == "gradient_ascent":
        new = algorithms.gradient_ascent(net, Xf, yf, epochs=few_epochs, random_state=random_state, progress=progress)
    elif method == "random_labels":
        new = algorithms.random_labels(net, Xf, yf, Xr, yr, len(clf.classes), epochs=few_epochs,
                                       random_state=random_state, progress=progress)
    else:
        new = algorithms.pseudo_label_finetune(net, Xr, epochs=few_epochs, random_state=random_state,
                                               progress=progress)
    seconds = time.perf_counter() - start
    after = algorithms.unlearning_report(new, Xr, yr, Xf, yf, Xt, yt, forgotten_classes=gone, seconds=seconds,
                                         random_state=random_state)
    out = copy.copy(clf)
    out.model = new
    out.history = list(clf.history) + [{"method": method, "forgot": "a class" if cls is not None else "rows",
                                        "n_rows": int(f.sum())}]
    return UnlearnResult(model=out, method=method, what=what, n_forget=int(f.sum()), n_remain=int(r.sum()),
                         n_test=int(held.sum()), before=before, after=after)
