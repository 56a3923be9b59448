"""Tabular features: a DataFrame -> one dense float32 matrix.

- numeric columns (ints, floats, nullable ``Int64``/``Float64``): missing and infinite values replaced by the
  column's median, then standardised to mean 0 and standard deviation 1 (population std; a constant column
  becomes 0);
- categorical columns (``object``, string, ``category``, ``bool``): one-hot, with missing values as a category
  of their own (``"<missing>"``), categories rarer than ``min_frequency`` or beyond the ``max_categories - 1``
  most frequent grouped into one ``infrequent`` column, and a value unseen at fit time encoded in that
  ``infrequent`` column when there is one, else as all zeros.

Columns that carry nothing usable are left out and listed in ``dropped_columns_`` with the reason: entirely
missing, datetimes/timedeltas/other types (convert them to numbers first), and text columns whose every value
is different (identifiers or free text: use :class:`TextEncoder` or :class:`TfidfEncoder` for the latter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import DataError

__all__ = ["TabularEncoder", "MISSING"]

#: The category that stands for a missing value.
MISSING = "<missing>"
_MIN_ROWS_FOR_ID_CHECK = 20


def _is_categorical(s: pd.Series) -> bool:
    return bool(
        pd.api.types.is_bool_dtype(s.dtype)
        or isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or pd.api.types.is_string_dtype(s.dtype)
    )


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))


def _numeric_values(s: pd.Series) -> np.ndarray:
    """``(n,) float64`` with NaN for missing and infinite values."""
    values = s.to_numpy(dtype="float64", na_value=np.nan, copy=True)  # pandas 3 may hand out a read-only view
    values[~np.isfinite(values)] = np.nan
    return values


def _category_values(s: pd.Series) -> np.ndarray:
    """``(n,) object`` of strings, missing values as :data:`MISSING`."""
    missing = s.isna().to_numpy()
    values = np.array([str(v) for v in s.astype(object).to_numpy()], dtype=object)
    values[missing] = MISSING
    return values


def _column_equals_category(feature: str, category: Any) -> str:
    """One-hot column name ``"column=category"`` (a module-level function, so a fitted encoder pickles)."""
    return f"{feature}={category}"


class TabularEncoder(TransformerMixin, BaseEstimator):
    """DataFrame ``(n rows)`` -> ``(n, d) float32``: numeric columns standardised, categorical ones one-hot.

    Parameters
    ----------
    columns:
        Columns to use; ``None``: all of them (pass the table without its label column).
    max_categories:
        At most this many one-hot columns per categorical column (the rarest grouped as ``infrequent``).
    min_frequency:
        Categories seen fewer times (int) or in a smaller fraction of rows (float) are grouped too; ``None``: off.

    Learned: ``numeric_columns_``, ``categorical_columns_``, ``dropped_columns_`` (name -> reason),
    ``medians_``, ``means_``, ``scales_`` (``(n_numeric,) float64``), ``onehot_`` (the fitted OneHotEncoder),
    ``feature_names_out_: (d,) object`` — numeric columns by name, then ``"column=category"``
    (``"column=infrequent_sklearn"`` for the group).
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        max_categories: int | None = 50,
        min_frequency: int | float | None = None,
    ):
        self.columns = columns
        self.max_categories = max_categories
        self.min_frequency = min_frequency

    # -- validation ---------------------------------------------------------------------------------------------

    def _select(self, frame: Any, what: str) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"TabularEncoder.{what} takes a pandas DataFrame, got {type(frame).__name__}.")
        if self.columns is None:
            return frame
        wanted = list(self.columns)
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise DataError(
                f"Columns {absent} are not in the table (it has {list(frame.columns)}). Check `columns=`."
            )
        return frame[wanted]

    # -- fit / transform ----------------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "TabularEncoder":
        """Learn medians, means, scales and categories from ``frame``."""
        table = self._select(frame, "fit")
        if len(table) == 0:
            raise DataError("TabularEncoder.fit needs at least one row; the table is empty.")
        if table.columns.duplicated().any():
            dupes = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
            raise DataError(f"The table has duplicate column names {dupes}; rename them first.")

        numeric, categorical, dropped = [], [], {}
        for name in table.columns:
            s = table[name]
            if s.isna().all():
                dropped[name] = "every value is missing"
            elif _is_numeric(s):
                if np.isnan(_numeric_values(s)).all():
                    dropped[name] = "every value is missing or infinite"
                else:
                    numeric.append(name)
            elif _is_categorical(s):
                n_unique = s.nunique(dropna=True)
                if (
                    not pd.api.types.is_bool_dtype(s.dtype)
                    and len(s) >= _MIN_ROWS_FOR_ID_CHECK
                    and n_unique == s.notna().sum()
                ):
                    dropped[name] = "every value is different (an identifier or free text?)"
                else:
                    categorical.append(name)
            else:
                dropped[name] = f"dtype {s.dtype} is neither numeric nor categorical (convert it to numbers first)"

        if not numeric and not categorical:
            reasons = "; ".join(f"{c!r}: {r}" for c, r in dropped.items()) or "the table has no columns"
            raise DataError(f"No usable feature columns: {reasons}.")

        self.numeric_columns_ = numeric
        self.categorical_columns_ = categorical
        self.dropped_columns_ = dropped

        if numeric:
            values = np.column_stack([_numeric_values(table[c]) for c in numeric])
            medians = np.nanmedian(values, axis=0)
            values = np.where(np.isnan(values), medians, values)
            scales = values.std(axis=0)
            self.medians_ = medians
            self.means_ = values.mean(axis=0)
            self.scales_ = np.where(scales > 0, scales, 1.0)
        else:
            self.medians_ = self.means_ = self.scales_ = np.zeros(0)

        if categorical:
            self.onehot_ = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=self.max_categories,
                min_frequency=self.min_frequency,
                sparse_output=False,
                dtype=np.float32,
                feature_name_combiner=_column_equals_category,
            )
            self.onehot_.fit(np.column_stack([_category_values(table[c]) for c in categorical]))
            cat_names = list(self.onehot_.get_feature_names_out([str(c) for c in categorical]))
        else:
            self.onehot_ = None
            cat_names = []
        self.feature_names_out_ = np.array([str(c) for c in numeric] + cat_names, dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``frame`` with the fitted columns (others are ignored) -> ``(n, d) float32``."""
        check_is_fitted(self, "feature_names_out_")
        table = self._select(frame, "transform")
        needed = self.numeric_columns_ + self.categorical_columns_
        absent = [c for c in needed if c not in table.columns]
        if absent:
            raise DataError(f"Columns {absent} were used in fit but are not in this table; add them back.")
        parts = []
        if self.numeric_columns_:
            values = np.column_stack([self._numeric(table[c], c) for c in self.numeric_columns_])
            values = np.where(np.isnan(values), self.medians_, values)
            parts.append(((values - self.means_) / self.scales_).astype(np.float32))
        if self.onehot_ is not None:
            parts.append(self.onehot_.transform(np.column_stack([_category_values(table[c]) for c in self.categorical_columns_])))
        out = np.hstack(parts) if len(parts) > 1 else parts[0]
        return np.ascontiguousarray(out, dtype=np.float32)

    @staticmethod
    def _numeric(s: pd.Series, name: Any) -> np.ndarray:
        if _is_numeric(s) or s.isna().all():
            return _numeric_values(s)
        converted = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & converted.isna()
        if bad.any():
            row = s.index[bad.to_numpy().argmax()]
            raise DataError(
                f"Column {name!r} was numeric in fit but has the non-numeric value {s[row]!r} at row {row!r}; "
                "clean it or fit again on this table."
            )
        return _numeric_values(converted)

    def fit_transform(self, frame: pd.DataFrame, y: Any = None, **fit_params: Any) -> np.ndarray:
        """``fit(frame)`` then ``transform(frame)``: ``(n, d) float32``."""
        return self.fit(frame).transform(frame)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Name of each output column: ``(d,) object``."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_
