"""AuditResult: what an audit found, per row, per class and for the whole table; ``save(dir)`` writes it into a
folder and ``AuditResult.load(dir)``, the only reader of that folder, gives it back."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.audit.checks import AuditChecks
from labelwise.audit.label_errors import AUDIT_FILTER, NoiseEstimate
from labelwise.data.atomic import atomic_path, write_text_atomic
from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError

ISSUE_COLUMNS = ["row", "given_label", "suggested_label", "label_quality", "is_label_issue"]
FORMAT_VERSION = 2  # of the audit folder; 1 (no arrays.npz / pred_probs.npy) cannot be loaded
ARRAYS_FILE = "arrays.npz"
PRED_PROBS_FILE = "pred_probs.npy"
_LOADED_FILES = ("summary.json", ARRAYS_FILE, PRED_PROBS_FILE, "issues.parquet")


@dataclass(repr=False)
class AuditResult:
    """The outcome of :func:`labelwise.audit_dataset`.

    Per row (n = rows audited; ``row_ids`` maps them back to the input's 0-based rows):
        given:        (n,) int class index, or (n, k) bool for multi-label
        suggested:    (n,) int argmax class, or (n, k) bool (probability >= 0.5) for multi-label
        label_quality:(n,) float in [0, 1], lower = more likely wrong
        is_issue:     (n,) bool, flagged by confident learning
        pred_probs:   (n, k) float, the out-of-sample probabilities used
    For the table: ``noise`` (confident joint, noise matrices, priors, estimated error rate), ``classes``, and
    ``checks``: the other checks' typed results (:class:`~labelwise.audit.checks.AuditChecks`: per-row arrays such
    as ``checks.outliers.is_outlier_issue`` and a summary each; ``checks.why_not(name)`` says why one did not run).
    ``classes_too_small``: classes with a single row, whose labels no model could check. ``source_path``: the
    audited file, resolved, when it was a file.
    """

    classes: list[str]
    row_ids: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    label_quality: np.ndarray
    is_issue: np.ndarray
    pred_probs: np.ndarray
    noise: Optional[NoiseEstimate]
    label_column: str = "label"
    multi_label: bool = False
    filter_by: str = AUDIT_FILTER
    quality_method: str = "normalized_margin"  # score_of(AUDIT_FILTER)
    source: str = "<DataFrame>"
    source_path: Optional[str] = None
    n_input_rows: Optional[int] = None
    texts: Optional[list[str]] = None
    settings: dict = field(default_factory=dict)
    checks: AuditChecks = field(default_factory=AuditChecks)
    classes_too_small: list[str] = field(default_factory=list)

    # ---- summaries ---------------------------------------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        return int(self.row_ids.shape[0])

    @property
    def n_issues(self) -> int:
        return int(self.is_issue.sum())

    @property
    def error_rate(self) -> float:
        """Estimated fraction of wrong labels: the off-diagonal mass of the calibrated confident joint
        (single-label), else the flagged fraction."""
        if self.noise is not None:
            return self.noise.error_rate
        return self.n_issues / max(self.n_rows, 1)

    @property
    def error_rate_interval(self) -> Optional[tuple[float, float]]:
        """(lower, upper) bootstrap interval of :attr:`error_rate` (95% by default), when the ``error_interval``
        check ran."""
        interval = self.checks.error_interval
        return (interval.summary.lower, interval.summary.upper) if interval is not None else None

    def row_issues(self) -> dict[str, np.ndarray]:
        """Every per-row issue flag by issue type: ``label`` (confident learning), then ``duplicate``, ``outlier``
        ... for the checks that ran and flag rows. Each is (n,) bool."""
        flags = {"label": self.is_issue}
        flags.update((r.issue, r.is_issue()) for r in self.checks.results() if r.issue)
        return flags

    def label_names(self, codes: np.ndarray) -> list[list[str]]:
        """Class names per row: ``codes`` (n,) int -> one name each, or (n, k) bool -> the names of the set."""
        if self.multi_label:
            return [[self.classes[j] for j in np.flatnonzero(row)] for row in codes]
        return [[self.classes[c]] for c in codes]

    @property
    def label_delimiter(self) -> str:
        """What joins several labels in one cell of issues.csv: the table's ``--label-delimiter``, else ``|``."""
        return self.settings.get("label_delimiter") or "|"

    def _names(self, codes: np.ndarray) -> list[str]:
        return [self.label_delimiter.join(names) for names in self.label_names(codes)]

    def per_class(self) -> pd.DataFrame:
        """One row per class: given count, flagged count and share, estimated noise rate, estimated true count
        (single-label); multi-label: ``n_flagged`` counts the flagged rows that carry the class, ``n_spurious`` the
        rows that carry it but probably should not, ``n_missing`` the rows that lack it but probably should not."""
        k = len(self.classes)
        if self.multi_label:
            given_counts = self.given.sum(axis=0)
            flagged = (self.given & self.is_issue[:, None]).sum(axis=0)
        else:
            given_counts = np.bincount(self.given, minlength=k)
            flagged = np.bincount(self.given[self.is_issue], minlength=k)
        frame = pd.DataFrame(
            {
                "class": self.classes,
                "n_given": given_counts.astype(int),
                "n_flagged": flagged.astype(int),
                "flagged_share": flagged / np.maximum(given_counts, 1),
            }
        )
        if self.checks.multilabel is not None:
            frame["n_spurious"] = self.checks.multilabel.summary.per_class.spurious.astype(int)
            frame["n_missing"] = self.checks.multilabel.summary.per_class.missing.astype(int)
        if self.noise is not None:
            # P(true != k | given = k) and the estimated number of rows truly of class k
            frame["estimated_noise_rate"] = 1.0 - np.diag(self.noise.inverse_noise_matrix)
            frame["estimated_true_count"] = np.round(self.noise.prior_true * self.n_rows).astype(int)
        return frame

    def confused_pairs(self, top: int = 10) -> pd.DataFrame:
        """The most frequent (given, probably true) class pairs off the diagonal of the confident joint."""
        if self.noise is None:
            return pd.DataFrame(columns=["given_label", "suggested_label", "count"])
        joint = self.noise.confident_joint.copy()
        np.fill_diagonal(joint, 0)
        order = np.argsort(-joint, axis=None, kind="stable")[:top]
        given, true = np.unravel_index(order, joint.shape)
        keep = joint[given, true] > 0
        return pd.DataFrame(
            {
                "given_label": [self.classes[i] for i in given[keep]],
                "suggested_label": [self.classes[j] for j in true[keep]],
                "count": joint[given, true][keep].astype(int),
            }
        )

    def worst(self, n: int = 10) -> pd.DataFrame:
        """The n rows with the lowest label quality (flagged or not), worst first."""
        frame = self.to_frame(include_unaudited=False)
        return frame.sort_values("label_quality", kind="stable").head(n)

    # ---- tables and files --------------------------------------------------------------------------------------

    def to_frame(self, *, include_unaudited: bool = True) -> pd.DataFrame:
        """One row per input row: ``row, given_label, suggested_label, label_quality, is_label_issue`` plus
        ``suggested_probability``, each check's per-row columns (multi-label first: ``missing_labels`` and
        ``spurious_labels``, the labels a row probably lacks or should not have, joined like ``given_label`` by
        :attr:`label_delimiter`) and ``text`` (when the audit used text). Rows that were not audited (dropped
        for a missing label) appear with empty fields and ``is_label_issue = False`` unless
        ``include_unaudited=False``.
        """
        if self.multi_label:
            suggested_prob = np.where(self.suggested, self.pred_probs, 1 - self.pred_probs).min(axis=1)
        else:
            suggested_prob = self.pred_probs[np.arange(self.n_rows), self.suggested]
        frame = pd.DataFrame(
            {
                "row": self.row_ids.astype(np.int64),
                "given_label": self._names(self.given),
                "suggested_label": self._names(self.suggested),
                "label_quality": self.label_quality.astype(np.float64),
                "is_label_issue": self.is_issue.astype(bool),
                "suggested_probability": suggested_prob.astype(np.float64),
            }
        )
        for check in self.checks.results():
            for name, values in check.columns().items():
                frame[name] = values
        if self.texts is not None:
            frame["text"] = self.texts
        if include_unaudited and self.n_input_rows is not None and self.n_input_rows > self.n_rows:
            missing = np.setdiff1d(np.arange(self.n_input_rows), self.row_ids)
            filler = pd.DataFrame({"row": missing, "is_label_issue": False})
            frame = pd.concat([frame, filler], ignore_index=True).sort_values("row", kind="stable")
            frame = frame.reset_index(drop=True)
        return frame

    def summary(self) -> dict:
        """Every headline number as plain JSON-serialisable values."""
        out = {
            "source": self.source,
            "label_column": self.label_column,
            "rows_audited": self.n_rows,
            "rows_in_input": self.n_input_rows if self.n_input_rows is not None else self.n_rows,
            "classes": len(self.classes),
            "multi_label": self.multi_label,
            "filter_by": self.filter_by,
            "quality_method": self.quality_method,
            "flagged": self.n_issues,
            "flagged_share": self.n_issues / max(self.n_rows, 1),
            "estimated_error_rate": self.error_rate,
            "estimated_error_rate_interval": list(self.error_rate_interval) if self.error_rate_interval else None,
            "settings": self.settings,
        }
        checks = self.checks
        if checks.duplicates is not None:
            out["duplicates"] = dataclasses.asdict(checks.duplicates.summary)
        if checks.outliers is not None:
            out["outliers"] = checks.outliers.summary.n_outliers
        if checks.balance is not None:
            out["imbalance_ratio"] = checks.balance.summary.imbalance_ratio
        if checks.shift is not None:
            out["shift"] = checks.shift.summary.verdict
        if checks.llm_judge is not None:
            out["llm_judge"] = dataclasses.asdict(checks.llm_judge.summary)
        out["checks"] = checks.summaries_json()
        if checks.skipped:
            out["skipped_checks"] = checks.skipped_json()
        if self.classes_too_small:
            out["classes_too_small"] = list(self.classes_too_small)
        if not self.multi_label:
            out["accuracy_of_out_of_fold_model"] = float(np.mean(self.suggested == self.given))
        return out

    def save(self, directory) -> Path:
        """Write the audit into ``directory`` (created if needed), each file atomically; returns the directory.

        For people and other tools: ``issues.csv`` and ``issues.parquet`` (one row per input row: the label columns,
        then each check's per-row columns, then ``text``), ``per_class.csv``, ``noise_matrix.csv`` (single-label),
        ``top_suggestions.parquet`` (the model's 5 most probable classes per row) and ``summary.json`` (every
        headline figure, each check's summary, why a check did not run). For :meth:`load`: ``arrays.npz`` (the
        per-row arrays, the noise estimate, the checks' arrays) and ``pred_probs.npy``, with ``summary.json``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.write_arrays(directory)
        with atomic_path(directory / PRED_PROBS_FILE) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(self.pred_probs), allow_pickle=False)
        frame = self.to_frame()
        write_table_atomic(frame, directory / "issues.csv")
        write_table_atomic(frame, directory / "issues.parquet")
        write_table_atomic(self.top_suggestions(), directory / "top_suggestions.parquet")
        self.write_class_tables(directory)
        self.write_summary(directory, has_texts=self.texts is not None)
        return directory

    def write_arrays(self, directory: Path) -> None:
        """``arrays.npz``: the per-row arrays, the noise estimate and the checks' arrays (a part of :meth:`save`)."""
        arrays = {"row_ids": self.row_ids, "given": self.given, "suggested": self.suggested,
                  "label_quality": self.label_quality, "is_issue": self.is_issue}
        if self.noise is not None:
            arrays.update((f"noise.{key}", np.asarray(value)) for key, value in dataclasses.asdict(self.noise).items())
        arrays.update(self.checks.arrays())
        with atomic_path(Path(directory) / ARRAYS_FILE) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    def write_class_tables(self, directory: Path) -> None:
        """``per_class.csv`` and (single-label) ``noise_matrix.csv`` (a part of :meth:`save`)."""
        directory = Path(directory)
        write_table_atomic(self.per_class(), directory / "per_class.csv")
        if self.noise is not None:
            noise = pd.DataFrame(self.noise.noise_matrix, index=self.classes, columns=self.classes)
            noise.index.name = "given \\ true"
            write_table_atomic(noise.reset_index(), directory / "noise_matrix.csv")

    def write_summary(self, directory: Path, *, has_texts: bool) -> None:
        """``summary.json`` (a part of :meth:`save`); has_texts: issues.parquet holds a ``text`` column."""
        summary = dict(self.summary(), format_version=FORMAT_VERSION, class_names=list(self.classes),
                       source_path=self.source_path, has_texts=has_texts)
        write_text_atomic(Path(directory) / "summary.json", json.dumps(summary, indent=2) + "\n")

    @staticmethod
    def saved_in(directory) -> bool:
        """Whether ``directory`` holds an audit that :meth:`load` can read (one written by :meth:`save`)."""
        return all((Path(directory) / name).is_file() for name in _LOADED_FILES)

    @classmethod
    def load(cls, directory) -> "AuditResult":
        """The audit that :meth:`save` wrote into ``directory``: the same arrays, classes, noise estimate, checks'
        results (per-row arrays and summaries) and settings. Raises DataError for a folder that is not one (or was
        written by a labelwise from before this format), or whose files do not belong together."""
        directory = Path(directory)
        missing = [name for name in _LOADED_FILES if not (directory / name).is_file()]
        if missing and (directory / "issues.csv").is_file():
            raise DataError(f"{directory} was written by an earlier labelwise (it lacks {', '.join(missing)}). Run "
                            "`labelwise audit` again with the same --out (review decisions already made are kept).")
        if missing:
            raise DataError(f"{directory} is not an audit folder (it lacks {', '.join(missing)}). Give the folder "
                            "that `labelwise audit DATA --label COL --out DIR` wrote.")
        try:
            summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
            if summary["format_version"] > FORMAT_VERSION:
                raise DataError(f"{directory} was written by a newer labelwise (audit folder format "
                                f"{summary['format_version']}; this one reads {FORMAT_VERSION}). Upgrade labelwise.")
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            pred_probs = np.load(directory / PRED_PROBS_FILE, allow_pickle=False)
            texts = None
            if summary["has_texts"]:
                issues = pd.read_parquet(directory / "issues.parquet", columns=["row", "text"])
                texts = issues.set_index("row")["text"].loc[arrays["row_ids"]].tolist()
            result = cls._from_saved(summary, arrays, pred_probs, texts)
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
            raise DataError(f"The audit in {directory} cannot be read ({type(err).__name__}: {err}). Run the audit "
                            "again with the same --out.") from None
        result._check_shapes(directory)
        return result

    @classmethod
    def _from_saved(cls, summary: dict, arrays: dict, pred_probs: np.ndarray, texts) -> "AuditResult":
        noise = None
        if "noise.confident_joint" in arrays:
            noise = NoiseEstimate(**{f.name: arrays[f"noise.{f.name}"] for f in dataclasses.fields(NoiseEstimate)})
            noise.error_rate = float(noise.error_rate)
        checks = AuditChecks.restore(summary.get("checks", {}), summary.get("skipped_checks", {}),
                                     {k: v for k, v in arrays.items() if "." in k and not k.startswith("noise.")})
        return cls(
            classes=list(summary["class_names"]), row_ids=arrays["row_ids"], given=arrays["given"],
            suggested=arrays["suggested"], label_quality=arrays["label_quality"], is_issue=arrays["is_issue"],
            pred_probs=pred_probs, noise=noise, label_column=summary["label_column"],
            multi_label=summary["multi_label"], filter_by=summary["filter_by"],
            quality_method=summary["quality_method"], source=summary["source"], source_path=summary["source_path"],
            n_input_rows=summary["rows_in_input"], texts=texts, settings=summary["settings"], checks=checks,
            classes_too_small=summary.get("classes_too_small", []),
        )

    def _check_shapes(self, directory: Path) -> None:
        n, k = self.n_rows, len(self.classes)
        per_row = {"given": self.given, "suggested": self.suggested, "label_quality": self.label_quality,
                   "is_issue": self.is_issue, **{name: values for check in self.checks.results()
                                                 for name, values in check.columns().items()}}
        wrong = [name for name, values in per_row.items() if len(values) != n]
        if self.pred_probs.shape != (n, k):
            wrong.append(f"pred_probs {self.pred_probs.shape}, expected {(n, k)}")
        if self.texts is not None and len(self.texts) != n:
            wrong.append("text")
        if wrong:
            raise DataError(f"The files in {directory} do not belong together ({', '.join(wrong)} do not match "
                            f"{n} rows and {k} classes). Run the audit again with the same --out.")

    def top_suggestions(self, k: int = 5, rows: slice = slice(None), pred_probs=None) -> pd.DataFrame:
        """The k most probable classes of each audited row, long format: ``row, rank (1..k), label, probability``.
        rows: a slice of the audited rows (default all); pred_probs: those rows' probabilities when already read."""
        probs = np.asarray(self.pred_probs[rows] if pred_probs is None else pred_probs)
        k = min(k, probs.shape[1])
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return pd.DataFrame({
            "row": np.repeat(self.row_ids[rows].astype(np.int64), k),
            "rank": np.tile(np.arange(1, k + 1), probs.shape[0]),
            "label": [self.classes[j] for j in top.ravel()],
            "probability": np.take_along_axis(probs, top, axis=1).ravel().astype(np.float64),
        })

    def __repr__(self) -> str:
        return (
            f"AuditResult({self.n_rows:,} rows, {len(self.classes)} classes, {self.n_issues:,} flagged "
            f"({self.n_issues / max(self.n_rows, 1):.1%}), estimated label error rate {self.error_rate:.1%})"
        )
