"""The interface every audit check follows, after cleanlab's Datalab issue managers: shared inputs in, a typed
result out.

A check is a small object with a ``name`` and ``run(inputs: CheckInputs) -> CheckResult | Skipped``. Its result is
a dataclass holding

- ``summary``: a dataclass with the check's figures for the whole table;
- per-row arrays, one value per audited row, under fixed names: ``is_<issue>_issue`` (bool) when the check flags
  rows, ``<issue>_score`` and the like. They are the result's attributes and, under the same names, the columns the
  check adds to ``issues.csv``;
- sometimes other arrays (the duplicate pairs).

A check that cannot run returns :class:`Skipped`: which check, why (a :class:`SkipReason`) and a sentence for a
person. :func:`to_json` / :func:`from_json` turn summaries into plain JSON values and back, so that
``AuditResult.save`` and ``AuditResult.load`` keep them exactly.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Protocol, Union

import numpy as np

from labelwise.progress import ProgressCallback, report

if TYPE_CHECKING:
    from labelwise.audit.feature_space import FeatureSpace
    from labelwise.data import LabelledTable

NEIGHBOURS = 10  # neighbours per row, shared by the duplicate and outlier checks
_SVD_DIMS = 128


class SkipReason(str, enum.Enum):
    """Why a check did not run."""

    NO_FEATURES = "no_features"  # duplicates, outliers: nothing to compare rows by
    NO_OTHER_SPLIT = "no_other_split"  # shift: no --compare-to
    MULTI_LABEL = "multi_label"  # shift, error interval: single-label methods
    NOTHING_TO_COMPARE = "nothing_to_compare"  # shift: the other split has no labels and there is no model
    OUT_OF_CORE = "out_of_core"  # columns, error interval, shift: not run by the out-of-core audit


@dataclass(frozen=True)
class Skipped:
    """A check that did not run: ``check`` (its name), ``reason`` and ``message`` (one sentence for a person)."""

    check: str
    reason: SkipReason
    message: str


@dataclass(eq=False)
class CheckInputs:
    """What every check may read. n = audited rows, k = classes.

    table: the audited rows; given: (n,) int, or (n, k) bool for multi-label; pred_probs: (n, k) float, out of
    sample; classes: (k,) names. space: the feature space the model read (None when the user gave probabilities and
    no usable features; ``features_skipped`` then says why); model: the unfitted classifier (None with the user's
    probabilities). other / other_pred_probs: another split to compare with, and its probabilities if the user gave
    them. The neighbour search is done once, on first use, and shared; ``executor`` (a
    :class:`labelwise.scale.executor.Executor`, e.g. on a Ray cluster) runs it when given.
    """

    table: LabelledTable
    given: np.ndarray
    pred_probs: np.ndarray
    classes: list[str]
    multi_label: bool = False
    space: Optional[FeatureSpace] = None
    model: Any = None
    other: Optional[LabelledTable] = None
    other_pred_probs: Optional[np.ndarray] = None
    features_skipped: Optional[str] = None
    random_state: Optional[int] = 0
    progress: Optional[ProgressCallback] = None
    executor: Any = None
    _vectors: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    _neighbours: Optional[tuple] = field(default=None, init=False, repr=False)

    @property
    def n_rows(self) -> int:
        return int(self.pred_probs.shape[0])

    def vectors(self) -> Optional[np.ndarray]:
        """(n, d) float32 dense vectors to compare rows by: the embeddings, or a 128-d SVD of sparse TF-IDF
        features (the fitted SVD is kept on ``space.svd`` so another split can be projected alike); None without
        features."""
        if self._vectors is None and self.space is not None:
            if self.space.dense is not None:
                self._vectors = self.space.dense
            else:
                from sklearn.decomposition import TruncatedSVD

                dims = min(_SVD_DIMS, self.space.X.shape[1] - 1)
                if dims < 1:  # a single TF-IDF term: nothing to compare rows by
                    return None
                self.space.svd = TruncatedSVD(n_components=dims, random_state=self.random_state).fit(self.space.X)
                self._vectors = self.space.svd.transform(self.space.X).astype(np.float32)
        return self._vectors

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices (n, NEIGHBOURS) int, cosine similarities (n, NEIGHBOURS) float) of every row's nearest rows."""
        if self._neighbours is None and self.executor is not None:
            self._neighbours = self.executor.knn(self.vectors(), NEIGHBOURS, random_state=self.random_state,
                                                 progress=self.progress)
        elif self._neighbours is None:
            from labelwise.neighbours import knn

            report(self.progress, "neighbours", 0, 1)
            self._neighbours = knn(self.vectors(), NEIGHBOURS, random_state=self.random_state)
            report(self.progress, "neighbours", 1, 1)
        return self._neighbours

    def no_features(self, check: str) -> Skipped:
        why = "not checked: no features to compare rows by (name --text, --features or --embeddings columns)"
        if self.features_skipped:
            why += f"; {self.features_skipped}"
        return Skipped(check, SkipReason.NO_FEATURES, why)


@dataclass
class CheckResult:
    """Base of every check's result: a dataclass with a ``summary`` and array attributes.

    Subclasses set ``name`` (the check's name, also its attribute on :class:`AuditChecks`), ``issue`` (the issue
    type it flags per row, if any: the result then has an ``is_<issue>_issue`` (n,) bool attribute) and
    ``row_columns`` (the names of its per-row attributes, in the order they are written to ``issues.csv``).
    """

    name: ClassVar[str]
    issue: ClassVar[Optional[str]] = None
    row_columns: ClassVar[tuple[str, ...]] = ()

    def columns(self) -> dict[str, np.ndarray]:
        """The per-row attributes by name: (n,) arrays, one value per audited row."""
        return {name: getattr(self, name) for name in self.row_columns}

    def is_issue(self) -> Optional[np.ndarray]:
        """(n,) bool, the rows this check flags; None for a check that flags no rows."""
        return getattr(self, f"is_{self.issue}_issue") if self.issue else None

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array attribute (per-row or not) by name, to be saved beside the JSON summary."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "summary"}

    @classmethod
    def restore(cls, summary: dict, arrays: dict[str, np.ndarray]):
        """The result from its JSON summary and its arrays, as :meth:`arrays` and :func:`to_json` gave them."""
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls) if f.name != "summary"]
        return cls(summary=from_json(hints["summary"], summary), **{name: arrays[name] for name in names})


class Check(Protocol):
    """One audit check: ``run`` reads the shared inputs and returns its typed result, or :class:`Skipped`."""

    name: ClassVar[str]

    def run(self, inputs: CheckInputs) -> Union[CheckResult, Skipped]: ...


# ---- summaries to JSON and back ---------------------------------------------------------------------------------


def to_json(value):
    """Dataclasses, numpy arrays and scalars, enums, lists and dicts -> plain JSON values (exact for floats)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(kind, value):
    """The inverse of :func:`to_json` for a value of type ``kind`` (a type hint: a dataclass, ``np.ndarray``,
    ``Optional[...]``, ``list[...]``, ``tuple[...]``, an enum or a plain type)."""
    if value is None:
        return None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Union or origin is types.UnionType:
        return from_json(next(a for a in args if a is not type(None)), value)
    if kind is np.ndarray:
        return np.asarray(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: from_json(hints[f.name], value[f.name]) for f in dataclasses.fields(kind)
                       if f.init and f.name in value})
    if origin is list:
        return [from_json(args[0], v) for v in value]
    if origin is tuple:
        return tuple(from_json(args[0], v) for v in value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if kind is float:
        return float(value)
    return value
